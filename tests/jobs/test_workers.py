"""The worker pool over a real SQLite store, with job functions standing in for the pipeline."""

from __future__ import annotations

import threading
import time

import pytest

from tryon.engines.base import Step
from tryon.errors import NoPersonFound
from tryon.jobs import JobInputs, JobResult, StoredPicture, JobStatus, WorkerPool

INPUTS = JobInputs(b"p", b"c")


def wait_until_finished(store, job_ids, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = [store.get(job_id) for job_id in job_ids]
        if all(record.status.finished for record in records):
            return records
        time.sleep(0.02)
    raise AssertionError(f"jobs did not finish: {[store.get(j) for j in job_ids]}")


@pytest.fixture
def pool_factory(make_store):
    pools = []

    def make(run_job, concurrency=2, lease_seconds=5.0, poll_seconds=0.5, **options):
        store = make_store(lease_seconds=lease_seconds)
        pool = WorkerPool(
            store,
            run_job,
            concurrency=concurrency,
            lease_seconds=lease_seconds,
            poll_seconds=poll_seconds,
            **options,
        )
        pools.append(pool)
        return store, pool

    yield make
    for pool in pools:
        pool.stop()


def test_jobs_run_report_steps_and_complete(pool_factory) -> None:
    seen: list[tuple[str, int]] = []

    def run_job(job_id, inputs, report):
        for step in (Step.SEGMENTATION, Step.POSE, Step.BLEND):
            report(step)
            record = store.get(job_id)
            seen.append((record.step, record.progress))
        return JobResult(pictures=(StoredPicture(inputs.person_image + b"-done"),))

    store, pool = pool_factory(run_job)
    store.create("a", INPUTS)
    pool.start()
    (record,) = wait_until_finished(store, ["a"])
    assert record.status is JobStatus.COMPLETED and record.pictures[0].data == b"p-done"
    assert seen == [("segmentation", 10), ("pose", 25), ("blend", 85)]


def test_domain_error_fails_the_job_with_its_message(pool_factory) -> None:
    def run_job(job_id, inputs, report):
        raise NoPersonFound("No person was found in the person photo.")

    store, pool = pool_factory(run_job)
    store.create("a", INPUTS)
    pool.start()
    (record,) = wait_until_finished(store, ["a"])
    assert record.status is JobStatus.FAILED
    assert record.error == "No person was found in the person photo."


def test_unexpected_error_is_readable_and_hides_internals(pool_factory) -> None:
    def run_job(job_id, inputs, report):
        report(Step.WARP)
        raise RuntimeError("/secret/path/model.bin exploded")

    store, pool = pool_factory(run_job)
    store.create("a", INPUTS)
    pool.start()
    (record,) = wait_until_finished(store, ["a"])
    assert record.status is JobStatus.FAILED
    assert "warp step failed unexpectedly (RuntimeError)" in record.error
    assert "/secret" not in record.error


def test_concurrency_runs_jobs_side_by_side(pool_factory) -> None:
    active, peak = 0, 0
    lock = threading.Lock()

    def run_job(job_id, inputs, report):
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.2)
        with lock:
            active -= 1
        return JobResult(pictures=(StoredPicture(b"ok"),))

    store, pool = pool_factory(run_job, concurrency=3)
    job_ids = [f"j{index}" for index in range(6)]
    for job_id in job_ids:
        store.create(job_id, INPUTS)
    pool.start()
    records = wait_until_finished(store, job_ids)
    assert all(record.status is JobStatus.COMPLETED for record in records)
    assert peak == 3


def test_lease_is_renewed_while_a_job_runs_long(pool_factory, make_store) -> None:
    def run_job(job_id, inputs, report):
        time.sleep(1.0)  # four times the lease
        return JobResult(pictures=(StoredPicture(b"ok"),))

    store, pool = pool_factory(run_job, concurrency=1, lease_seconds=0.25)
    store.create("long", INPUTS)
    pool.start()
    time.sleep(0.6)
    assert make_store(lease_seconds=0.25).claim("thief") is None
    (record,) = wait_until_finished(store, ["long"])
    assert record.status is JobStatus.COMPLETED and record.attempts == 1


