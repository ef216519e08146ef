from __future__ import annotations

import os

import bentoml
import numpy as np


# mediapipe's Python solutions run on the CPU: a GPU would sit idle.
@bentoml.service(resources={"cpu": "1"}, workers=1, traffic={"timeout": 60})
class SegmentationRunner:
    """Person segmentation. Concurrent jobs' canvases are merged into one batch."""

    def __init__(self) -> None:
        from tryon.model_store import ModelSettings
        from tryon.vision.mediapipe_models import SelfieSegmenter

        os.nice(ModelSettings().runner_niceness)  # mediapipe runs on the CPU: yield it to the API

        self.model = SelfieSegmenter()

    @bentoml.api(batchable=True, max_batch_size=16, max_latency_ms=30_000)
    def segment(self, canvases: np.ndarray) -> np.ndarray:
        """``(N, S, S, 3)`` uint8 RGB canvases -> ``(N, S, S)`` float32 person probability."""
        return self.model.segment_batch(canvases)
