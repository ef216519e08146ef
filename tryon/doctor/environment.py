"""The host as the model will see it: torch, CUDA, the GPU and its driver, bfloat16, onnxruntime's providers."""

from __future__ import annotations

import shutil
import subprocess

import torch

from .report import Check, Status

# Dense (no sparsity) bfloat16 tensor-core rates with float32 accumulation, TFLOP/s, from the vendor's
# data sheets, by the name torch reports: the first marker in the name wins (more specific ones first).
DENSE_BF16_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.0),  # SXM ("NVIDIA H100 80GB HBM3")
    ("H200 NVL", 835.0),
    ("H200", 989.0),
    ("GH200", 989.0),
    ("B200", 2250.0),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L40", 181.0),
)
DENSE_BF16_TFLOPS_EXACT = {"NVIDIA L4": 121.0, "NVIDIA A10": 125.0}  # names other cards' names extend


def dense_bf16_peak_tflops(gpu_name: str) -> float | None:
    """The table's rate for ``gpu_name`` (as ``torch.cuda.get_device_name`` gives it), or None when unknown."""
    for marker, tflops in DENSE_BF16_TFLOPS:
        if marker in gpu_name:
            return tflops
    return DENSE_BF16_TFLOPS_EXACT.get(gpu_name.strip())


def nvidia_driver_version() -> str | None:
    """The driver version ``nvidia-smi`` reports, or None without it."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        answer = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return answer.stdout.strip().splitlines()[0] if answer.stdout.strip() else None


def onnxruntime_providers() -> list[str] | None:
    """onnxruntime's available execution providers, or None when it is not installed."""
    try:
        import onnxruntime
    except ImportError:
        return None
    return list(onnxruntime.get_available_providers())


def check_environment(device: torch.device) -> Check:
    """torch and CUDA as this process sees them; fails when ``device`` is CUDA and CUDA is not usable."""
    figures: dict = {
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "cuda_version": torch.version.cuda,
        "onnxruntime_providers": onnxruntime_providers(),
        "device": str(device),
    }
    if not figures["cuda_available"]:
        reason = f"torch {torch.__version__}, no CUDA device"
        if device.type == "cuda":
            return Check("environment", Status.FAIL, f"{reason}, but --device {device} was asked for", figures)
        return Check("environment", Status.OK, f"{reason}: the checks run on the CPU", figures)
    index = device.index if device.type == "cuda" and device.index is not None else 0
    properties = torch.cuda.get_device_properties(index)
    figures.update(
        gpu_name=torch.cuda.get_device_name(index),
        gpu_memory_gb=round(properties.total_memory / 2**30, 1),
        compute_capability=f"{properties.major}.{properties.minor}",
        driver=nvidia_driver_version(),
        cudnn=torch.backends.cudnn.version(),
        bf16_supported=torch.cuda.is_bf16_supported(),
        dense_bf16_peak_tflops=dense_bf16_peak_tflops(torch.cuda.get_device_name(index)),
    )
    reason = (
        f"torch {torch.__version__}, CUDA {figures['cuda_version']}, {figures['gpu_name']} "
        f"({figures['gpu_memory_gb']} GB), driver {figures['driver'] or 'unknown'}, "
        f"bf16 {'yes' if figures['bf16_supported'] else 'no'}"
    )
    if device.type == "cuda" and not figures["bf16_supported"]:
        return Check("environment", Status.WARN, f"{reason}: the model runs in float32 here (slower)", figures)
    return Check("environment", Status.OK, reason, figures)