def test_wake_starts_a_new_job_without_waiting_for_the_poll(pool_factory) -> None:
    # With a 30 s poll, only a wake-up can start the job quickly.
    store, pool = pool_factory(lambda job_id, inputs, report: JobResult(pictures=(StoredPicture(b"ok"),)), concurrency=1, poll_seconds=30)
    pool.start()
    time.sleep(0.1)
    started = time.monotonic()
    store.create("a", INPUTS)
    pool.wake()
    wait_until_finished(store, ["a"], timeout=5)
    assert time.monotonic() - started < 2


def test_stuck_job_is_failed_at_its_time_limit(pool_factory) -> None:
    release = threading.Event()

    def run_job(job_id, inputs, report):
        report(Step.WARP)
        release.wait(10)  # stuck until the test lets go
        report(Step.BLEND)  # refused: the job is no longer this worker's
        return JobResult(pictures=(StoredPicture(b"too late"),))

    store, pool = pool_factory(run_job, concurrency=1, lease_seconds=0.4, job_timeout_seconds=0.5)
    store.create("stuck", INPUTS)
    pool.start()
    (record,) = wait_until_finished(store, ["stuck"], timeout=5)
    release.set()
    assert record.status is JobStatus.FAILED
    assert record.error == "The job took longer than the time limit of 0.5 s and was stopped."
    time.sleep(0.2)
    assert store.get("stuck").status is JobStatus.FAILED  # the late finish changed nothing


def test_cancelled_job_stops_at_the_next_step(pool_factory) -> None:
    steps: list[str] = []
    cancelled = threading.Event()

    def run_job(job_id, inputs, report):
        for step in (Step.SEGMENTATION, Step.POSE, Step.WARP):
            report(step)
            steps.append(step)
            if step == "pose":
                cancelled.wait(5)
        return JobResult(pictures=(StoredPicture(b"never"),))

    store, pool = pool_factory(run_job, concurrency=1)
    store.create("job", INPUTS)
    pool.start()
    while store.get("job").step != "pose":
        time.sleep(0.01)
    assert store.cancel("job", "Cancelled by the client.")
    cancelled.set()
    time.sleep(0.3)
    assert steps == ["segmentation", "pose"]  # warp never started
    assert store.get("job").error == "Cancelled by the client."


def test_a_job_waiting_at_the_same_progress_finds_a_cancel_and_is_not_written_each_time(pool_factory) -> None:
    """A sampling wait reports the same step and progress every 0.2 s: the store is asked at most every
    ``HELD_CHECK_SECONDS`` (unchanged) and the cancel still reaches the worker thread within that."""
    from tryon.jobs.progress import HELD_CHECK_SECONDS

    reports, ended = [], threading.Event()

    def run_job(job_id, inputs, report):
        try:
            while True:
                report(Step.INPAINTING)
                reports.append(time.monotonic())
                time.sleep(0.05)
        finally:
            ended.set()

    store, pool = pool_factory(run_job, concurrency=1)
    writes = []
    advance = store.advance
    store.advance = lambda *args, **kwargs: writes.append(time.monotonic()) or advance(*args, **kwargs)
    store.create("job", INPUTS)
    pool.start()
    while len(reports) < 20:
        time.sleep(0.01)
    assert len(writes) <= 1 + (reports[-1] - writes[0]) / HELD_CHECK_SECONDS + 1
    cancelled_at = time.monotonic()
    assert store.cancel("job", "Cancelled by the client.")
    assert ended.wait(HELD_CHECK_SECONDS + 1)
    assert time.monotonic() - cancelled_at <= HELD_CHECK_SECONDS + 0.2
    while pool.running:
        assert time.monotonic() - cancelled_at < HELD_CHECK_SECONDS + 1
        time.sleep(0.01)
