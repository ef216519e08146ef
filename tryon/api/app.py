"""The FastAPI application: routes, error shapes and the generated docs (/docs, /redoc)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from .. import __version__
from ..errors import InvalidImage
from .routes import health_router, tryon_router
from .state import ServiceState

DESCRIPTION = """Submit a person photo and a garment photo; poll the job until the result is ready.

Steps and progress: segmentation 10, pose 25, warp 40, inpainting 55, blend 85, done 100.
"""


def create_app() -> FastAPI:
    """The app is built before the service starts; the service sets ``app.state.tryon`` in its init."""
    app = FastAPI(title="Virtual Try-On API", version=__version__, description=DESCRIPTION)
    app.include_router(tryon_router)
    app.include_router(health_router)
    app.add_exception_handler(InvalidImage, _invalid_image)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    return app


def attach_state(app: FastAPI, state: ServiceState) -> None:
    app.state.tryon = state


async def _invalid_image(request: Request, error: InvalidImage) -> JSONResponse:
    return JSONResponse(status_code=400, content={"detail": str(error)})


async def _invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    """A missing field or a malformed form is a 400 with one readable sentence per problem."""
    problems = []
    for problem in error.errors():
        field = str(problem["loc"][-1]) if problem.get("loc") else "request"
        if problem.get("type") == "missing":
            problems.append(f"{field} is required (send it as a file field in multipart/form-data)")
        else:
            problems.append(f"{field}: {problem.get('msg', 'invalid value')}")
    return JSONResponse(status_code=400, content={"detail": "; ".join(problems) + "."})
