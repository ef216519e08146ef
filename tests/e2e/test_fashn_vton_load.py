"""The FASHN VTON engine under load and cancel: `bentoml serve` with its tiny test model, jobs over HTTP.

Concurrent long jobs used to be cut mid-sampling (BentoML's client recycling its HTTP session under
the calls) and sampled again on resend; a cancelled job kept the runner and its worker thread busy
to the end. The runner logs one line per sampling run and one per request dropped from its batch.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from .helpers import poll_until_finished, wait_for_an_empty_queue
from .test_batching import batch_totals, batches_since
from .served import ServedService
from .test_fashn_vton import submit_with

SAMPLING_RUN = re.compile(r"sampling ([0-9a-f-]{36}): \d+ steps")
CONCURRENT_JOBS = 5
FREED_WITHIN_SECONDS = 3.0


@pytest.fixture(scope="module")
def five_workers(fashn_service: ServedService):
    """The shared FASHN server: a worker for each concurrent job, its log at INFO, a long job limit."""
    assert fashn_service.env["TRYON_WORKERS"] == str(CONCURRENT_JOBS) and fashn_service.env["TRYON_LOG_LEVEL"] == "INFO"
    wait_for_an_empty_queue(fashn_service.url)
    return fashn_service


def sampling_runs(server: ServedService) -> Counter:
    return Counter(SAMPLING_RUN.findall(server.log(10**9)))


def first_sampling(url: str, job_ids: list[str], timeout: float = 120) -> str:
    """The first of the jobs whose denoising steps have begun (progress past the inpainting step's 55)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for job_id in job_ids:
            body = requests.get(f"{url}/api/tryon/{job_id}", timeout=10).json()
            if body.get("step") == "inpainting" and body["progress"] > 55:
                return job_id
            assert body["status"] in ("pending", "processing"), body
        time.sleep(0.05)
    raise AssertionError(f"no job started sampling in {timeout}s")


def seconds_until(condition, timeout: float = 60) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "condition not met"
        time.sleep(0.05)
    return time.monotonic() - started


def test_concurrent_long_jobs_complete_each_sampled_once_and_a_cancel_frees_its_worker(
    five_workers, person_bytes, garment_bytes
) -> None:
    """Five long jobs take the five workers; a sixth waits. Cancelling one while it samples drops its
    row from the runner's batch and frees its worker for the sixth at once; every other job completes,
    sampled once (none cut mid-sampling and sent again)."""
    url = five_workers.url
    status = lambda job_id: requests.get(f"{url}/api/tryon/{job_id}", timeout=10).json()["status"]  # noqa: E731
    before = batch_totals(url)
    with ThreadPoolExecutor(CONCURRENT_JOBS) as pool:
        jobs = list(pool.map(lambda _: submit_with(url, person_bytes, garment_bytes, steps=50).json()["job_id"], range(CONCURRENT_JOBS)))
    waiting = submit_with(url, person_bytes, garment_bytes, steps=50).json()["job_id"]
    cancelled = first_sampling(url, jobs)  # the others wait for its batch, holding their workers
    finishing = [job_id for job_id in jobs if job_id != cancelled]
    assert status(waiting) == "pending"

    assert requests.delete(f"{url}/api/tryon/{cancelled}", timeout=10).status_code == 200
    assert seconds_until(lambda: status(waiting) != "pending") < FREED_WITHIN_SECONDS

    with ThreadPoolExecutor(CONCURRENT_JOBS) as pool:
        polls = list(pool.map(lambda job_id: poll_until_finished(url, job_id, timeout=600, interval=0.2), [*finishing, waiting]))
    assert [poll.final["status"] for poll in polls] == ["completed"] * CONCURRENT_JOBS, [poll.final.get("detail") for poll in polls]
    assert re.search(rf"{cancelled} dropped from its batch after \d+ of 50 steps", five_workers.log(10**9)), cancelled
    runs = sampling_runs(five_workers)
    assert [runs[job_id] for job_id in [*jobs, waiting]] == [1] * (CONCURRENT_JOBS + 1), runs
    # A sampling run takes seconds: the jobs that reach the runner during one run wait for it and
    # are sampled together in the next (adaptive batching), so there are fewer batches than jobs.
    sampling = batches_since(url, before, "FashnVtonRunner")
    assert sampling["sum"] >= CONCURRENT_JOBS + 1 and sampling["count"] < sampling["sum"], sampling
