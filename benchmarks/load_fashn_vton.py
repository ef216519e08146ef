"""The FASHN VTON engine under load: long concurrent jobs, then a burst, each job sampled exactly once.

    python benchmarks/load_fashn_vton.py [--concurrent 8] [--jobs 8] [--burst 20] [--steps 50]

Serves the service with ``bentoml serve`` on 127.0.0.1, TRYON_ENGINE=fashn-vton and the tiny test
model (``model_store_scripts/make_test_models.py fashn-vton``), with ``--concurrent`` job workers.
First ``--concurrent`` clients each submit a job of ``--steps`` denoising steps, poll it every 0.5 s
until it ends and submit again, ``--jobs`` in all; then ``--burst`` clients submit at the same
instant (more than the workers: the rest queue). For each round it prints completed / failed, the
sampling runs per job (the runner logs one line per run: exactly 1 each is the target), the time to
result (p50, slowest) and the peak memory of the server's processes (sampled every 0.5 s).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.load import GARMENT, PERSON, Outcome, Upload, drive, percentile  # noqa: E402
from tests.e2e.served import ServedService, make_test_models  # noqa: E402
from tests.e2e.test_fashn_vton_load import sampling_runs  # noqa: E402

# On a CPU a batch of eight 50-step jobs takes minutes, and the burst's last jobs wait for two
# batches before theirs: the default 300 s job time limit (and the client's 600 s) would cut them.
RESULT_TIMEOUT_SECONDS = 3600
RUNNER_CALL = re.compile(r"service:FashnVtonRunner:\d+\].*?path=/(sample|progress),")


class PeakMemory:
    """The largest total resident memory of a server's processes, sampled every ``interval`` seconds."""

    def __init__(self, server: ServedService, interval: float = 0.5) -> None:
        self._root = psutil.Process(server._process.pid)
        self._interval = interval
        self._stop = threading.Event()
        self.peak_bytes = 0
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            total = 0
            for process in [self._root, *self._root.children(recursive=True)]:
                try:
                    total += process.memory_info().rss
                except psutil.NoSuchProcess:
                    pass
            self.peak_bytes = max(self.peak_bytes, total)


def runner_calls(server: ServedService) -> Counter:
    """The runner's ``sample`` and ``progress`` calls so far (BentoML logs each request)."""
    return Counter(RUNNER_CALL.findall(server.log(10**9)))


def report(name: str, outcome: Outcome, server: ServedService, memory: PeakMemory, calls_before: Counter) -> None:
    runs = sampling_runs(server)
    calls = runner_calls(server) - calls_before
    per_job = Counter(runs[job_id] for job_id in outcome.job_ids)
    completed, failed = outcome.statuses["completed"], outcome.statuses["failed"]
    print(
        f"{name:<34} completed {completed}/{len(outcome.job_ids)} failed {failed}"
        f" | sampling runs per job {dict(sorted(per_job.items()))}"
        f" | result p50 {percentile(outcome.result_seconds, 50):5.1f} s slowest {max(outcome.result_seconds):5.1f} s"
        f" | server peak RSS {memory.peak_bytes / 2**30:.2f} GiB"
        f" | runner calls: sample {calls['sample']}, progress {calls['progress']} | {dict(outcome.statuses)}"
    )
    for error, count in outcome.errors.items():
        print(f"    failed x{count}: {error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrent", type=int, default=8, help="clients, and TRYON_WORKERS")
    parser.add_argument("--jobs", type=int, default=8, help="jobs of the concurrent round")
    parser.add_argument("--burst", type=int, default=20, help="jobs submitted at once afterwards")
    parser.add_argument("--steps", type=int, default=50, help="denoising steps per job")
    args = parser.parse_args()
    upload = Upload.of(PERSON, GARMENT, {"steps": str(args.steps)})
    print(f"fashn-vton test model, {args.steps} steps, TRYON_WORKERS={args.concurrent}; pair {PERSON.name} + {GARMENT.name}")
    with tempfile.TemporaryDirectory() as tmp:
        server = ServedService(
            Path(tmp), TRYON_ENGINE="fashn-vton", TRYON_WORKERS=str(args.concurrent), TRYON_LOG_LEVEL="INFO",
            TRYON_JOB_TIMEOUT_SECONDS=str(RESULT_TIMEOUT_SECONDS),
        )  # fmt: skip
        make_test_models(server, "fashn-vton")
        server.start(timeout=300)
        try:
            for name, jobs, clients in [
                (f"{args.concurrent} concurrent, {args.jobs} jobs", args.jobs, args.concurrent),
                (f"burst of {args.burst}", args.burst, args.burst),
            ]:
                calls_before = runner_calls(server)
                with PeakMemory(server) as memory:
                    outcome = drive([server.url], jobs, clients, upload, result_timeout=RESULT_TIMEOUT_SECONDS)
                report(name, outcome, server, memory, calls_before)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
