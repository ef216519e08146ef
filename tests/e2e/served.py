"""Run ``bentoml serve`` of the service on a free loopback port (tests and benchmarks)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import requests

REPO = Path(__file__).resolve().parents[2]
BENTOML = Path(sys.executable).with_name("bentoml")
# What BentoML logs when a service's __init__ raises. It then starts the worker again, for ever,
# and the server never exits: the error in the log is the only sign that start-up has failed.
SERVICE_INIT_FAILED = "Initializing service error"
# The settings the suite's shared server (``service`` in tests/conftest.py) adds to the defaults: they
# act only on jobs that name a ``webhook_url`` or a photo URL, so one server serves the webhook and
# photo URL tests and the rest. Eight workers let concurrent jobs meet in the runners' batches
# (test_batching.py).
WEBHOOK_SECRET = "test-secret-7f3a"
IMAGE_URL_TIMEOUT_SECONDS = 3
SHARED_SETTINGS = {
    "TRYON_WEBHOOK_SECRET": WEBHOOK_SECRET,
    "TRYON_WEBHOOK_ALLOW_PRIVATE": "true",  # the receivers are on loopback
    "TRYON_IMAGE_URL_ALLOW_PRIVATE": "true",  # so is the photo server (tests/e2e/test_photo_urls.py)
    "TRYON_IMAGE_URL_TIMEOUT_SECONDS": str(IMAGE_URL_TIMEOUT_SECONDS),
    "TRYON_WORKERS": "8",
}
# The guarded server (``guarded_service`` in tests/e2e/conftest.py): a key that is not ASCII, a queue
# of two places, one worker.
GUARDED_KEY = "clé-ключ-🔑"
GUARDED_AUTH = {"Authorization": b"Bearer " + GUARDED_KEY.encode("utf-8")}  # as curl sends it from a UTF-8 shell
GUARDED_MAX_QUEUE = 2
# The shared FASHN server (``fashn_service`` in tests/e2e/conftest.py): five workers for the load test's
# five concurrent jobs; its log at INFO (one line per sampling run); a job time limit that a batch of
# five 50-step jobs on a busy CPU cannot reach (3 minutes were seen on 2 shared cores).
FASHN_SETTINGS = {
    "TRYON_ENGINE": "fashn-vton",
    "TRYON_WORKERS": "5",
    "TRYON_LOG_LEVEL": "INFO",
    "TRYON_JOB_TIMEOUT_SECONDS": "1800",
}
# Every server a test started and has not stopped: ``tests/conftest.py`` stops what is left when the
# run ends, interrupted or not (a test that raises before its own ``stop()`` leaves no server behind).
RUNNING: set = set()


def stop_every_server() -> None:
    """Stop every server still in ``RUNNING`` (ServedService, ServedRunner)."""
    for server in list(RUNNING):
        server.stop()


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports: held together while they are chosen, since the
    kernel may hand out a port again as soon as it is closed."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class ServedService:
    """``bentoml serve`` of the service (or of a built Bento) on a free loopback port."""

    def __init__(
        self,
        workdir: Path,
        *,
        target: str = "service:TryOnService",
        cwd: Path = REPO,
        cpus: str | None = None,
        **settings: str,
    ) -> None:
        """``target`` is what ``bentoml serve`` serves (a built Bento's tag, say), run from ``cwd``;
        ``cpus`` pins every process of the server to those cores (``taskset -c`` syntax)."""
        self.target = target
        self.cwd = cwd
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"server-{self.port}.log"
        self.env = {
            **os.environ,
            "BENTOML_HOME": str(workdir / "bentoml"),
            "TRYON_DATA_DIR": str(workdir / "data"),
            **settings,
        }
        self._pin = ["taskset", "-c", cpus] if cpus else []
        self._process: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> "ServedService":
        """Serve, and return once the models are loaded; raise ``RuntimeError`` with the log as soon
        as the server exits or a service fails to initialise, or after ``timeout`` seconds."""
        log = self.log_path.open("ab")
        log_start = log.tell()
        self._process = subprocess.Popen(
            [*self._pin, str(BENTOML), "serve", self.target, "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        RUNNING.add(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            if self._init_failed(since=log_start):
                raise RuntimeError(f"a service failed to start:\n{self.log()}")
            try:
                health = requests.get(f"{self.url}/health", timeout=2).json()
                if health.get("models_loaded") or health.get("ready"):  # "ready": without the key
                    return self
            except (requests.ConnectionError, requests.Timeout, ValueError):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"server not ready after {timeout}s:\n{self.log()}")

    def start_up_error(self, timeout: float = 120) -> str:
        """The log of a start that must fail (a service's init raising); AssertionError if it serves."""
        try:
            self.start(timeout)
        except RuntimeError as failure:
            return str(failure)
        finally:
            self.stop()
        raise AssertionError("the service started, but it was expected to fail")

    def kill(self) -> None:
        """SIGKILL every process of the server at once, as a crash or an OOM kill of the pod would.

        BentoML starts each service worker in a session of its own, so the whole process tree is
        collected first: killing the arbiter's group alone would leave its workers running.
        """
        processes = self._tree()
        for process in processes:
            process.kill()
        psutil.wait_procs(processes, timeout=30)
        self._process.wait(timeout=30)
        RUNNING.discard(self)

    def stop(self) -> None:
        """A graceful stop (SIGTERM), then SIGKILL for anything of the server still running."""
        RUNNING.discard(self)
        if self._process is None or self._process.poll() is not None:
            return
        processes = self._tree()
        os.killpg(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        _, alive = psutil.wait_procs(processes, timeout=10)
        for process in alive:
            process.kill()
        psutil.wait_procs(alive, timeout=10)
        self._process.wait(timeout=10)

    def _tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self._process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _init_failed(self, *, since: int) -> bool:
        with self.log_path.open("rb") as log:
            log.seek(since)
            return SERVICE_INIT_FAILED.encode() in log.read()

    def log(self, last_chars: int = 5000) -> str:
        return self.log_path.read_text(errors="replace")[-last_chars:]


def make_test_models(server: ServedService, *names: str) -> None:
    """Build the tiny test models ``names`` (an engine's, say) in ``server``'s model store (before ``start``)."""
    subprocess.run(
        [sys.executable, "model_store_scripts/make_test_models.py", *names],
        cwd=REPO, env=server.env, check=True, capture_output=True,
    )  # fmt: skip
