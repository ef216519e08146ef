"""The figures behind GET /health."""

from __future__ import annotations

from .. import __version__
from ..engines.base import EngineDescription
from ..results import StorageStatus
from .schemas import HealthResponse, ModelInfo, PublicHealthResponse, QueueInfo, StorageInfo


def build_health(
    *,
    models_loaded: bool,
    engine: EngineDescription | None,
    job_counts: dict[str, int],
    running_here: int,
    workers: int,
    job_store: str,
    job_store_error: str | None,
    storage: StorageStatus,
    engine_error: str | None = None,
) -> HealthResponse:
    """``engine`` is the chosen engine as its runners describe it: the GPU figures are theirs, since
    the models live there (this process may have no GPU at all)."""
    status = "starting" if not models_loaded else "degraded" if storage.error or job_store_error else "ok"
    return HealthResponse(
        status=status,
        models_loaded=models_loaded,
        cuda_available=engine is not None and engine.cuda_available,
        gpu=engine.gpu if engine else None,
        version=__version__,
        engine=engine.engine if engine else None,
        engines=engine.steps if engine else {},
        models=[
            ModelInfo(service=runner.service, **model.model_dump(), device=runner.device, dtype=runner.dtype)
            for runner in (engine.runners if engine else [])
            if runner.available
            for model in runner.models
        ],
        engine_error=engine_error,
        queue=QueueInfo(**job_counts, running_here=running_here, workers=workers),
        job_store=job_store,
        job_store_error=job_store_error,
        storage=StorageInfo(backend=storage.backend, bucket=storage.bucket, error=storage.error),
    )


def public_health(health: HealthResponse) -> PublicHealthResponse:
    """The part of ``health`` shown without the key when one is set."""
    return PublicHealthResponse(status=health.status, ready=health.models_loaded, engine=health.engine)
