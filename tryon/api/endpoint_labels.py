"""Bounded ``endpoint`` labels for BentoML's request metrics: the route a request matched
(``/api/tryon/{job_id}``), or ``unmatched``, never the raw path (a series per job id otherwise).

``tryon.library_internals.label_bentoml_request_metrics`` makes BentoML use them.
"""

from __future__ import annotations

from collections.abc import Sequence

from bentoml import server_context
from starlette.routing import Match, Route

UNMATCHED = "unmatched"
# BentoML's own routes beside the app's, and the routes of a task endpoint (``/tryon`` + these).
BENTOML_PATHS = frozenset({"/metrics", "/healthz", "/livez", "/readyz", "/docs.json", "/schema.json"})
TASK_ROUTES = frozenset({"submit", "status", "get", "retry", "cancel"})


def endpoint_label(routes: Sequence[Route], scope: dict) -> str:
    """The template of the route that ``scope`` matches, else a BentoML route, else ``unmatched``."""
    path: str = scope["path"]
    for route in routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE:  # PARTIAL: the path matches, the method does not (a 405)
            return route.path
    if path in BENTOML_PATHS or path in server_context.service_routes:
        return path
    api_route, _, task_route = path.rpartition("/")
    if api_route in server_context.service_routes and task_route in TASK_ROUTES:
        return path
    return UNMATCHED
