"""The embedded job store: one SQLite file, safe for several threads and processes on one machine."""

from __future__ import annotations

import errno
import json
import shutil
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .pictures import first_picture, more_pictures_json, pictures_of
from .records import JobInputs, JobRecord, JobResult, JobStatus
from .store import JobStore, QueueFull

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id         TEXT PRIMARY KEY,
    status         TEXT NOT NULL,
    step           TEXT,
    progress       INTEGER NOT NULL DEFAULT 0,
    attempts       INTEGER NOT NULL DEFAULT 0,
    error          TEXT,
    created_at     REAL NOT NULL,
    updated_at     REAL NOT NULL,
    lease_owner    TEXT,
    lease_expires  REAL,
    person_image   BLOB,
    clothing_image BLOB,
    bottom_image   BLOB,
    result         BLOB,
    result_key     TEXT,
    warning        TEXT,
    options        TEXT NOT NULL DEFAULT '{}',
    details        TEXT NOT NULL DEFAULT '{}',
    more_results   TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, created_at);
CREATE INDEX IF NOT EXISTS jobs_by_update ON jobs (status, updated_at);
"""

_RECORD_COLUMNS = (
    "job_id, status, step, progress, attempts, created_at, updated_at, error, result, result_key, warning,"
    " options, details, more_results"
)
# Columns added since the first schema: a store file written before them gains them at start-up.
_ADDED_COLUMNS = {"bottom_image": "BLOB", "more_results": "TEXT NOT NULL DEFAULT '[]'"}


class SQLiteJobStore(JobStore):
    def __init__(
        self, path: Path, *, lease_seconds: float = 20, max_attempts: int = 3, result_reserve_bytes: int = 0
    ) -> None:
        """``result_reserve_bytes``: the room a job is admitted with beyond its inputs, for each
        picture of its result (``num_samples`` of them)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._result_reserve_bytes = result_reserve_bytes
        self._lease_seconds = lease_seconds
        self._max_attempts = max_attempts
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        _add_missing_columns(self._db)

    def create(self, job_id: str, inputs: JobInputs, *, max_queued: int | None = None) -> JobRecord:
        now = time.time()
        with self._writing(), _immediate_transaction(self._db):
            photos = len(inputs.person_image) + len(inputs.clothing_image) + len(inputs.bottom_image or b"")
            pictures = int(inputs.options.get("engine_options", {}).get("num_samples", 1))
            if self._room_bytes() < photos + self._result_reserve_bytes * pictures:
                raise self._refused_for_space(
                    "the job store (TRYON_DATA_DIR) has no room left for a new job's photos and result"
                )
            if max_queued is not None:
                (queued,) = self._db.execute(
                    "SELECT COUNT(*) FROM jobs WHERE status = ?", (JobStatus.QUEUED.value,)
                ).fetchone()
                if queued >= max_queued:
                    raise QueueFull(queued)
            self._db.execute(
                "INSERT INTO jobs (job_id, status, created_at, updated_at, person_image, clothing_image,"
                " bottom_image, options) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    JobStatus.QUEUED.value,
                    now,
                    now,
                    inputs.person_image,
                    inputs.clothing_image,
                    inputs.bottom_image,
                    json.dumps(inputs.options),
                ),
            )
        return JobRecord(job_id, JobStatus.QUEUED, None, 0, 0, now, now, options=dict(inputs.options))

    def get(self, job_id: str) -> JobRecord | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_RECORD_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,)
            ).fetchone()
        return _record(row) if row else None

    def claim(self, worker_id: str) -> tuple[JobRecord, JobInputs] | None:
        with self._writing(), _immediate_transaction(self._db):
            while True:
                now = time.time()
                row = self._db.execute(
                    "SELECT job_id, attempts, step FROM jobs WHERE status = ?"
                    " OR (status = ? AND lease_expires < ?) ORDER BY created_at LIMIT 1",
                    (JobStatus.QUEUED.value, JobStatus.PROCESSING.value, now),
                ).fetchone()
                if row is None:
                    return None
                job_id, attempts, step = row
                if attempts >= self._max_attempts:
                    self._finish(
                        job_id,
                        None,
                        status=JobStatus.FAILED,
                        error=f"Gave up after {attempts} attempts: the service stopped while running "
                        f"this job (last step: {step or 'none'}).",
                    )
                    continue
                self._db.execute(
                    "UPDATE jobs SET status = ?, attempts = attempts + 1, lease_owner = ?,"
                    " lease_expires = ?, updated_at = ? WHERE job_id = ?",
                    (JobStatus.PROCESSING.value, worker_id, now + self._lease_seconds, now, job_id),
                )
                record = _record(
                    self._db.execute(
                        f"SELECT {_RECORD_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,)
                    ).fetchone()
                )
                person, clothing, bottom = self._db.execute(
                    "SELECT person_image, clothing_image, bottom_image FROM jobs WHERE job_id = ?", (job_id,)
                ).fetchone()
                return record, JobInputs(person, clothing, record.options, bottom)

    def advance(self, job_id: str, worker_id: str, *, step: str, progress: int) -> bool:
        now = time.time()
        with self._writing():
            held = self._db.execute(
                "UPDATE jobs SET lease_expires = ?, updated_at = ? WHERE job_id = ? AND lease_owner = ?"
                " AND status = ?",
                (now + self._lease_seconds, now, job_id, worker_id, JobStatus.PROCESSING.value),
            ).rowcount
            # A job that runs again after a restart does not report earlier steps a second time.
            self._db.execute(
                "UPDATE jobs SET step = ?, progress = ? WHERE job_id = ? AND lease_owner = ?"
                " AND status = ? AND progress <= ?",
                (step, progress, job_id, worker_id, JobStatus.PROCESSING.value, progress),
            )
        return held == 1

    def renew(self, job_ids: list[str], worker_id: str) -> None:
        if not job_ids:
            return
        expires = time.time() + self._lease_seconds
        with self._writing():
            self._db.executemany(
                "UPDATE jobs SET lease_expires = ? WHERE job_id = ? AND lease_owner = ? AND status = ?",
                [(expires, job_id, worker_id, JobStatus.PROCESSING.value) for job_id in job_ids],
            )

    def complete(self, job_id: str, worker_id: str, result: JobResult) -> bool:
        with self._writing():
            return self._finish(job_id, worker_id, status=JobStatus.COMPLETED, result=result)

    def fail(self, job_id: str, worker_id: str, error: str) -> bool:
        with self._writing():
            return self._finish(job_id, worker_id, status=JobStatus.FAILED, error=error)

    def cancel(self, job_id: str, reason: str) -> bool:
        with self._writing():
            return self._finish(job_id, None, status=JobStatus.FAILED, error=reason, from_queue=True)

    def purge_finished(self, older_than_seconds: float) -> int:
        with self._writing():
            return self._db.execute(
                "DELETE FROM jobs WHERE status IN (?, ?) AND updated_at < ?",
                (JobStatus.COMPLETED.value, JobStatus.FAILED.value, time.time() - older_than_seconds),
            ).rowcount

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = dict(self._db.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall())
        return {status.value: rows.get(status.value, 0) for status in JobStatus}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _room_bytes(self) -> int:
        """What the database may still grow by: the free space of its disk, or less where SQLite's
        own page limit (``PRAGMA max_page_count``) comes first."""
        page_size, pages, max_pages = (
            self._db.execute(f"PRAGMA {pragma}").fetchone()[0] for pragma in ("page_size", "page_count", "max_page_count")
        )
        return min(shutil.disk_usage(self._path.parent).free, (max_pages - pages) * page_size)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """The lock, for a call that writes; a full disk is raised as ``StoreFull``."""
        with self._lock:
            try:
                yield
            except (sqlite3.OperationalError, OSError) as error:
                if not _is_disk_full(error):
                    raise
                raise self._refused_for_space("the disk holding the job store (TRYON_DATA_DIR) is full") from error

    def _finish(
        self,
        job_id: str,
        worker_id: str | None,
        *,
        status: JobStatus,
        result: JobResult | None = None,
        error: str | None = None,
        from_queue: bool = False,
    ) -> bool:
        """End a running job; ``worker_id`` None ends it whoever holds it (the store gives up on it).

        ``from_queue`` also ends a job that is still queued (a cancellation)."""
        progress_done = 100 if status is JobStatus.COMPLETED else None
        result = result or JobResult()
        owner_clause = "" if worker_id is None else " AND lease_owner = ?"
        owner_args = () if worker_id is None else (worker_id,)
        endable = (JobStatus.PROCESSING.value, JobStatus.QUEUED.value if from_queue else JobStatus.PROCESSING.value)
        return (
            self._db.execute(
                "UPDATE jobs SET status = ?, result = ?, result_key = ?, more_results = ?, warning = ?, details = ?,"
                " error = ?,"
                " step = COALESCE(?, step),"
                " progress = COALESCE(?, progress), updated_at = ?, lease_owner = NULL,"
                " lease_expires = NULL, person_image = NULL, clothing_image = NULL, bottom_image = NULL"
                f" WHERE job_id = ? AND status IN (?, ?){owner_clause}",
                (
                    status.value,
                    first_picture(result.pictures).data,
                    first_picture(result.pictures).key,
                    more_pictures_json(result.pictures),
                    result.warning,
                    json.dumps(result.details),
                    error,
                    "done" if progress_done else None,
                    progress_done,
                    time.time(),
                    job_id,
                    *endable,
                    *owner_args,
                ),
            ).rowcount
            == 1
        )


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """Add ``_ADDED_COLUMNS`` to a database made before them (``CREATE TABLE IF NOT EXISTS`` leaves an
    existing table as it was); their NULL is what a job from before them means."""
    present = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
    for name, kind in _ADDED_COLUMNS.items():
        if name in present:
            continue
        try:
            db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")
        except sqlite3.OperationalError as error:
            if "duplicate column" not in str(error):  # another process added it just now
                raise


@contextmanager
def _immediate_transaction(db: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` takes the write lock first, so two processes never claim the same job."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.in_transaction:  # SQLite may have rolled it back already (a full disk does)
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _is_disk_full(error: sqlite3.OperationalError | OSError) -> bool:
    if isinstance(error, OSError):
        return error.errno in (errno.ENOSPC, errno.EDQUOT)
    return getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(error)


def _record(row: tuple) -> JobRecord:
    (job_id, status, step, progress, attempts, created_at, updated_at, error, result, key, warning, options, details,
     more_results) = row
    return JobRecord(
        job_id=job_id,
        status=JobStatus(status),
        step=step,
        progress=progress,
        attempts=attempts,
        created_at=created_at,
        updated_at=updated_at,
        error=error,
        pictures=pictures_of(result, key, more_results),
        warning=warning,
        options=json.loads(options),
        details=json.loads(details),
    )
