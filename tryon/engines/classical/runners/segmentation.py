from __future__ import annotations

import os
from typing import Any

import bentoml
import numpy as np


# mediapipe's Python solutions run on the CPU: a GPU would sit idle.
@bentoml.service(resources={"cpu": "1"}, workers=1, traffic={"timeout": 60})
class SegmentationRunner:
    """Person segmentation. Concurrent jobs' canvases are merged into one batch."""

    def __init__(self) -> None:
        from ....settings import ModelSettings
        from ..mediapipe_models import SelfieSegmenter

        os.nice(ModelSettings().runner_niceness)  # mediapipe runs on the CPU: yield it to the API

        self.model = SelfieSegmenter()

    @bentoml.api(batchable=True, max_batch_size=16, max_latency_ms=30_000)
    def segment(self, canvases: np.ndarray) -> np.ndarray:
        """``(N, S, S, 3)`` uint8 RGB canvases -> ``(N, S, S)`` float32 person probability."""
        return self.model.segment_batch(canvases)

    @bentoml.api
    def describe(self) -> dict[str, Any]:
        """A ``RunnerDescription``: mediapipe's models ship in its wheel, so this runner always serves."""
        from ...base import describe_runner

        return describe_runner(
            "SegmentationRunner", available=True, reason="mediapipe selfie segmentation, on the CPU"
        ).model_dump()
