from __future__ import annotations

import os
from typing import Any

import bentoml
import numpy as np


# mediapipe's Python solutions run on the CPU: a GPU would sit idle.
@bentoml.service(resources={"cpu": "1"}, workers=1, traffic={"timeout": 60})
class PoseRunner:
    """Body landmarks. Concurrent jobs' canvases are merged into one batch."""

    def __init__(self) -> None:
        from ....settings import ModelSettings
        from ..mediapipe_models import PoseEstimator

        os.nice(ModelSettings().runner_niceness)  # mediapipe runs on the CPU: yield it to the API

        self.model = PoseEstimator()

    @bentoml.api(batchable=True, max_batch_size=16, max_latency_ms=30_000)
    def estimate(self, canvases: np.ndarray) -> np.ndarray:
        """``(N, S, S, 3)`` uint8 RGB canvases -> ``(N, 33, 3)`` float32 ``(x, y, visibility)``."""
        return self.model.estimate_batch(canvases)

    @bentoml.api
    def describe(self) -> dict[str, Any]:
        """A ``RunnerDescription``: mediapipe's models ship in its wheel, so this runner always serves."""
        from ...base import describe_runner

        return describe_runner(
            "PoseRunner", available=True, reason="mediapipe Pose (full), on the CPU"
        ).model_dump()
