from __future__ import annotations

import bentoml
import numpy as np

from .mediapipe_runner import MediapipeRunner


@bentoml.service(resources={"cpu": "1"}, workers=1, traffic={"timeout": 60})
class PoseRunner(MediapipeRunner):
    """Body landmarks. Concurrent jobs' canvases are merged into one batch."""

    summary = "mediapipe Pose (full), on the CPU"
    bundled_model = "mediapipe-pose"

    def load(self):
        from ..mediapipe_models import PoseEstimator

        return PoseEstimator()

    @bentoml.api(batchable=True, max_batch_size=16, max_latency_ms=30_000)
    def estimate(self, canvases: np.ndarray) -> np.ndarray:
        """``(N, S, S, 3)`` uint8 RGB canvases -> ``(N, 33, 3)`` float32 ``(x, y, visibility)``."""
        return self.model.estimate_batch(canvases)
