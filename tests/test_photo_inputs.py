"""Photos by URL through the API in process: fetched once, at submission, and queued as bytes."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from tests.photo_server import PhotoServer
from tryon.api import AdmissionPolicy, ServiceState, attach_state, create_app
from tryon.images import ImageLimits
from tryon.jobs.sqlite_store import SQLiteJobStore
from tryon.results import ResultPublisher

PERSON, GARMENT = "persons/studio_man_hoodie.png", "garments/tshirt_white.jpg"


def test_a_retry_of_the_job_works_from_the_bytes_fetched_at_submission(tmp_path: Path, data_dir: Path) -> None:
    store = SQLiteJobStore(tmp_path / "jobs.sqlite3", lease_seconds=0.2)
    limits = ImageLimits()
    state = ServiceState(
        store=store,
        wake=lambda: None,
        limits=limits,
        results=ResultPublisher(None),
        admission=AdmissionPolicy(api_key=None, max_queue=10, queued=lambda: 0, workers=1, max_upload_bytes=limits.max_bytes),
        health=None,  # not called here
        allow_private_image_urls=True,
    )
    app = create_app()
    attach_state(app, state)
    photos = PhotoServer(data_dir)
    try:
        with TestClient(app) as client:
            response = client.post(
                "/api/tryon",
                json={"person_image_url": photos.url(f"files/{PERSON}"), "clothing_image_url": photos.url(f"files/{GARMENT}")},
            )
    finally:
        photos.close()  # a fetch after submission would now fail
    assert response.status_code == 202, response.text

    _, first = store.claim("worker-1")
    time.sleep(0.3)  # worker-1 stops renewing its lease: the job is taken over, as after a crash
    record, retry = store.claim("worker-2")

    assert record.attempts == 2
    for inputs in (first, retry):
        assert inputs.person_image == (data_dir / PERSON).read_bytes()
        assert inputs.clothing_image == (data_dir / GARMENT).read_bytes()
        assert not any("url" in name for name in inputs.options)
    assert sorted(photos.requests) == sorted([f"/files/{PERSON}", f"/files/{GARMENT}"])
