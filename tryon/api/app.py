"""The FastAPI application: routes, error shapes and the generated docs (/docs, /redoc)."""

from __future__ import annotations

from typing import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.routing import Route

from .. import __version__
from ..library_internals import keep_multipart_uploads_in_memory
from ..engines.base import STEP_PROGRESS
from ..errors import InvalidImage, InvalidOption
from ..jobs import QueueFull, StoreFull
from ..guarded_http import URLRefused
from .demo import demo_router
from .routes import health_router, tryon_router
from .admission import AdmissionPolicy, is_open
from .state import ServiceState

DESCRIPTION = f"""Submit a person photo and a garment photo; poll the job until the result is ready.

Steps and progress: {", ".join(f"{step.value} {progress}" for step, progress in STEP_PROGRESS.items())}.
"""


ROUTERS = (tryon_router, health_router, demo_router)
BEARER_SCHEME = "apiKey"
STORE_FULL_RETRY_SECONDS = 60
STORE_FULL = (
    "The service has run out of storage space and cannot queue or change jobs now; "
    f"try again in about {STORE_FULL_RETRY_SECONDS} s."
)


def create_app() -> FastAPI:
    """The app is built before the service starts; the service sets ``app.state.tryon`` in its init.

    /docs and /redoc load Swagger UI and ReDoc from the service itself (the files ship in the
    fastapi-offline package), not from a CDN, so they render on a host without internet access.
    """
    app = FastAPIOffline(
        title="Virtual Try-On API", version=__version__, description=DESCRIPTION, static_url="/docs/static"
    )
    for router in ROUTERS:
        app.include_router(router)
    app.add_exception_handler(InvalidImage, _invalid_image)
    app.add_exception_handler(URLRefused, _invalid_image)
    app.add_exception_handler(InvalidOption, _invalid_image)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(QueueFull, _queue_full)
    app.add_exception_handler(StoreFull, _store_full)
    app.openapi = lambda: _openapi_with_400_for_invalid_requests(app)
    return app


def _openapi_with_400_for_invalid_requests(app: FastAPI) -> dict:
    """FastAPI documents request validation as 422; this API answers 400 (see ``_invalid_request``)."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for path in schema["paths"].values():
            for operation in path.values():
                if operation.get("responses", {}).pop("422", None) is not None:
                    operation["responses"].setdefault(
                        "400",
                        {
                            "description": "Invalid request",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}
                            },
                        },
                    )
        for unused in ("HTTPValidationError", "ValidationError"):
            schema["components"]["schemas"].pop(unused, None)
        if (state := getattr(app.state, "tryon", None)) is not None and state.admission.api_key:
            _declare_bearer_key(schema)
        app.openapi_schema = schema
    return app.openapi_schema


def _declare_bearer_key(schema: dict) -> None:
    """Document ``TRYON_API_KEY``: a bearer scheme that every operation outside the open paths needs."""
    schema["components"]["securitySchemes"] = {
        BEARER_SCHEME: {"type": "http", "scheme": "bearer", "description": "The service's TRYON_API_KEY."}
    }
    for path, operations in schema["paths"].items():
        if not is_open(path):
            for operation in operations.values():
                operation["security"] = [{BEARER_SCHEME: []}]


def route_table(app: FastAPI) -> list[Route]:
    """Every route the app serves, in one flat list (FastAPI keeps included routers nested)."""
    return [route for route in app.router.routes if isinstance(route, Route)] + [
        route for router in ROUTERS for route in router.routes
    ]


def attach_state(app: FastAPI, state: ServiceState) -> None:
    app.state.tryon = state
    keep_multipart_uploads_in_memory(state.limits.max_bytes)


def admission_policy(app: FastAPI) -> Callable[[], AdmissionPolicy | None]:
    """For the server-wide middleware, which exists before the service (and its state) does."""
    return lambda: state.admission if (state := getattr(app.state, "tryon", None)) else None


async def _invalid_image(request: Request, error: InvalidImage) -> JSONResponse:
    return JSONResponse(status_code=400, content={"detail": str(error)})


async def _queue_full(request: Request, error: QueueFull) -> JSONResponse:
    detail, wait = request.app.state.tryon.admission.queue_full(error.queued)
    return JSONResponse(status_code=429, content={"detail": detail}, headers={"Retry-After": str(wait)})


async def _store_full(request: Request, error: StoreFull) -> JSONResponse:
    """The store has logged it (once per interval); the client may try again later."""
    return JSONResponse(
        status_code=503, content={"detail": STORE_FULL}, headers={"Retry-After": str(STORE_FULL_RETRY_SECONDS)}
    )


async def _invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    """A missing field or a malformed form is a 400 with one readable sentence per problem."""
    problems = []
    for problem in error.errors():
        field = str(problem["loc"][-1]) if problem.get("loc") else "request"
        message = str(problem.get("msg", "invalid value")).removeprefix("Value error, ")
        if problem.get("type") == "missing":
            problems.append(f"{field} is required (send it as a file field in multipart/form-data)")
        elif message.startswith("Expected UploadFile"):  # FastAPI's words for a text field sent instead
            problems.append(
                f"{field} must be a file upload (a multipart/form-data part with a filename), not a text field"
            )
        else:
            problems.append(f"{field}: {message}")
    return JSONResponse(status_code=400, content={"detail": "; ".join(problems) + "."})
