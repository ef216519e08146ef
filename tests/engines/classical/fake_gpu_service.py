"""The service with a CUDA device faked in the runner processes only (the API process sees none):
``bentoml serve tests.engines.classical.fake_gpu_service:TryOnService``.

The runners' device answer (``tryon.models.devices``) says a GPU is there; the models still load on
the CPU (torch itself is left alone), so what is tested is who decides, not CUDA.
"""

from bentoml import server_context

from tryon.models import devices

FAKE_GPU = devices.GpuInfo(
    gpu_name="Fake GPU (tests)", memory_allocated_gb=1.5, memory_reserved_gb=2.0, total_memory_gb=24.0, memory_used_gb=2.5
)
API_SERVICE = "TryOnService"
real_cuda_available, real_gpu_info = devices.cuda_available, devices.gpu_info


def fake_cuda_available() -> bool:
    return True if server_context.service_name != API_SERVICE else real_cuda_available()


def fake_gpu_info(index: int = 0) -> devices.GpuInfo | None:
    return FAKE_GPU if server_context.service_name != API_SERVICE else real_gpu_info(index)


devices.cuda_available, devices.gpu_info = fake_cuda_available, fake_gpu_info

from service import TryOnService  # noqa: E402  (after the fake, on purpose)

__all__ = ["TryOnService"]
