"""GET /health with TRYON_API_KEY set: a caller without the key learns only what a load balancer needs."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.test_api_app import client_for as app_client_for
from tryon.api import AdmissionControl, admission_policy
from tryon.api.health import build_health
from tryon.results import StorageStatus

KEY = "health-key-é"
SECRETS = ("internal-results-bucket", "queue", "storage", "models", "job_store", "gpu")


async def full_health():
    return build_health(
        models_loaded=True,
        engine=None,
        job_counts={"queued": 1, "processing": 0, "completed": 2, "failed": 0},
        running_here=0,
        workers=2,
        job_store="sqlite",
        job_store_error=None,
        storage=StorageStatus(backend="s3", bucket="internal-results-bucket"),
    )


def client_for(api_key: str | None) -> TestClient:
    """The app behind its admission middleware, as served (/health is an open path)."""
    app = app_client_for(api_key, health=full_health).app
    return TestClient(AdmissionControl(app, policy=admission_policy(app)))


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": b"Bearer \xff"}])
def test_without_the_key_health_says_only_status_ready_and_engine(headers) -> None:
    response = client_for(KEY).get("/health", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "ready": True, "engine": None}
    for secret in SECRETS:
        assert secret not in response.text


def test_with_the_key_health_is_the_full_answer() -> None:
    response = client_for(KEY).get("/health", headers={"Authorization": b"Bearer " + KEY.encode()})
    body = response.json()
    assert body["storage"] == {"backend": "s3", "bucket": "internal-results-bucket", "error": None}
    assert body["models_loaded"] is True and body["queue"]["completed"] == 2


def test_without_a_key_configured_health_is_the_full_answer_to_anyone() -> None:
    body = client_for(None).get("/health").json()
    assert body["storage"]["bucket"] == "internal-results-bucket" and "cuda_available" in body
