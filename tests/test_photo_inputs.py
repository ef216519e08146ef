"""Photos by URL through the API in process: fetched once, at submission, and queued as bytes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.photo_server import PhotoServer
from tryon.api import AdmissionPolicy, ServiceState, attach_state, create_app
from tryon.guarded_http import FetchLimits
from tryon.images import ImageLimits
from tryon.jobs.sqlite_store import SQLiteJobStore
from tryon.results import ResultPublisher

PERSON, GARMENT = "persons/studio_man_hoodie.png", "garments/tshirt_white.jpg"


def served_app(store: SQLiteJobStore, **state_settings) -> FastAPI:
    """The API app over ``store``, allowed to fetch photos from loopback."""
    limits = ImageLimits()
    state = ServiceState(
        store=store,
        wake=lambda: None,
        limits=limits,
        results=ResultPublisher(None),
        admission=AdmissionPolicy(api_key=None, max_queue=10, queued=lambda: 0, workers=1, max_upload_bytes=limits.max_bytes),
        health=None,  # not called here
        allow_private_image_urls=True,
        **state_settings,
    )
    app = create_app()
    attach_state(app, state)
    return app


def test_a_retry_of_the_job_works_from_the_bytes_fetched_at_submission(tmp_path: Path, data_dir: Path) -> None:
    store = SQLiteJobStore(tmp_path / "jobs.sqlite3", lease_seconds=0.2)
    app = served_app(store)
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


def test_fetches_beyond_the_cap_are_refused_with_429_while_uploads_and_polls_go_on(
    tmp_path: Path, data_dir: Path
) -> None:
    """Two submissions hold both fetch slots on a URL that never answers; a third by URL gets a 429
    at once, naming its URL field, while an upload is queued and a poll answered; once the slow
    fetches give up (their 400), a URL submission is taken again."""
    store = SQLiteJobStore(tmp_path / "jobs.sqlite3")
    app = served_app(store, image_url_max_fetches=2, image_url_limits=FetchLimits(timeout_seconds=4))
    photos = PhotoServer(data_dir, slow_seconds=60)
    by_url = {"person_image_url": photos.url(f"files/{PERSON}"), "clothing_image_url": photos.url(f"files/{GARMENT}")}
    slow = {**by_url, "clothing_image_url": photos.url("slow")}
    try:
        with TestClient(app) as client:
            held: list = []
            holders = [
                threading.Thread(target=lambda: held.append(client.post("/api/tryon", json=slow))) for _ in range(2)
            ]
            for holder in holders:
                holder.start()
            deadline = time.monotonic() + 3
            while photos.requests.count("/slow") < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert photos.requests.count("/slow") == 2, photos.requests

            refused = client.post("/api/tryon", data={"clothing_image_url": by_url["clothing_image_url"]},
                                  files={"person_image": ("p.png", (data_dir / PERSON).read_bytes())})
            uploaded = client.post("/api/tryon", files={
                "person_image": ("p.png", (data_dir / PERSON).read_bytes()),
                "clothing_image": ("g.jpg", (data_dir / GARMENT).read_bytes()),
            })  # fmt: skip
            polled = client.get(f"/api/tryon/{uploaded.json()['job_id']}")
            fetches_while_full = photos.requests.count(f"/files/{GARMENT}")
            for holder in holders:
                holder.join(timeout=10)
            after = client.post("/api/tryon", json=by_url)
    finally:
        photos.close()

    assert refused.status_code == 429, refused.text
    assert refused.headers["Retry-After"] == "4"
    assert refused.json()["detail"].startswith("clothing_image_url: the service is already fetching photos by URL")
    assert "for 2 submissions" in refused.json()["detail"]
    assert fetches_while_full == 0  # refused before any connection
    assert uploaded.status_code == 202 and polled.status_code == 200
    assert [response.status_code for response in held] == [400, 400]
    assert "did not send its photo within 4 s" in held[0].json()["detail"]
    assert after.status_code == 202, after.text
