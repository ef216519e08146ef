"""No silent CPU, served: a real-labelled FASHN VTON model (tiny random weights, not labelled a test model)
in the store of a machine without a usable CUDA device.

Under ``TRYON_ENGINE=fashn-vton`` start-up stops naming the cause and the override; under ``auto``,
with a GPU faked in the runner processes (their device answer says CUDA is there; torch here has none),
the runner loads nothing, the classical engine serves and ``/health`` says why.
"""

from __future__ import annotations

import subprocess
import sys

import requests

from .served import REPO, ServedService

REAL_LOOKING_MODEL = """
from tryon.engines.fashn_vton.model_store import save_fashn_vton, tiny_transformer
from tryon.models.store import ModelSource

save_fashn_vton(tiny_transformer(), source=ModelSource("fashn-ai/fashn-vton-1.5", "main", "apache-2.0", commit="0" * 40))
"""


def with_real_looking_model(server: ServedService) -> ServedService:
    subprocess.run([sys.executable, "-c", REAL_LOOKING_MODEL], cwd=REPO, env=server.env, check=True, capture_output=True)
    return server


def test_the_configured_engine_without_cuda_stops_start_up_naming_the_cause_and_the_override(tmp_path) -> None:
    message = with_real_looking_model(ServedService(tmp_path, TRYON_ENGINE="fashn-vton")).start_up_error(timeout=240)
    assert "failed to start" in message, message[-3000:]
    assert "TRYON_ENGINE=fashn-vton with the model fashn-vton:" in message, message[-3000:]
    assert "but this runner cannot use CUDA: torch" in message and "TRYON_FASHN_DEVICE=cpu" in message


def test_under_auto_an_unusable_gpu_falls_back_to_classical_and_health_says_why(tmp_path) -> None:
    server = with_real_looking_model(
        ServedService(tmp_path, target="tests.engines.classical.fake_gpu_service:TryOnService", TRYON_WORKERS="1")
    )
    server.start(timeout=240)
    try:
        health = requests.get(f"{server.url}/health", timeout=10).json()
    finally:
        server.stop()

    assert health["engine"] == "classical", health
    why = health["engines_passed_over"]["fashn-vton"]
    assert why.startswith("FashnVtonRunner: auto: fashn-vton:") and "cannot use CUDA" not in why, why
    assert "(no CUDA support): not loaded, the classical engine serves" in why, why
