"""``bentoml serve`` of one runner service on a free loopback port (tests and benchmarks)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.e2e.served import RUNNING, free_port

REPO = Path(__file__).resolve().parents[2]
BENTOML = Path(sys.executable).with_name("bentoml")


class ServedRunner:
    """``bentoml serve SERVICE`` (e.g. ``tryon.engines.classical.runners:ParsingRunner``) in its own process group."""

    def __init__(self, service: str, log_dir: Path, env: dict[str, str]) -> None:
        self.service = service
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{service.replace(':', '_')}-{self.port}.log"
        self.env = {**os.environ, **env}
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> "ServedRunner":
        return self if self._process is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 180) -> "ServedRunner":
        self._spawn()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.service} exited early:\n{self.log()}")
            try:
                if requests.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{self.service} not ready after {timeout}s:\n{self.log()}")

    def _spawn(self) -> None:
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [str(BENTOML), "serve", self.service, "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        RUNNING.add(self)

    def stop(self) -> None:
        """SIGTERM the server, then SIGKILL it and every process it started (the workers run in their
        own sessions, so they are found by parentage, not by process group)."""
        import psutil

        RUNNING.discard(self)
        if self._process is None or self._process.poll() is not None:
            return
        children = psutil.Process(self._process.pid).children(recursive=True)
        os.killpg(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=20)
        _, alive = psutil.wait_procs(children, timeout=10)
        for child in alive:
            child.kill()

    def client(self, service: object, timeout: float = 600):
        """An async client of ``service`` (the served class). Use it as ``async with``."""
        from _bentoml_impl.client.http import AsyncHTTPClient

        return AsyncHTTPClient(
            self.url,
            service=service,
            timeout=timeout,
            server_ready_timeout=0,
        )

    def wait_for_log(self, text: str, timeout: float = 60) -> bool:
        """Start the server without waiting for it to be ready; True once ``text`` shows in its log."""
        if self._process is None:
            self.log_path.touch()
            self._spawn()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log(100_000):
                return True
            time.sleep(0.3)
        return False

    def log(self, last_chars: int = 5000) -> str:
        return self.log_path.read_text(errors="replace")[-last_chars:]
