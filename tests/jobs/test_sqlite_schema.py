"""A SQLite job store made by an earlier version opens as it is: columns added since come with it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tryon.jobs import JobInputs, JobResult, JobStatus, SQLiteJobStore, StoredPicture

# The table as the first release made it (before a whole outfit's bottom_image and several pictures).
FIRST_SCHEMA = """
CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY, status TEXT NOT NULL, step TEXT, progress INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0, error TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL,
    lease_owner TEXT, lease_expires REAL, person_image BLOB, clothing_image BLOB, result BLOB,
    result_key TEXT, warning TEXT, options TEXT NOT NULL DEFAULT '{}', details TEXT NOT NULL DEFAULT '{}'
);
"""


def columns(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [row[1] for row in db.execute("PRAGMA table_info(jobs)")]


def first_release_database(path: Path, insert_job: str) -> Path:
    """A database as the first release made it, holding the job ``insert_job`` (SQL) writes."""
    with sqlite3.connect(path) as db:
        db.executescript(FIRST_SCHEMA)
        db.execute(insert_job)
    return path


def test_a_database_from_before_bottom_image_gets_the_column_and_keeps_its_jobs(tmp_path: Path) -> None:
    path = first_release_database(
        tmp_path / "jobs.sqlite3",
        "INSERT INTO jobs (job_id, status, created_at, updated_at, person_image, clothing_image, options)"
        " VALUES ('queued-before', 'queued', 1.0, 1.0, x'01', x'02', '{\"category\": \"auto\"}')",
    )
    assert "bottom_image" not in columns(path)

    store = SQLiteJobStore(path)
    assert "bottom_image" in columns(path)
    record, inputs = store.claim("w")
    assert record.job_id == "queued-before" and inputs == JobInputs(b"\x01", b"\x02", {"category": "auto"})
    store.create("outfit", JobInputs(b"p", b"c", bottom_image=b"b"))
    assert store.claim("w")[1].bottom_image == b"b"
    store.close()
    SQLiteJobStore(path).close()  # opened again: the column is there, nothing to add


def test_a_finished_jobs_bottom_image_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    store = SQLiteJobStore(path)
    store.create("outfit", JobInputs(b"p", b"c", bottom_image=b"b"))
    store.claim("w")
    store.complete("outfit", "w", JobResult(pictures=(StoredPicture(b"png"),)))
    assert store.get("outfit").status is JobStatus.COMPLETED
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT bottom_image FROM jobs").fetchall() == [(None,)]
    store.close()


def test_a_database_from_before_several_pictures_reads_and_stores_them(tmp_path: Path) -> None:
    path = first_release_database(
        tmp_path / "jobs.sqlite3",
        "INSERT INTO jobs (job_id, status, step, progress, created_at, updated_at, result)"
        " VALUES ('old', 'completed', 'done', 100, 1.0, 1.0, x'89504e47')",
    )
    store = SQLiteJobStore(path)
    old = store.get("old")
    assert old.status is JobStatus.COMPLETED and old.pictures == (StoredPicture(data=b"\x89PNG"),)
    store.create("new", JobInputs(b"p", b"c"))
    store.claim("w")
    pictures = (StoredPicture(data=b"one"), StoredPicture(data=b"two"))
    assert store.complete("new", "w", JobResult(pictures=pictures))
    store.close()
    assert SQLiteJobStore(path).get("new").pictures == pictures  # and once more, the column already there
