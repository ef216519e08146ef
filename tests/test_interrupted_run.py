"""A test run stopped by SIGTERM (CI cancelling a job) stops every server it started, as Ctrl+C does."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[1]

# Starts the three kinds of server the suite uses, then waits to be killed. The served service is
# started in the test's body with no ``finally``: the worst case, which the run's own teardown must
# still catch.
MODULE = '''
import time
from pathlib import Path

from tests.e2e.served import ServedService


def test_waits_with_every_kind_of_server_up(tmp_path, redis_server, s3_server):
    ServedService(tmp_path / "served").start()
    Path({ready!r}).write_text("up")
    time.sleep(600)
'''


@pytest.mark.e2e
def test_sigterm_to_pytest_leaves_no_server_running(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    module = tmp_path / "test_waiting.py"
    module.write_text(MODULE.format(ready=str(ready)))
    log = (tmp_path / "pytest.log").open("wb")
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-q", str(module)],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    started: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 180
        while not ready.exists():
            assert run.poll() is None, (tmp_path / "pytest.log").read_text()
            assert time.monotonic() < deadline, "the inner run never got its servers up"
            time.sleep(0.5)
        started = psutil.Process(run.pid).children(recursive=True)
        names = " ".join(" ".join(process.cmdline()) for process in started)
        assert "bentoml" in names and "redis-server" in names and "weed" in names, names

        run.send_signal(signal.SIGTERM)
        run.wait(timeout=90)
        _, survivors = psutil.wait_procs(started, timeout=10)
    finally:  # whatever the outcome, this test leaves nothing running either
        run.kill()
        run.wait()
        for process in started:
            if process.is_running():
                process.kill()

    assert survivors == [], [process.cmdline() for process in survivors]
