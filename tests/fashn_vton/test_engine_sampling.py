"""The FASHN adapter's sampling wait, over fake runner APIs: one progress call per interval for all jobs;
a job that ends while its request samples (cancelled, timed out) tells the runner to drop it and
gives its worker thread back at once."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tryon.engines.base import Step
from tryon.engines.fashn_vton.batching import SamplingRequest
from tryon.engines.fashn_vton.engine import FashnVtonEngine, sample_request_ids
from tryon.engines.fashn_vton.progress import ProgressPoller
from tryon.images import ImageLimits
from tryon.jobs.progress import JobNoLongerHeld


class FakeRunner:
    """``sample`` waits until released; ``progress`` counts steps; ``cancel`` records the ids."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.cancelled: list[str] = []
        self.progress_calls = 0

    def api(self, runner, name: str):
        return getattr(self, name, None)  # the APIs this test does not reach: None

    def sample(self, packed: np.ndarray) -> np.ndarray:
        self.released.wait(30)
        raise RuntimeError("the runner answered after the job had ended")

    def progress(self, request_ids: list[str]) -> dict[str, list[int]]:
        self.progress_calls += 1
        return {request_id: [min(self.progress_calls, 50), 50] for request_id in request_ids}

    def cancel(self, request_ids: list[str]) -> list[str]:
        self.cancelled.extend(request_ids)
        return request_ids


def test_a_job_that_ends_while_sampling_cancels_its_rows_and_returns_at_once() -> None:
    runner = FakeRunner()
    engine = FashnVtonEngine(runner.api, limits=ImageLimits(), progress_poll_seconds=0.02)
    reported: list[tuple[Step, float]] = []

    def on_progress(step: Step, fraction: float = 0.0) -> None:
        reported.append((step, fraction))
        if fraction > 0.05:  # the store refused the report: the client cancelled the job
            raise JobNoLongerHeld("job-1")

    started = time.monotonic()
    with pytest.raises(JobNoLongerHeld):
        samplings = [SamplingRequest(request_id, "tops", seed, 50, 1.5) for seed, request_id in enumerate(sample_request_ids("job-1", 3))]
        engine.sample(samplings, np.zeros((3, 8), np.uint8), on_progress)
    assert time.monotonic() - started < 5  # the sample call still waits; the job's thread does not
    assert runner.cancelled == ["job-1", "job-1#1", "job-1#2"]  # every picture's row (num_samples 3)
    assert all(step is Step.INPAINTING for step, _ in reported) and reported[-1][1] > 0.05
    runner.released.set()


def test_one_progress_call_per_interval_answers_every_watching_job() -> None:
    calls: list[list[str]] = []

    def progress(request_ids: list[str]) -> dict[str, list[int]]:
        calls.append(request_ids)
        return {request_id: [len(calls), 50] for request_id in request_ids}

    poller = ProgressPoller(progress, interval=0.05)
    seen: dict[str, tuple[int, int]] = {}

    def job(request_id: str) -> None:
        with poller.watch(request_id) as latest:
            time.sleep(0.5)
            seen[request_id] = latest()

    jobs = [threading.Thread(target=job, args=(f"job-{index}",)) for index in range(5)]
    for thread in jobs:
        thread.start()
    for thread in jobs:
        thread.join()
    assert 3 <= len(calls) <= 15  # about one per interval for the five jobs, not one each
    assert max(len(ids) for ids in calls) == 5
    assert all(done > 0 and total == 50 for done, total in seen.values()) and len(seen) == 5
    idle = len(calls)
    time.sleep(0.2)
    assert len(calls) <= idle + 1  # nobody watching: no calls
