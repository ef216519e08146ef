"""The device a model runs on, as the process holding it sees it (for a runner's ``describe``)."""

from __future__ import annotations

import ctypes
import functools

from pydantic import BaseModel, Field

_GB = 1024**3


class GpuInfo(BaseModel):
    """One CUDA device, as the process using it sees it: the gpu block of /health."""

    gpu_name: str
    memory_allocated_gb: float = Field(description="Allocated by the runner process through torch.")
    memory_reserved_gb: float = Field(description="Reserved by the runner process's torch allocator.")
    total_memory_gb: float
    memory_used_gb: float = Field(description="In use on the device by all processes.")


@functools.cache
def cuda_driver_loadable() -> bool:
    """The CUDA driver library loads in this process. Without it no device is visible, and torch
    (seconds of CPU to import) need not be asked: every runner process asks at start-up."""
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    return True


def cuda_available() -> bool:
    """This process sees a CUDA device (torch, where the driver is there to ask)."""
    if not cuda_driver_loadable():
        return False
    import torch

    return torch.cuda.is_available()


def gpu_info(index: int = 0) -> GpuInfo | None:
    """CUDA device ``index`` as torch sees it in this process, or None without one."""
    if not cuda_available():
        return None
    import torch

    free, total = torch.cuda.mem_get_info(index)
    return GpuInfo(
        gpu_name=torch.cuda.get_device_name(index),
        memory_allocated_gb=round(torch.cuda.memory_allocated(index) / _GB, 2),
        memory_reserved_gb=round(torch.cuda.memory_reserved(index) / _GB, 2),
        total_memory_gb=round(total / _GB, 2),
        memory_used_gb=round((total - free) / _GB, 2),
    )
