"""A store that has no room to write: SQLite on a full disk (injected), Redis over its maxmemory (real)."""

from __future__ import annotations

import errno
import os
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from tryon.jobs import JobInputs, JobResult, StoredPicture, JobStatus, JobStore, RedisJobStore, StoreFull, WorkerPool
from tryon.jobs.sqlite_store import SQLiteJobStore

INPUTS = JobInputs(person_image=b"person-bytes", clothing_image=b"clothing-bytes")
WRITES = ("INSERT", "UPDATE", "DELETE")
LEASE = 2.0


class FullDisk:
    """Stands in for a SQLite connection: reads pass, writes raise what SQLite raises on a full disk."""

    def __init__(self, connection: sqlite3.Connection, error: Exception) -> None:
        self._connection, self._error = connection, error

    def execute(self, sql: str, *args):
        if sql.lstrip().upper().startswith(WRITES):
            raise self._error
        return self._connection.execute(sql, *args)

    def executemany(self, sql: str, *args):
        raise self._error

    def __getattr__(self, name: str):
        return getattr(self._connection, name)


@contextmanager
def sqlite_disk_full(store: SQLiteJobStore, error: Exception) -> Iterator[None]:
    connection = store._db
    store._db = FullDisk(connection, error)
    try:
        yield
    finally:
        store._db = connection


@contextmanager
def redis_out_of_memory(url: str) -> Iterator[None]:
    admin = redis.Redis.from_url(url)
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", 1)
    try:
        yield
    finally:
        admin.config_set("maxmemory", 0)
        admin.close()


@pytest.fixture(params=["sqlite-disk-full", "sqlite-enospc", "redis-out-of-memory"])
def full_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[JobStore, Callable]]:
    """A store and a context manager under which its writes find no room."""
    if request.param == "redis-out-of-memory":
        server = request.getfixturevalue("redis_server")
        store = RedisJobStore(server.url, namespace=request.getfixturevalue("redis_namespace"), lease_seconds=LEASE)
        yield store, lambda: redis_out_of_memory(server.url)
    else:
        store = SQLiteJobStore(tmp_path / "jobs.sqlite3", lease_seconds=LEASE)
        error = (
            sqlite3.OperationalError("database or disk is full")
            if request.param == "sqlite-disk-full"
            else OSError(errno.ENOSPC, "No space left on device")
        )
        yield store, lambda: sqlite_disk_full(store, error)
    store.close()


def test_writes_without_room_raise_store_full_and_reads_still_answer(full_store, caplog) -> None:
    store, no_room = full_store
    store.create("queued-before", INPUTS)
    with no_room(), caplog.at_level(logging.WARNING, logger="tryon.jobs"):
        for _ in range(20):  # an idle worker retries every half second
            with pytest.raises(StoreFull):
                store.create("refused", INPUTS)
        with pytest.raises(StoreFull):
            store.cancel("queued-before", "cancelled")
        assert store.get("queued-before").status is JobStatus.QUEUED
        assert store.counts()["queued"] == 1
        assert store.full_reason and ("disk" in store.full_reason or "out of memory" in store.full_reason)
    warnings = [r for r in caplog.records if "job store full" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].exc_info is None  # once per interval, no traceback
    assert store.get("refused") is None


def test_the_store_recovers_by_itself_once_there_is_room(full_store) -> None:
    store, no_room = full_store
    with no_room(), pytest.raises(StoreFull):
        store.create("refused", INPUTS)
    store.create("accepted", INPUTS)
    record, _ = store.claim("w")
    assert record.job_id == "accepted"


def test_workers_wait_quietly_while_the_store_is_full_and_resume_after(full_store, caplog) -> None:
    store, no_room = full_store
    store.create("waiting", INPUTS)
    pool = WorkerPool(
        store, lambda job_id, inputs, report: JobResult(pictures=(StoredPicture(b"png"),)), concurrency=2, lease_seconds=LEASE, poll_seconds=0.05
    )
    try:
        with no_room(), caplog.at_level(logging.INFO, logger="tryon"):
            pool.start()
            time.sleep(1.5)  # about 60 tries, refused (to claim the job, or to record its result)
            assert store.get("waiting").status is not JobStatus.COMPLETED
        problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert [r.getMessage()[:15] for r in problems] == ["job store full:"]
        assert problems[0].exc_info is None

        deadline = time.monotonic() + 10  # a job whose result was refused runs again when its lease ends
        while store.get("waiting").status is not JobStatus.COMPLETED and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.get("waiting").status is JobStatus.COMPLETED
    finally:
        pool.stop()


def sqlite_with_room_for(store: SQLiteJobStore, room_bytes: int) -> None:
    """Cap the database at its size now plus ``room_bytes``: SQLite then refuses, with its real
    "database or disk is full", any write that would grow it further."""
    page_size, pages = (store._db.execute(f"PRAGMA {pragma}").fetchone()[0] for pragma in ("page_size", "page_count"))
    store._db.execute(f"PRAGMA max_page_count = {pages + room_bytes // page_size}")


def test_a_result_with_no_room_fails_its_job_once_with_the_true_reason(tmp_path: Path) -> None:
    store = SQLiteJobStore(tmp_path / "jobs.sqlite3", lease_seconds=LEASE)
    store.create("photos-fit", INPUTS)
    sqlite_with_room_for(store, 64 * 1024)  # room for the bookkeeping, not for a 2 MB result
    runs = []

    def run_job(job_id, inputs, report) -> JobResult:
        runs.append(job_id)
        return JobResult(pictures=(StoredPicture(os.urandom(2 * 1024 * 1024)),))

    pool = WorkerPool(store, run_job, concurrency=1, lease_seconds=LEASE, poll_seconds=0.05)
    try:
        pool.start()
        deadline = time.monotonic() + 3 * LEASE + 5  # long enough for main's three runs
        while not store.get("photos-fit").status.finished and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        pool.stop()
    record = store.get("photos-fit")
    assert record.status is JobStatus.FAILED
    assert "no space left to store the result" in record.error
    assert runs == ["photos-fit"] and record.attempts == 1
    store.close()


def test_admission_leaves_room_for_the_result(tmp_path: Path) -> None:
    store = SQLiteJobStore(tmp_path / "jobs.sqlite3", lease_seconds=LEASE, result_reserve_bytes=1024 * 1024)
    store.create("first", INPUTS)
    sqlite_with_room_for(store, 512 * 1024)  # room for the photos, not for their result as well
    with pytest.raises(StoreFull, match="no room left for a new job's photos and result"):
        store.create("no-room-for-its-result", INPUTS)
    store._db.execute("PRAGMA max_page_count = 1073741823")
    store.create("room-again", INPUTS)
    store.close()


def test_admission_leaves_room_for_each_picture_a_job_asks_for(tmp_path: Path) -> None:
    store = SQLiteJobStore(tmp_path / "jobs.sqlite3", lease_seconds=LEASE, result_reserve_bytes=256 * 1024)
    store.create("first", INPUTS)
    sqlite_with_room_for(store, 512 * 1024)  # room for one picture's reserve, not for four
    with pytest.raises(StoreFull, match="no room left for a new job's photos and result"):
        store.create("four-pictures", JobInputs(INPUTS.person_image, INPUTS.clothing_image, {"engine_options": {"num_samples": 4}}))
    store.create("one-picture", INPUTS)
    store.close()
