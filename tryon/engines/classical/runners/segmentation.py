from __future__ import annotations

import bentoml
import numpy as np

from .mediapipe_runner import MediapipeRunner


@bentoml.service(resources={"cpu": "1"}, workers=1, traffic={"timeout": 60})
class SegmentationRunner(MediapipeRunner):
    """Person segmentation. Concurrent jobs' canvases are merged into one batch."""

    summary = "mediapipe selfie segmentation, on the CPU"
    bundled_model = "mediapipe-selfie-segmentation"

    def load(self):
        from ....models.selfie_segmenter import SelfieSegmenter

        return SelfieSegmenter()

    @bentoml.api(batchable=True, max_batch_size=16, max_latency_ms=30_000)
    def segment(self, canvases: np.ndarray) -> np.ndarray:
        """``(N, S, S, 3)`` uint8 RGB canvases -> ``(N, S, S)`` float32 person probability."""
        return self.model.segment_batch(canvases)
