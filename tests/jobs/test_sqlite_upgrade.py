"""A job store file written before jobs had several pictures opens, reads and stores them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tryon.jobs import JobInputs, JobResult, JobStatus, StoredPicture
from tryon.jobs.sqlite_store import SQLiteJobStore

BEFORE_SEVERAL_PICTURES = """
CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY, status TEXT NOT NULL, step TEXT, progress INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0, error TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL,
    lease_owner TEXT, lease_expires REAL, person_image BLOB, clothing_image BLOB, result BLOB,
    result_key TEXT, warning TEXT, options TEXT NOT NULL DEFAULT '{}', details TEXT NOT NULL DEFAULT '{}'
);
INSERT INTO jobs (job_id, status, step, progress, created_at, updated_at, result)
VALUES ('old', 'completed', 'done', 100, 1.0, 1.0, x'89504e47');
"""


def test_a_store_file_from_before_several_pictures_gains_them(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(BEFORE_SEVERAL_PICTURES)
    store = SQLiteJobStore(path)
    old = store.get("old")
    assert old.status is JobStatus.COMPLETED and old.pictures == (StoredPicture(data=b"\x89PNG"),)
    store.create("new", JobInputs(b"p", b"c"))
    store.claim("w")
    pictures = (StoredPicture(data=b"one"), StoredPicture(data=b"two"))
    assert store.complete("new", "w", JobResult(pictures=pictures))
    assert SQLiteJobStore(path).get("new").pictures == pictures  # and once more, the column already there
