"""What a poll answers at each point of a job's life, in process over a real SQLite job store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tryon.images import ImageLimits
from tryon.jobs import JobInputs
from tryon.jobs.sqlite_store import SQLiteJobStore

from tests.test_uploads import serve

WORKER = "worker-1"


@pytest.fixture()
def store(tmp_path: Path) -> SQLiteJobStore:
    return SQLiteJobStore(tmp_path / "jobs.sqlite3")


@pytest.fixture()
def client(store: SQLiteJobStore) -> Iterator[TestClient]:
    yield from serve(store, ImageLimits())


def queue_job(store: SQLiteJobStore, job_id: str = "job-1") -> str:
    store.create(job_id, JobInputs(b"person", b"garment", {"category": "auto"}))
    return job_id


def test_a_claimed_job_is_pending_until_its_first_step_starts(client: TestClient, store: SQLiteJobStore) -> None:
    job_id = queue_job(store)
    assert store.claim(WORKER) is not None  # a worker holds it; no step has started yet

    claimed = client.get(f"/api/tryon/{job_id}")
    assert claimed.status_code == 200
    assert claimed.json() == {"job_id": job_id, "status": "pending", "progress": 0, "category": "auto"}

    store.advance(job_id, WORKER, step="segmentation", progress=10)
    started = client.get(f"/api/tryon/{job_id}").json()
    assert (started["status"], started["step"], started["progress"]) == ("processing", "segmentation", 10)


@pytest.mark.parametrize("running", [False, True], ids=["queued", "running"])
def test_a_job_cancelled_by_its_client_polls_as_failed_with_200(
    client: TestClient, store: SQLiteJobStore, running: bool
) -> None:
    job_id = queue_job(store)
    if running:
        store.claim(WORKER)
        store.advance(job_id, WORKER, step="pose", progress=25)

    assert client.delete(f"/api/tryon/{job_id}").json() == {"job_id": job_id, "status": "cancelled"}
    poll = client.get(f"/api/tryon/{job_id}")

    assert poll.status_code == 200
    assert poll.json() == {
        "detail": {"error": "Cancelled by the client.", "job_id": job_id},
        "job_id": job_id,
        "status": "failed",
    }


def test_a_job_that_failed_on_the_server_polls_as_500(client: TestClient, store: SQLiteJobStore) -> None:
    job_id = queue_job(store)
    store.claim(WORKER)
    store.fail(job_id, WORKER, "No person was found in person_image.")

    poll = client.get(f"/api/tryon/{job_id}")

    assert poll.status_code == 500
    assert poll.json()["status"] == "failed"
    assert poll.json()["detail"]["error"] == "No person was found in person_image."


def test_the_schema_says_which_status_a_cancelled_job_polls_with(client: TestClient) -> None:
    operations = client.get("/openapi.json").json()["paths"]["/api/tryon/{job_id}"]
    ok = operations["get"]["responses"]["200"]
    assert "cancelled" in ok["description"]
    shapes = {option["$ref"].rsplit("/", 1)[-1] for option in ok["content"]["application/json"]["schema"]["anyOf"]}
    assert shapes == {"JobStatusResponse", "FailedJobResponse"}
    assert "HTTP 200" in operations["delete"]["description"]
