"""How the API receives uploads, in process (the served API is tested in ``tests/e2e``)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.formparsers import MultiPartParser

from tryon.api import (
    AdmissionControl,
    AdmissionPolicy,
    ServiceState,
    admission_policy,
    attach_state,
    create_app,
)
from tryon.images import ImageLimits
from tryon.jobs import JobStatus
from tryon.jobs.sqlite_store import SQLiteJobStore
from tryon.results import ResultPublisher

from tests.factories import image_bytes
from tests.hostile_images import HOSTILE, hostile_bytes


@pytest.fixture()
def store(tmp_path: Path) -> SQLiteJobStore:
    return SQLiteJobStore(tmp_path / "jobs.sqlite3")


SMALL_UPLOADS = 64 * 1024  # a limit the tests can pass cheaply: bodies over 1.125 MB are refused


@pytest.fixture()
def client(store: SQLiteJobStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(MultiPartParser, "spool_max_size", 1024 * 1024)  # Starlette's default
    yield from serve(store, ImageLimits())


@pytest.fixture()
def small_client(store: SQLiteJobStore) -> Iterator[TestClient]:
    yield from serve(store, ImageLimits(max_bytes=SMALL_UPLOADS))


def serve(store: SQLiteJobStore, limits: ImageLimits) -> Iterator[TestClient]:
    """The app behind the admission middleware, as the service serves it."""
    state = ServiceState(
        store=store,
        wake=lambda: None,
        limits=limits,
        results=ResultPublisher(None),
        admission=AdmissionPolicy(
            api_key=None, max_queue=10, queued=lambda: 0, workers=1, max_upload_bytes=limits.max_bytes
        ),
        health=None,  # not called here
    )
    app = create_app()
    attach_state(app, state)
    with TestClient(AdmissionControl(app, policy=admission_policy(app))) as client:
        yield client


def test_a_photo_over_a_megabyte_is_parsed_in_memory(
    client: TestClient,
    store: SQLiteJobStore,
    person_bytes: bytes, garment_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Starlette would spool it to a temporary file and write each chunk from a thread."""
    assert len(person_bytes) > 1024 * 1024
    rollovers = []
    original = tempfile.SpooledTemporaryFile.rollover
    monkeypatch.setattr(
        tempfile.SpooledTemporaryFile, "rollover", lambda self: rollovers.append(1) or original(self)
    )

    response = client.post(
        "/api/tryon",
        files={"person_image": ("p.png", person_bytes), "clothing_image": ("c.jpg", garment_bytes)},
    )

    assert response.status_code == 202, response.text
    assert rollovers == []
    record, inputs = store.claim("test-worker")
    assert record.job_id == response.json()["job_id"] and record.status is JobStatus.PROCESSING
    assert inputs.person_image == person_bytes and inputs.clothing_image == garment_bytes


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """A body sent without a Content-Length (chunked), as a streaming client sends it."""
    yield b"--x\r\nContent-Disposition: form-data; name=person_image; filename=p.png\r\n\r\n"
    for _ in range(total // size):
        yield b"\0" * size


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_body_larger_than_three_photos_is_refused(
    small_client: TestClient, store: SQLiteJobStore, declared: bool
) -> None:
    body = b"".join(chunks(2 * 1024 * 1024))
    response = small_client.post(
        "/api/tryon",
        content=body if declared else chunks(len(body)),
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": "The request body is larger than 1 MB: send at most three photos of at most 0.0625 MB each."
    }
    assert store.counts()["queued"] == 0


def test_a_body_within_the_limit_is_read_whole(small_client: TestClient, store: SQLiteJobStore) -> None:
    """The counting does not refuse what fits: a well-formed small pair is queued."""
    person, garment = image_bytes("PNG", (200, 300)), image_bytes("JPEG", (200, 300))
    response = small_client.post(
        "/api/tryon", files={"person_image": ("p.png", person), "clothing_image": ("c.jpg", garment)}
    )
    assert response.status_code == 202, response.text
    assert store.counts()["queued"] == 1


def test_a_photo_sent_as_a_text_field_is_named_in_a_plain_sentence(client: TestClient, garment_bytes: bytes) -> None:
    response = client.post(
        "/api/tryon", data={"person_image": "aGVsbG8="}, files={"clothing_image": ("c.jpg", garment_bytes)}
    )
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "person_image must be a file upload (a multipart/form-data part with a filename), not a text field."
    )


@pytest.mark.parametrize("name", ["PNG with a short IDAT", "PNG 64x12000"])
def test_a_truncated_or_thin_image_is_refused_at_submit(client: TestClient, garment_bytes: bytes, store, name) -> None:
    files = {"person_image": ("p.png", hostile_bytes(name)), "clothing_image": ("c.jpg", garment_bytes)}
    response = client.post("/api/tryon", files=files)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("person_image ") and HOSTILE[name].refused in response.json()["detail"]
    assert store.counts()["queued"] == 0
