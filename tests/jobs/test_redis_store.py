"""What only the Redis store has to show: it rides out a Redis restart, and replicas share it safely.

The shared contract (``test_store_contract.py``, ``test_workers.py``) runs against Redis too.
"""

from __future__ import annotations

import threading
import time
from typing import Iterator

import pytest
import redis

from tests.jobs.test_workers import wait_until_finished
from tests.redis_server import RedisServer
from tryon.engines.base import Step
from tryon.jobs import JobResult, StoredPicture, JobInputs, JobStatus, RedisJobStore, WorkerPool
from tryon.jobs import redis_store

INPUTS = JobInputs(person_image=b"person-bytes", clothing_image=b"clothing-bytes")


@pytest.fixture(scope="module")
def restartable_server() -> Iterator[RedisServer]:
    """A server of this module's own, so restarting it cannot disturb other tests."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def make_redis_store(redis_server, redis_namespace):
    """Stores on the session server, in this test's namespace (``server=`` picks another server)."""
    stores: list[RedisJobStore] = []

    def make(server: RedisServer | None = None, **options) -> RedisJobStore:
        store = RedisJobStore((server or redis_server).url, namespace=redis_namespace, **options)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


def _start_later(server: RedisServer, delay: float) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(delay), server.start()))
    thread.start()
    return thread


def test_store_carries_on_after_redis_restarts(restartable_server, make_redis_store) -> None:
    store = make_redis_store(restartable_server)
    store.create("running", INPUTS)
    store.create("waiting", JobInputs(b"p2", b"c2"))
    store.claim("w")
    assert store.advance("running", "w", step="warp", progress=40)

    restartable_server.restart()  # same port and directory: the data comes back from the AOF

    running, waiting = store.get("running"), store.get("waiting")
    assert (running.status, running.step, running.progress) == (JobStatus.PROCESSING, "warp", 40)
    assert waiting.status is JobStatus.QUEUED
    # The same store object goes on working; its scripts are loaded again (NOSCRIPT) as needed.
    assert store.advance("running", "w", step="blend", progress=85)
    assert store.complete("running", "w", JobResult(pictures=(StoredPicture(b"result-1"),)))
    record, inputs = store.claim("w")
    assert record.job_id == "waiting" and inputs == JobInputs(b"p2", b"c2")
    assert store.complete("waiting", "w", JobResult(pictures=(StoredPicture(b"result-2"),)))
    assert store.get("running").pictures[0].data == b"result-1"
    assert store.counts() == {"queued": 0, "processing": 0, "completed": 2, "failed": 0}


def test_a_call_made_while_redis_is_down_waits_for_it(restartable_server, make_redis_store) -> None:
    store = make_redis_store(restartable_server)
    store.create("job", INPUTS)
    restartable_server.stop()
    starter = _start_later(restartable_server, 0.5)
    try:
        record, inputs = store.claim("w")  # retried with backoff until Redis answers again
    finally:
        starter.join()
    assert record.job_id == "job" and inputs == INPUTS and record.attempts == 1


def test_retrying_gives_up_after_a_bounded_time(restartable_server, make_redis_store) -> None:
    store = make_redis_store(restartable_server, retry_seconds=0.5)
    store.create("job", INPUTS)
    restartable_server.stop()
    started = time.monotonic()
    try:
        with pytest.raises(redis.ConnectionError):
            store.claim("w")
    finally:
        restartable_server.start()
    assert time.monotonic() - started < 5
    assert store.claim("w")[0].job_id == "job"  # and works again once Redis is back


def test_worker_pool_finishes_every_job_across_a_restart(restartable_server, make_redis_store) -> None:
    store = make_redis_store(restartable_server, lease_seconds=5)

    def run_job(job_id, inputs, report):
        for step in (Step.SEGMENTATION, Step.WARP, Step.BLEND):
            report(step)
            time.sleep(0.02)
        return JobResult(pictures=(StoredPicture(inputs.person_image + b"-done"),))

    pool = WorkerPool(store, run_job, concurrency=2, lease_seconds=5, poll_seconds=0.05)
    job_ids = [f"job-{index}" for index in range(20)]
    for job_id in job_ids[:10]:
        store.create(job_id, INPUTS)
    pool.start()
    try:
        time.sleep(0.2)
        restartable_server.restart()
        for job_id in job_ids[10:]:
            store.create(job_id, INPUTS)
        records = wait_until_finished(store, job_ids, timeout=20)
    finally:
        pool.stop()
    assert all(r.status is JobStatus.COMPLETED and r.pictures[0].data == b"person-bytes-done" for r in records)
    assert store.counts()["completed"] == 20


