"""The API with its job store's disk full: 503s with a reason, a degraded /health, then recovery."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tryon.api import AdmissionControl, admission_policy, attach_state, create_app
from tryon.jobs import store as store_module
from tryon.service.api_side import ApiSide
from tryon.service.job_workers import WorkerStatus
from tryon.service.parts import build_job_store, build_result_publisher
from tryon.settings import Settings

from tests.factories import image_bytes
from tests.jobs.test_store_full import sqlite_disk_full

DISK_FULL = sqlite3.OperationalError("database or disk is full")


@pytest.fixture()
def api(tmp_path: Path) -> ApiSide:
    async def workers_ready() -> WorkerStatus:
        return WorkerStatus(models_loaded=True, running=0, workers=1)

    settings = Settings(data_dir=tmp_path)
    return ApiSide(
        settings,
        store=build_job_store(settings),
        results=build_result_publisher(settings),
        wake=lambda: None,
        worker_status=workers_ready,
    )


@pytest.fixture()
def client(api: ApiSide) -> Iterator[TestClient]:
    app = create_app()
    attach_state(app, api.state)
    with TestClient(AdmissionControl(app, policy=admission_policy(app))) as client:
        yield client


def submit(client: TestClient):
    files = {
        "person_image": ("p.png", image_bytes(size=(256, 384))),
        "clothing_image": ("c.png", image_bytes(size=(256, 256))),
    }
    return client.post("/api/tryon", files=files)


def test_a_full_disk_answers_503_with_a_reason_and_health_says_why(client, api) -> None:
    job_id = submit(client).json()["job_id"]
    assert client.get("/health").json()["status"] == "ok"

    with sqlite_disk_full(api.store, DISK_FULL):
        for refused in (submit(client), client.delete(f"/api/tryon/{job_id}")):
            assert refused.status_code == 503
            assert refused.headers["Content-Type"] == "application/json"
            assert int(refused.headers["Retry-After"]) > 0
            assert "out of storage space" in refused.json()["detail"]
        assert client.get(f"/api/tryon/{job_id}").json()["status"] == "pending"  # reads still answer
        health = client.get("/health").json()
        assert health["status"] == "degraded"
        assert "disk" in health["job_store_error"] and "full" in health["job_store_error"]

    assert submit(client).status_code == 202  # space freed: it works again by itself
    assert client.delete(f"/api/tryon/{job_id}").status_code == 200


def test_health_is_ok_again_once_no_write_has_been_refused_for_a_while(client, api, monkeypatch) -> None:
    with sqlite_disk_full(api.store, DISK_FULL):
        assert submit(client).status_code == 503
    assert client.get("/health").json()["status"] == "degraded"
    monkeypatch.setattr(store_module, "FULL_REPORT_SECONDS", 0.0)
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["job_store_error"] is None
