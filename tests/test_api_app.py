"""The FastAPI app's answers to methods a route does not take, and its OpenAPI security scheme."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tryon.api import AdmissionPolicy, ServiceState, attach_state, create_app
from tryon.images import ImageLimits
from tryon.results import ResultPublisher


def client_for(api_key: str | None, health=None) -> TestClient:
    """The app alone (no admission middleware: the key itself is tested in test_admission.py);
    ``health`` is the state's ``/health`` figures (an async callable)."""
    app = create_app()
    policy = AdmissionPolicy(api_key=api_key, max_queue=10, queued=lambda: 0, workers=1, max_upload_bytes=1024)
    attach_state(
        app,
        ServiceState(
            store=None, wake=lambda: None, limits=ImageLimits(), results=ResultPublisher(None), admission=policy, health=health
        ),
    )
    return TestClient(app)


@pytest.mark.parametrize(
    ("path", "allow"), [("/api/tryon", "POST, OPTIONS"), ("/api/tryon/some-job", "DELETE, GET, OPTIONS")]
)
def test_options_lists_every_method_of_the_path(path: str, allow: str) -> None:
    response = client_for(None).options(path)
    assert response.status_code == 204 and response.headers["Allow"] == allow


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/api/tryon", "POST, OPTIONS"),
        ("GET", "/api/tryon", "POST, OPTIONS"),
        ("PATCH", "/api/tryon/some-job", "DELETE, GET, OPTIONS"),
        ("PUT", "/api/tryon/some-job", "DELETE, GET, OPTIONS"),
    ],
)
def test_a_method_the_path_does_not_take_is_405_with_allow(method: str, path: str, allow: str) -> None:
    response = client_for(None).request(method, path)
    assert response.status_code == 405
    assert response.headers["Allow"] == allow
    assert f"not {method}" in response.json()["detail"]


def test_a_path_no_route_serves_is_still_404() -> None:
    response = client_for(None).put("/api/no/such/route")
    assert response.status_code == 404 and "No such endpoint" in response.json()["detail"]


def test_openapi_declares_the_bearer_key_only_when_one_is_set() -> None:
    guarded = client_for("k").get("/openapi.json").json()
    assert guarded["components"]["securitySchemes"]["apiKey"] == {
        "type": "http", "scheme": "bearer", "description": "The service's TRYON_API_KEY."
    }
    assert guarded["paths"]["/api/tryon"]["post"]["security"] == [{"apiKey": []}]
    assert guarded["paths"]["/api/tryon/{job_id}"]["delete"]["security"] == [{"apiKey": []}]
    assert "security" not in guarded["paths"]["/health"]["get"]

    open_schema = client_for(None).get("/openapi.json").json()
    assert "securitySchemes" not in open_schema["components"]
    assert "security" not in open_schema["paths"]["/api/tryon"]["post"]
