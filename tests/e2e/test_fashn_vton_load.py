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
from .served import FASHN_SETTINGS, ServedService, make_test_models
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


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory: pytest.TempPathFactory):
    """The shared FASHN settings with one worker: a cancel must free the only one."""
    server = ServedService(tmp_path_factory.mktemp("fashn-cancel"), **{**FASHN_SETTINGS, "TRYON_WORKERS": "1"})
    make_test_models(server, "fashn-vton")
    yield server.start(timeout=240)
    server.stop()


def sampling_runs(server: ServedService) -> Counter:
    return Counter(SAMPLING_RUN.findall(server.log(10**9)))


def test_concurrent_long_jobs_all_complete_each_sampled_once(five_workers, person_bytes, garment_bytes) -> None:
    url = five_workers.url
    before = batch_totals(url)
    with ThreadPoolExecutor(CONCURRENT_JOBS) as pool:
        jobs = list(pool.map(lambda _: submit_with(url, person_bytes, garment_bytes, steps=50).json()["job_id"], range(CONCURRENT_JOBS)))
        polls = list(pool.map(lambda job_id: poll_until_finished(url, job_id, timeout=600, interval=0.2), jobs))
    assert [poll.final["status"] for poll in polls] == ["completed"] * CONCURRENT_JOBS, [poll.final.get("detail") for poll in polls]
    runs = sampling_runs(five_workers)
    assert [runs[job_id] for job_id in jobs] == [1] * CONCURRENT_JOBS, runs
    # A sampling run takes seconds: the jobs that reach the runner during one run wait for it and
    # are sampled together in the next (adaptive batching), so there are fewer batches than jobs.
    sampling = batches_since(url, before, "FashnVtonRunner")
    assert sampling["sum"] >= CONCURRENT_JOBS and sampling["count"] < sampling["sum"], sampling


def wait_for_sampling(url: str, job_id: str, timeout: float = 120) -> None:
    """Until the job's denoising steps have begun (progress past the inpainting step's 55)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = requests.get(f"{url}/api/tryon/{job_id}", timeout=10).json()
        if body.get("step") == "inpainting" and body["progress"] > 55:
            return
        assert body["status"] in ("pending", "processing"), body
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not start sampling in {timeout}s")


def seconds_until(condition, timeout: float = 60) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "condition not met"
        time.sleep(0.05)
    return time.monotonic() - started


def test_a_cancel_during_sampling_frees_the_worker_and_stops_the_runner(one_worker, person_bytes, garment_bytes) -> None:
    url = one_worker.url

    def running_here() -> int:
        return requests.get(f"{url}/health", timeout=10).json()["queue"]["running_here"]

    alone = submit_with(url, person_bytes, garment_bytes, steps=50).json()["job_id"]
    wait_for_sampling(url, alone)
    assert running_here() == 1
    assert requests.delete(f"{url}/api/tryon/{alone}", timeout=10).status_code == 200
    assert seconds_until(lambda: running_here() == 0) < FREED_WITHIN_SECONDS

    cancelled = submit_with(url, person_bytes, garment_bytes, steps=50).json()["job_id"]
    queued = submit_with(url, person_bytes, garment_bytes, steps=50).json()["job_id"]
    wait_for_sampling(url, cancelled)
    assert requests.get(f"{url}/api/tryon/{queued}", timeout=10).json()["status"] == "pending"
    assert requests.delete(f"{url}/api/tryon/{cancelled}", timeout=10).status_code == 200
    status = lambda: requests.get(f"{url}/api/tryon/{queued}", timeout=10).json()["status"]  # noqa: E731
    assert seconds_until(lambda: status() != "pending") < FREED_WITHIN_SECONDS

    assert poll_until_finished(url, queued, timeout=300).final["status"] == "completed"
    log = one_worker.log(10**9)
    for job_id in (alone, cancelled):
        assert re.search(rf"{job_id} dropped from its batch after \d+ of 50 steps", log), job_id
    assert sampling_runs(one_worker) == {alone: 1, cancelled: 1, queued: 1}
