"""How the API receives uploads, in process (the served API is tested in ``tests/e2e``)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.formparsers import MultiPartParser

from tryon.api import AdmissionPolicy, ServiceState, attach_state, create_app
from tryon.images import ImageLimits
from tryon.jobs import JobStatus
from tryon.jobs.sqlite_store import SQLiteJobStore
from tryon.results import ResultPublisher


@pytest.fixture()
def store(tmp_path: Path) -> SQLiteJobStore:
    return SQLiteJobStore(tmp_path / "jobs.sqlite3")


@pytest.fixture()
def client(store: SQLiteJobStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(MultiPartParser, "spool_max_size", 1024 * 1024)  # Starlette's default
    state = ServiceState(
        store=store,
        wake=lambda: None,
        limits=ImageLimits(),
        results=ResultPublisher(None),
        admission=AdmissionPolicy(api_key=None, max_queue=10, queued=lambda: 0, workers=1),
        health=None,  # not called here
    )
    app = create_app()
    attach_state(app, state)
    with TestClient(app) as client:
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
