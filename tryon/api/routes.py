"""The documented routes. Each turns HTTP into one call on the service state and back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Path, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from ..engines.base import Category
from ..engines.outfits import outfit_category_refusal
from ..jobs import metrics
from ..results.webhooks import check_webhook_url
from .engine_options import EngineOptionsForm
from .schemas import (
    CancelResponse,
    CategoryName,
    ErrorResponse,
    OutputFormatField,
    OutputQuality,
    FailedJobResponse,
    HealthResponse,
    JobStatusResponse,
    PublicHealthResponse,
    SubmitResponse,
)
from .admission import bearer_matches
from .output_options import output_options
from .health import public_health
from .photo_inputs import BottomImageURL, ClothingImageURL, FormOrJSONRoute, PersonImageURL, PhotoSource, read_photos
from .state import ServiceState
from .views import CANCELLED, poll_body


def get_state(request: Request) -> ServiceState:
    return request.app.state.tryon


StateDep = Annotated[ServiceState, Depends(get_state)]
JobIdPath = Annotated[str, Path(max_length=64, description="Job ID returned by POST /api/tryon")]
UNAUTHORIZED = {401: {"model": ErrorResponse, "description": "API key missing or wrong (when TRYON_API_KEY is set)"}}

tryon_router = APIRouter(prefix="/api", tags=["try-on"], route_class=FormOrJSONRoute)
health_router = APIRouter(tags=["operations"])


@tryon_router.post(
    "/tryon",
    status_code=202,
    summary="Submit a virtual try-on job",
    responses={
        400: {"model": ErrorResponse, "description": "Invalid file type, size or content"},
        **UNAUTHORIZED,
        429: {
            "model": ErrorResponse,
            "description": "Queue full, or too many photos by URL being fetched; retry after the Retry-After header",
        },
    },
)
def submit_tryon(
    state: StateDep,
    engine_options: EngineOptionsForm,  # every registered engine's options, as form fields after these
    person_image: Annotated[
        UploadFile, File(description="Full-body photo of the person (JPG/PNG/WEBP, max 20MB); or person_image_url")
    ] = None,
    clothing_image: Annotated[
        UploadFile, File(description="Photo of the clothing item (JPG/PNG/WEBP, max 20MB); or clothing_image_url")
    ] = None,
    category: Annotated[
        CategoryName,
        Form(
            description="upper_body (shirts, tops, jackets), lower_body (trousers, shorts, skirts, leggings), "
            "dresses (dresses, jumpsuits), or auto: decided from the garment photo (a flat-lay's shape, "
            "a worn photo's keypoints); a photo that does not tell fails the job, naming this field."
        ),
    ] = "auto",
    webhook_url: Annotated[
        str | None,
        Form(max_length=2048, description="POSTed the job's final poll JSON when it ends (signed)."),
    ] = None,
    person_image_url: PersonImageURL = None,
    clothing_image_url: ClothingImageURL = None,
    # A whole outfit: clothing_image is then the top (tryon/engines/outfits.py).
    bottom_image: Annotated[
        UploadFile,
        File(
            description="Optional: the bottoms of a whole outfit (trousers, shorts or a skirt; JPG/PNG/WEBP, "
            "max 20MB); or bottom_image_url. clothing_image is then the top, dressed over them; category "
            "must be auto or upper_body."
        ),
    ] = None,
    bottom_image_url: BottomImageURL = None,
    output_format: OutputFormatField = "png",
    output_quality: OutputQuality = None,
) -> SubmitResponse:
    options = {"category": category, "engine_options": engine_options}
    options.update(output_options(output_format, output_quality))
    if webhook_url:
        check_webhook_url(webhook_url, allow_private=state.allow_private_webhooks)  # refused -> 400
        options["webhook_url"] = webhook_url
    bottoms = bottom_image_sources(Category(category), bottom_image, bottom_image_url)
    person, clothing, *bottom = read_photos(  # a URL is fetched here, once: the job holds the bytes
        state,
        PhotoSource("person_image", person_image, person_image_url),
        PhotoSource("clothing_image", clothing_image, clothing_image_url),
        *bottoms,
    )
    job_id = state.submit(person, clothing, options=options, bottom_image=bottom[0] if bottom else None)
    return SubmitResponse(job_id=job_id)


@tryon_router.get(
    "/tryon/{job_id}",
    summary="Poll a job's status and retrieve its result",
    response_model_exclude_none=True,
    responses={
        200: {
            "description": "The job: pending, processing or completed; or, when its client cancelled "
            "it (DELETE), the failed-job body with the reason 'Cancelled by the client.'",
        },
        **UNAUTHORIZED,
        404: {"model": ErrorResponse, "description": "No job with this id"},
        500: {"model": FailedJobResponse, "description": "The job failed"},
    },
)
def get_tryon(
    state: StateDep,
    job_id: JobIdPath,
) -> JobStatusResponse | FailedJobResponse:
    record = state.store.get(job_id)
    if record is None:
        raise HTTPException(status_code=404, detail=f"No try-on job with id {job_id}.")
    status_code, body = poll_body(record, state.results)
    return JSONResponse(status_code=status_code, content=body)


@tryon_router.delete(
    "/tryon/{job_id}",
    summary="Cancel a job",
    description="A queued job is cancelled at once; a running one stops at its next step. Polling a "
    "cancelled job then answers HTTP 200 with the failed-job body (status 'failed', detail.error "
    "'Cancelled by the client.'), so polling clients stop.",
    responses={
        **UNAUTHORIZED,
        404: {"model": ErrorResponse, "description": "No job with this id"},
        409: {"model": ErrorResponse, "description": "The job has already ended"},
    },
)
def cancel_tryon(state: StateDep, job_id: JobIdPath) -> CancelResponse:
    if state.store.cancel(job_id, CANCELLED):
        metrics.job_finished("failed", "cancelled")
        return CancelResponse(job_id=job_id)
    record = state.store.get(job_id)
    if record is None:
        raise HTTPException(status_code=404, detail=f"No try-on job with id {job_id}.")
    raise HTTPException(status_code=409, detail=f"Job {job_id} has already {record.status.value}.")


@tryon_router.api_route(
    "/{unknown:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"], include_in_schema=False
)
def unknown_api_route(request: Request, unknown: str) -> Response:
    """404 for a path no route serves; for one that a route serves with other methods, 405 with
    every method allowed there (Starlette's own 405 names only the first route's), or for OPTIONS
    204 with the same ``Allow``."""
    allowed = sorted(
        method
        for route in tryon_router.routes
        if route.endpoint is not unknown_api_route and route.path_regex.match(request.url.path)
        for method in route.methods
    )
    if not allowed:
        raise HTTPException(status_code=404, detail=f"No such endpoint: /api/{unknown}.")
    allow = {"Allow": ", ".join([*allowed, "OPTIONS"])}
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=allow)
    raise HTTPException(
        status_code=405, detail=f"/api/{unknown} answers {' and '.join(allowed)}, not {request.method}.", headers=allow
    )


@health_router.get(
    "/health",
    summary="Service health and GPU memory status",
    description="With TRYON_API_KEY set, a caller without the key gets only status, ready and engine.",
)
async def health(request: Request, state: StateDep) -> HealthResponse | PublicHealthResponse:
    full = await state.health()
    if state.admission.api_key and not bearer_matches(request.scope, state.admission.api_key):
        return public_health(full)
    return full


def bottom_image_sources(category: Category, upload: UploadFile | None, url: str | None) -> list[PhotoSource]:
    """A whole outfit's bottoms as the one photo to read, or none; a ``category`` that names no top
    is a 400 naming both fields, before any photo is read."""
    if upload is None and not url:
        return []
    if (refusal := outfit_category_refusal(category)) is not None:
        raise HTTPException(status_code=400, detail=refusal)
    return [PhotoSource("bottom_image", upload, url)]
