"""Whether a process sees CUDA: asked of torch only where a CUDA driver loads (every runner process
asks at start-up, and importing torch costs seconds of CPU)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tryon.models import devices

REPO = Path(__file__).resolve().parents[2]
ASK = """
import sys
from tryon.models import devices
print(devices.cuda_available(), devices.gpu_info() is None, "torch" in sys.modules)
"""


def test_cuda_is_asked_of_torch_only_where_a_driver_loads() -> None:
    answer = subprocess.run([sys.executable, "-c", ASK], cwd=REPO, capture_output=True, text=True, check=True)
    available, no_gpu, torch_imported = answer.stdout.split()
    if devices.cuda_driver_loadable():
        import torch

        assert (available, torch_imported) == (str(torch.cuda.is_available()), "True")
    else:
        assert (available, no_gpu, torch_imported) == ("False", "True", "False")
