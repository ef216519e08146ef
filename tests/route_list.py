"""Every route the server serves (the FastAPI app's and BentoML's own), and which are open."""

from __future__ import annotations

import re

from starlette.routing import Mount, Route

# (method, path) pairs answered without the API key when one is set; every other route needs it.
OPEN_ROUTES = {
    ("GET", "/"),
    ("GET", "/health"),
    ("GET", "/livez"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/openapi.json"),
    ("GET", "/docs.json"),
    ("GET", "/schema.json"),
    ("GET", "/static_content/{file}"),
    ("GET", "/demo"),
    ("GET", "/demo/{asset}"),
}


def served_routes() -> set[tuple[str, str]]:
    """(method, path template) of every route ``bentoml serve service:TryOnService`` answers."""
    import service  # the real service module: its FastAPI app and BentoML's app around it

    from tryon.api import route_table

    routes: set[tuple[str, str]] = set()
    for route in [*service.TryOnService.to_asgi().routes, *route_table(service.app)]:
        if isinstance(route, Mount) and route.path:  # a static directory
            routes.add(("GET", f"{route.path}/{{file}}"))
        elif isinstance(route, Route):
            routes.update((method, route.path) for method in route.methods or () if method != "HEAD")
    return routes


def example_path(template: str) -> str:
    """A concrete path for a route template: every ``{parameter}`` becomes ``x``."""
    return re.sub(r"\{[^}]+\}", "x", template)
