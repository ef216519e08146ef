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


def complete_job(store: SQLiteJobStore, job_id: str, options: dict, pictures: tuple, details: dict) -> None:
    from tryon.jobs import JobResult

    store.create(job_id, JobInputs(b"person", b"garment", {"category": "auto", **options}))
    store.claim(WORKER)
    store.complete(job_id, WORKER, JobResult(pictures=pictures, details=details))


def test_a_num_samples_job_answers_every_picture_with_its_seed(client: TestClient, store: SQLiteJobStore) -> None:
    from tryon.jobs import StoredPicture

    pictures = (StoredPicture(data=b"first"), StoredPicture(data=b"second"))
    complete_job(store, "two", {"num_samples": 2}, pictures, {"seed": 7, "pictures": [{"seed": 7}, {"seed": 8}]})
    complete_job(store, "plain", {}, pictures[:1], {"seed": 7})

    two, plain = client.get("/api/tryon/two").json(), client.get("/api/tryon/plain").json()

    assert two["result_b64"] == "Zmlyc3Q=" and two["seed"] == 7  # the first picture, as before
    assert two["results"] == [{"result_b64": "Zmlyc3Q=", "seed": 7}, {"result_b64": "c2Vjb25k", "seed": 8}]
    assert plain["result_b64"] == "Zmlyc3Q=" and "results" not in plain and "seeds" not in plain


def test_the_output_fields_are_in_the_openapi_schema_with_their_ranges(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    form = next(
        component for name, component in schema["components"]["schemas"].items() if name.startswith("Body_submit_tryon")
    )["properties"]
    assert form["output_format"]["enum"] == ["png", "jpeg", "webp"] and form["output_format"]["default"] == "png"
    quality = next(option for option in form["output_quality"]["anyOf"] if option["type"] == "integer")
    assert (quality["minimum"], quality["maximum"]) == (1, 100)
    samples = next(option for option in form["num_samples"]["anyOf"] if option["type"] == "integer")
    assert (samples["minimum"], samples["maximum"]) == (1, 4)
    assert "results" in schema["components"]["schemas"]["JobStatusResponse"]["properties"]
