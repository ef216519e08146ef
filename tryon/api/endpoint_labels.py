"""Bounded ``endpoint`` labels for BentoML's request metrics.

BentoML labels each request's metrics with its raw path, so every polled job id, and every path a
scanner invents, added about 20 lines to ``/metrics`` (three metrics, one a histogram) that lived
as long as the process: memory and ``/metrics`` grew with every job. Here each request is labelled
with the route it matched (``/api/tryon/{job_id}``), and a path no route knows with ``unmatched``.
"""

from __future__ import annotations

from collections.abc import Sequence

from bentoml._internal.context import server_context
from bentoml._internal.server.http import instruments
from starlette.routing import Match, Route

UNMATCHED = "unmatched"
# BentoML's own routes beside the app's, and the routes of a task endpoint (``/tryon`` + these).
BENTOML_PATHS = frozenset({"/metrics", "/healthz", "/livez", "/readyz", "/docs.json", "/schema.json"})
TASK_ROUTES = frozenset({"submit", "status", "get", "retry", "cancel"})
_REAL_PATH = "tryon.real_path"  # where the app's real path rides past BentoML's middleware


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


def label_bentoml_metrics_by_route(routes: Sequence[Route]) -> None:
    """Make BentoML's metrics middleware label requests with ``endpoint_label`` (call before serving).

    BentoML builds that middleware from ``instruments.RunnerTrafficMetricsMiddleware`` when the
    server starts, and reads the label from ``scope["path"]``; the subclass hands it the label as the
    path and gives the app behind it the real path back.
    """

    class RouteLabelledMetrics(instruments.RunnerTrafficMetricsMiddleware):
        def __init__(self, inner, **options) -> None:
            super().__init__(_real_path(inner), **options)

        async def __call__(self, scope, receive, send) -> None:
            if scope["type"] == "http":
                scope = {**scope, "path": endpoint_label(routes, scope), _REAL_PATH: scope["path"]}
            await super().__call__(scope, receive, send)

    instruments.RunnerTrafficMetricsMiddleware = RouteLabelledMetrics


def _real_path(inner):
    async def restore(scope, receive, send) -> None:
        if _REAL_PATH in scope:
            scope = {**scope, "path": scope[_REAL_PATH]}
        await inner(scope, receive, send)

    return restore
