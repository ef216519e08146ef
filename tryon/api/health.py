"""The figures behind GET /health."""

from __future__ import annotations

# Imported with the module rather than on the first /health: the service freezes the objects alive
# at start-up out of the garbage collector's way (service.py), and torch's are nearly half of them.
import torch

from .. import __version__
from ..results import StorageStatus
from .schemas import GpuInfo, HealthResponse, QueueInfo, StorageInfo

_GB = 1024**3


def gpu_info() -> GpuInfo | None:
    """The first CUDA device as torch sees it, or None without one."""
    if not torch.cuda.is_available():
        return None
    free, total = torch.cuda.mem_get_info(0)
    return GpuInfo(
        gpu_name=torch.cuda.get_device_name(0),
        memory_allocated_gb=round(torch.cuda.memory_allocated(0) / _GB, 2),
        memory_reserved_gb=round(torch.cuda.memory_reserved(0) / _GB, 2),
        total_memory_gb=round(total / _GB, 2),
        memory_used_gb=round((total - free) / _GB, 2),
    )


def build_health(
    *,
    models_loaded: bool,
    engines: dict[str, str],
    job_counts: dict[str, int],
    running_here: int,
    workers: int,
    job_store: str,
    job_store_error: str | None,
    storage: StorageStatus,
) -> HealthResponse:
    gpu = gpu_info()
    status = "starting" if not models_loaded else "degraded" if storage.error or job_store_error else "ok"
    return HealthResponse(
        status=status,
        models_loaded=models_loaded,
        cuda_available=gpu is not None,
        gpu=gpu,
        version=__version__,
        engines=engines,
        queue=QueueInfo(**job_counts, running_here=running_here, workers=workers),
        job_store=job_store,
        job_store_error=job_store_error,
        storage=StorageInfo(backend=storage.backend, bucket=storage.bucket, error=storage.error),
    )
