"""The ``endpoint`` label of BentoML's request metrics: bounded whatever paths clients send."""

from __future__ import annotations

import pytest

from tryon.api import create_app, route_table
from tryon.api.endpoint_labels import UNMATCHED, endpoint_label

ROUTES = route_table(create_app())


@pytest.mark.parametrize(
    ("method", "path", "label"),
    [
        ("POST", "/api/tryon", "/api/tryon"),
        ("GET", "/api/tryon/0b7e9c2a-51d4-4a8e-9f0e-3c7d2b1a6f45", "/api/tryon/{job_id}"),
        ("DELETE", "/api/tryon/anything", "/api/tryon/{job_id}"),
        ("PUT", "/api/tryon/anything", "/api/tryon/{job_id}"),  # a 405: still the route's label
        ("GET", "/api/no/such/route", "/api/{unknown:path}"),
        ("GET", "/health", "/health"),
        ("GET", "/docs", "/docs"),
        ("GET", "/demo/app.js", "/demo/{asset}"),
        ("GET", "/metrics", "/metrics"),  # BentoML's own
        ("GET", "/wp-login.php", UNMATCHED),
        ("GET", "/tryon/not-a-task-route", UNMATCHED),
    ],
)
def test_label(method: str, path: str, label: str) -> None:
    assert endpoint_label(ROUTES, {"type": "http", "method": method, "path": path, "root_path": ""}) == label


def test_task_routes_keep_their_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    from bentoml._internal.context import server_context

    monkeypatch.setattr(server_context, "service_routes", ["/tryon"])
    scope = {"type": "http", "method": "POST", "path": "/tryon/submit", "root_path": ""}
    assert endpoint_label(ROUTES, scope) == "/tryon/submit"
