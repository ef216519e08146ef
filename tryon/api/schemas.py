"""Request and response shapes of the HTTP API, as documented in the API contract."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Form
from pydantic import BaseModel, ConfigDict, Field

from ..engines.base import Category, Step
from ..images import DEFAULT_OUTPUT_QUALITY, OUTPUT_FORMATS
from ..models.devices import GpuInfo
from ..models.licences import ModelInUse
from .engine_options import with_engine_details

JobState = Literal["pending", "processing", "completed", "failed"]
CategoryName = Literal[tuple(category.value for category in Category)]
StepName = Literal[tuple(step.value for step in Step)]

# How the result pictures are encoded, whatever the engine.
OutputFormatName = Literal[tuple(OUTPUT_FORMATS)]
OutputFormatField = Annotated[
    OutputFormatName,
    Form(description="png (default, lossless), jpeg or webp: the format of result_b64, result_url and results."),
]
OutputQuality = Annotated[
    int | None,
    Form(
        ge=1,
        le=100,
        description=f"JPEG or WebP quality, 1 to 100 (default {DEFAULT_OUTPUT_QUALITY}); refused with png.",
    ),
]


class SubmitResponse(BaseModel):
    job_id: str = Field(description="Unguessable job id (UUID4) to poll at GET /api/tryon/{job_id}.")
    status: Literal["queued"] = "queued"


class ResultPicture(BaseModel):
    """One picture of a completed job, kept as the job's first picture is, and what the engine says of
    it (FASHN VTON: the seed it was sampled with)."""

    model_config = ConfigDict(extra="allow")

    result_url: str | None = Field(default=None, description="Presigned URL of the picture (S3 configured).")
    result_b64: str | None = Field(default=None, description="The picture, base64-encoded (no S3).")


class JobStatusResponseFields(BaseModel):
    """A job as a poll sees it. Keys that do not apply to the job's state are left out."""

    job_id: str
    status: JobState = Field(
        description="pending (queued), processing, completed or failed.",
    )
    progress: int = Field(ge=0, le=100, description="Percent; each step sets its documented value.")
    step: StepName | None = Field(
        default=None, description="The step running now (processing only)."
    )
    result_url: str | None = Field(
        default=None,
        description="Presigned URL of the result (completed, S3 configured): a PNG, or the output_format asked "
        "for; with num_samples, the first picture.",
    )
    result_b64: str | None = Field(
        default=None,
        description="The result, base64-encoded (completed, no S3): a PNG, or the output_format asked for; with "
        "num_samples, the first picture.",
    )
    results: list[ResultPicture] | None = Field(
        default=None,
        description="Every picture, first one first (completed, when the request set num_samples).",
    )
    warning: str | None = Field(
        default=None,
        description="Set when the job completed but something went wrong on the way (e.g. the S3 "
        "upload failed, so the result comes as result_b64).",
    )
    category: CategoryName | None = Field(
        default=None,
        description="The garment category: as requested, then (completed) the one the pipeline used.",
    )
    notes: list[str] | None = Field(
        default=None, description="What the pipeline decided on the way (completed only)."
    )
    width: int | None = Field(default=None, description="The result's width in pixels (completed).")
    height: int | None = Field(
        default=None,
        description="The result's height in pixels (completed): the person photo's size (as decoded, at "
        "most TRYON_WORKING_SIDE_PX on its longest side). With result_size model, FASHN VTON returns the "
        "person photo's aspect at the model's resolution, at most 864 high (e.g. 549x864 for a 700x1100 photo).",
    )


JobStatusResponse = with_engine_details(JobStatusResponseFields)  # and what the engines' results add


class CancelResponse(BaseModel):
    job_id: str
    status: Literal["cancelled"] = "cancelled"


class ErrorResponse(BaseModel):
    detail: str = Field(description="What was wrong with the request, for a person to read.")


class JobErrorDetail(BaseModel):
    error: str = Field(description="Why the job failed, for a person to read.")
    job_id: str


class FailedJobResponse(BaseModel):
    """A failed job (HTTP 500; 200 when its client cancelled it): the documented ``detail``, plus
    ``status`` for polling clients."""

    detail: JobErrorDetail
    job_id: str
    status: Literal["failed"] = "failed"


class QueueInfo(BaseModel):
    queued: int
    processing: int
    completed: int
    failed: int
    running_here: int = Field(description="Jobs running in this API process now.")
    workers: int = Field(description="Jobs this API process runs at once (TRYON_WORKERS).")


class StorageInfo(BaseModel):
    backend: str = Field(description="Where results go: s3, or the job store (result_b64).")
    bucket: str | None = None
    error: str | None = Field(
        default=None, description="Why S3 is not usable now (start-up check or last upload)."
    )


class ModelInfo(ModelInUse):
    """A model the engine's runners serve, with its licences, and where it runs."""

    service: str = Field(description="The runner service holding it.")
    device: str
    dtype: str | None = None


class HealthResponse(BaseModel):
    status: Literal["ok", "starting", "degraded"] = Field(
        description="ok once the models answer; degraded while result storage or the job store is failing."
    )
    models_loaded: bool
    cuda_available: bool = Field(description="A runner of the engine sees a CUDA device.")
    gpu: GpuInfo | None = Field(
        description="The first CUDA device of the engine's runners (the one a model runs on first), or null."
    )
    version: str
    engine: str | None = Field(default=None, description="The engine TRYON_ENGINE chose (null while starting).")
    engines: dict[str, str] = Field(description="What performs each pipeline step (the pose source included).")
    models: list[ModelInfo] = Field(default_factory=list, description="The models the engine's runners hold.")
    engine_error: str | None = Field(
        default=None, description="Why the configured engine is not serving yet (its runners' reason)."
    )
    engines_passed_over: dict[str, str] = Field(
        default_factory=dict,
        description="Under TRYON_ENGINE=auto: each engine tried before the chosen one and why it was not "
        "chosen (e.g. fashn-vton's runner cannot use CUDA).",
    )
    queue: QueueInfo
    job_store: str = Field(description="sqlite or redis.")
    job_store_error: str | None = Field(
        default=None, description="Why the job store refuses writes now (its disk is full, Redis is out of memory)."
    )
    storage: StorageInfo


class PublicHealthResponse(BaseModel):
    """``/health`` to a caller without the key, when ``TRYON_API_KEY`` is set: what a load balancer
    needs, nothing about storage, endpoints or models."""

    status: Literal["ok", "starting", "degraded"] = Field(description="As in the full answer.")
    ready: bool = Field(description="The models have answered once (models_loaded).")
    engine: str | None = Field(default=None, description="The engine TRYON_ENGINE chose (null while starting).")
