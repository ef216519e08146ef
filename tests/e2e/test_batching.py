"""Concurrent jobs reach the model runners through BentoML's adaptive batching, and long calls of
different jobs run as one batch."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import requests

from .helpers import poll_until_finished, submit, wait_for_an_empty_queue

BATCH_SIZE = re.compile(
    r'^bentoml_service_adaptive_batch_size_(sum|count)\{[^}]*runner_name="(\w+)"[^}]*\} ([0-9.e+]+)$', re.M
)


def batch_totals(url: str) -> dict[str, dict[str, float]]:
    """Per runner: the number of batches run (count) and of requests in them (sum)."""
    totals: dict[str, dict[str, float]] = {}
    for kind, runner, value in BATCH_SIZE.findall(requests.get(f"{url}/metrics", timeout=10).text):
        totals.setdefault(runner, {"sum": 0.0, "count": 0.0})[kind] += float(value)
    return totals


def batches_since(url: str, before: dict[str, dict[str, float]], runner: str) -> dict[str, float]:
    """The runner's batches (count) and requests (sum) since ``before`` was read."""
    after = batch_totals(url)
    return {kind: after.get(runner, {}).get(kind, 0.0) - before.get(runner, {}).get(kind, 0.0) for kind in ("sum", "count")}


JOBS = 8


def test_concurrent_jobs_go_through_the_batching_runners(service, person_bytes, garment_bytes) -> None:
    """On the shared server (eight workers); only this test's batches are counted. The classical
    engine's runner calls take milliseconds of a job's seconds, so whether two jobs' calls meet in one
    batch is chance: the merging is asserted on the FASHN runner, whose calls take seconds
    (``test_fashn_vton_load.py``)."""
    assert service.env["TRYON_WORKERS"] == "8"
    wait_for_an_empty_queue(service.url)
    before = batch_totals(service.url)
    with ThreadPoolExecutor(8) as pool:
        job_ids = list(pool.map(lambda _: submit(service.url, person_bytes, garment_bytes).json()["job_id"], range(JOBS)))
        finals = list(pool.map(lambda job_id: poll_until_finished(service.url, job_id).final, job_ids))
    assert all(final["status"] == "completed" for final in finals), [f for f in finals if f["status"] != "completed"][:2]
    for runner in ("SegmentationRunner", "PoseRunner"):
        totals = batches_since(service.url, before, runner)
        assert totals["sum"] >= JOBS, (runner, totals)  # every job's request went through the dispatcher
        assert 1 <= totals["count"] <= totals["sum"], (runner, totals)
