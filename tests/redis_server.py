"""A real ``redis-server`` for tests: a free loopback port, a temporary directory, append-only file.

    with RedisServer() as server:
        store = RedisJobStore(server.url)
        server.restart()   # same port and directory: the data comes back from the AOF

The server runs in the foreground as a child process (not ``--daemonize``), so the tests own its pid
and it cannot outlive them by accident.
"""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis


class RedisServerNotInstalled(RuntimeError):
    pass


class RedisServer:
    def __init__(self, directory: Path | None = None, port: int | None = None) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RedisServerNotInstalled(
                "redis-server is not on PATH; the Redis job store tests need a real server "
                "(Debian/Ubuntu: apt-get install -y redis-server)"
            )
        self._executable = executable
        self._own_directory = directory is None
        self.directory = Path(tempfile.mkdtemp(prefix="tryon-redis-")) if directory is None else directory
        self.port = port or _free_port()
        self._process: subprocess.Popen | None = None
        atexit.register(self.close)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10) -> None:
        """Start the server (again) on this port and directory and wait until it answers PING."""
        if self.running:
            return
        log = open(self.directory / "redis.log", "ab")
        self._process = subprocess.Popen(
            [
                self._executable,
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--dir", str(self.directory),
                "--appendonly", "yes",
                "--save", "",  # the AOF is the only persistence: no RDB snapshots
                "--daemonize", "no",
                "--pidfile", str(self.directory / "r.pid"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self._process.poll() is not None:
                    raise RuntimeError(
                        f"redis-server exited with {self._process.returncode}:\n{self.log_tail()}"
                    )
                try:
                    if client.ping():
                        return
                except (redis.ConnectionError, redis.BusyLoadingError):
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"redis-server did not answer PING in {timeout} s:\n{self.log_tail()}")
                time.sleep(0.02)
        finally:
            client.close()

    def stop(self, timeout: float = 10) -> None:
        """Shut down cleanly (SIGTERM: Redis flushes its AOF and exits)."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        if self._own_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        path = self.directory / "redis.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> "RedisServer":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