def test_replicas_claiming_at_once_never_share_or_lose_a_job(make_redis_store) -> None:
    replicas = [make_redis_store(), make_redis_store()]  # two pools, like two API processes
    job_ids = [f"job-{index:03d}" for index in range(300)]
    for job_id in job_ids:
        replicas[0].create(job_id, INPUTS)
    claimed: list[str] = []
    lock = threading.Lock()

    def drain(store, worker_id: str) -> None:
        while (claim := store.claim(worker_id)) is not None:
            with lock:
                claimed.append(claim[0].job_id)

    threads = [
        threading.Thread(target=drain, args=(replica, f"replica{r}-thread{t}"))
        for r, replica in enumerate(replicas)
        for t in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == len(set(claimed)) == 300
    assert sorted(claimed) == job_ids
    assert replicas[1].counts() == {"queued": 0, "processing": 300, "completed": 0, "failed": 0}


def test_a_job_is_never_completed_twice(make_redis_store) -> None:
    first, second = make_redis_store(lease_seconds=0.2), make_redis_store(lease_seconds=0.2)
    first.create("job", INPUTS)
    first.claim("replica-1")
    time.sleep(0.3)  # replica 1 stalls past its lease
    record, _ = second.claim("replica-2")
    assert record.job_id == "job" and record.attempts == 2
    assert second.complete("job", "replica-2", JobResult(pictures=(StoredPicture(b"from-replica-2"),)))
    assert not first.complete("job", "replica-1", JobResult(pictures=(StoredPicture(b"from-replica-1"),)))  # its late answer is refused
    assert not first.fail("job", "replica-1", "too late")
    assert not second.complete("job", "replica-2", JobResult(pictures=(StoredPicture(b"again"),)))
    record = first.get("job")
    assert record.status is JobStatus.COMPLETED and record.pictures[0].data == b"from-replica-2"
    assert first.counts() == {"queued": 0, "processing": 0, "completed": 1, "failed": 0}


def test_lease_expiry_uses_the_server_clock(make_redis_store, monkeypatch) -> None:
    replica_a, replica_b = make_redis_store(lease_seconds=20), make_redis_store(lease_seconds=20)
    replica_a.create("job", INPUTS)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() - 3600)  # replica A's clock is an hour slow
    replica_a.claim("replica-a")
    monkeypatch.setattr(time, "time", real_time)
    assert replica_b.claim("replica-b") is None  # A's lease is still good by the server's clock


def test_inputs_are_dropped_and_keys_stay_in_the_namespace(
    make_redis_store, redis_server, redis_namespace
) -> None:
    store = make_redis_store()
    for job_id in ("done", "failed", "waiting"):
        store.create(job_id, JobInputs(b"person", b"top", bottom_image=b"bottoms"))
    store.claim("w")
    store.complete("done", "w", JobResult(pictures=(StoredPicture(b"png"),)))
    store.claim("w")
    store.fail("failed", "w", "No person was found in the person photo.")
    raw = redis.Redis.from_url(redis_server.url)
    try:
        keys = {key.decode() for key in raw.scan_iter(match=f"{redis_namespace}*")}
        assert all(key.startswith(f"{redis_namespace}:") for key in keys)
        for job_id, has_inputs in (("done", False), ("failed", False), ("waiting", True)):
            fields = set(raw.hkeys(f"{redis_namespace}:job:{job_id}"))
            inputs = {b"person", b"clothing", b"bottom"}
            assert (inputs & fields) == (inputs if has_inputs else set())
    finally:
        raw.close()


def test_a_retried_call_is_applied_once(make_redis_store, monkeypatch) -> None:
    # redis-py repeats a call whose reply was lost with the same arguments, so the same token.
    store = make_redis_store()
    monkeypatch.setattr(redis_store, "_token", lambda: "same-call")
    store.create("a", INPUTS)
    store.create("a", INPUTS)  # a repeat, not a duplicate
    store.create("b", INPUTS)
    first, again = store.claim("w"), store.claim("w")
    assert first[0].job_id == again[0].job_id == "a" and again[0].attempts == 1
    assert store.get("b").status is JobStatus.QUEUED
    assert store.complete("a", "w", JobResult(pictures=(StoredPicture(b"png"),))) and store.complete("a", "w", JobResult(pictures=(StoredPicture(b"png"),)))
    assert store.counts()["completed"] == 1
    monkeypatch.setattr(redis_store, "_token", lambda: "another-call")
    with pytest.raises(ValueError, match="already exists"):
        store.create("a", INPUTS)
    assert not store.complete("a", "w", JobResult(pictures=(StoredPicture(b"png"),)))
