"""The API key guards every route of the server except the probes, metrics, docs and demo page."""

from __future__ import annotations

import pytest
from starlette.responses import PlainTextResponse
from starlette.testclient import TestClient

from tryon.api import AdmissionControl, AdmissionPolicy

from .route_list import OPEN_ROUTES, example_path, served_routes

KEY = "route-table-key"
POLICY = AdmissionPolicy(api_key=KEY, max_queue=10, queued=lambda: 0, workers=1, max_upload_bytes=1024)
ROUTES = sorted(served_routes())


@pytest.fixture(scope="module")
def guarded() -> TestClient:
    """The admission middleware in front of an app that answers 200 to whatever reaches it."""
    return TestClient(AdmissionControl(PlainTextResponse("reached"), policy=lambda: POLICY))


def test_the_route_table_is_what_the_server_serves() -> None:
    paths = {path for _, path in ROUTES}
    # BentoML's task routes (the synchronous call included), the API, and the open ones.
    assert {"/tryon", "/tryon/submit", "/tryon/status", "/tryon/get", "/tryon/retry", "/tryon/cancel"} <= paths
    assert {("POST", "/api/tryon"), ("GET", "/api/tryon/{job_id}"), ("DELETE", "/api/tryon/{job_id}")} <= set(ROUTES)
    assert OPEN_ROUTES <= set(ROUTES), "an open route listed here is no longer served"


def test_only_the_listed_routes_are_open_without_the_key(guarded) -> None:
    reached = set()
    for method, path in ROUTES:
        response = guarded.request(method, example_path(path))
        assert response.status_code in (200, 401), (method, path)
        if response.status_code == 200:
            reached.add((method, path))
        else:
            assert response.headers["WWW-Authenticate"] == "Bearer"
    assert reached == OPEN_ROUTES


def test_every_route_is_reached_with_the_key(guarded) -> None:
    for method, path in ROUTES:
        response = guarded.request(method, example_path(path), headers={"Authorization": f"Bearer {KEY}"})
        assert response.status_code == 200, (method, path)


@pytest.mark.parametrize("path", ["/tryon", "/tryon/", "/api/tryon/", "/not-a-route", "/docsx", "/metrics/x"])
def test_paths_no_route_lists_need_the_key_too(guarded, path) -> None:
    assert guarded.post(path).status_code == 401


@pytest.mark.parametrize("path", ["/api/tryon", "/tryon", "/tryon/submit", "/tryon/retry"])
def test_every_route_that_queues_a_job_is_refused_when_the_queue_is_full(path) -> None:
    full = AdmissionPolicy(api_key=None, max_queue=3, queued=lambda: 3, workers=1, max_upload_bytes=1024)
    client = TestClient(AdmissionControl(PlainTextResponse("reached"), policy=lambda: full))

    response = client.post(path)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert response.json()["detail"] == "The queue is full (3 jobs waiting); try again in about 3 s."
    assert client.get("/api/tryon/some-job").status_code == 200  # polls are not refused
