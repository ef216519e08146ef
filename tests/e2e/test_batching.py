"""Concurrent jobs reach the model runners together, as batches (adaptive batching)."""

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


JOBS = 48


def test_concurrent_jobs_share_runner_batches(service, person_bytes, garment_bytes) -> None:
    """On the shared server (eight workers); only this test's batches are counted."""
    assert service.env["TRYON_WORKERS"] == "8"
    wait_for_an_empty_queue(service.url)
    before = batch_totals(service.url)
    with ThreadPoolExecutor(8) as pool:
        job_ids = list(pool.map(lambda _: submit(service.url, person_bytes, garment_bytes).json()["job_id"], range(JOBS)))
        finals = list(pool.map(lambda job_id: poll_until_finished(service.url, job_id).final, job_ids))
    assert all(final["status"] == "completed" for final in finals), [f for f in finals if f["status"] != "completed"][:2]
    after = batch_totals(service.url)
    runners = ("SegmentationRunner", "PoseRunner")
    totals = {
        runner: {kind: after[runner][kind] - before.get(runner, {}).get(kind, 0.0) for kind in ("sum", "count")}
        for runner in runners
    }
    for runner in runners:
        assert totals[runner]["sum"] >= JOBS, (runner, totals[runner])  # every job's request went through
    # Fewer batches than requests: some requests of different jobs ran in one batch. Counted over
    # both runners: a job's calls take a few ms of its seconds, so in one run a runner's calls
    # merge only a few times (1 to 13 of 33 were seen, with 32 jobs), and once not at all.
    assert sum(totals[r]["count"] for r in runners) < sum(totals[r]["sum"] for r in runners), totals
