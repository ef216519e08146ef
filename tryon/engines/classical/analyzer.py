"""A ``PersonAnalyzer`` over any pair of batch functions: the models in-process or the runners."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ...models.canvas import mask_from_canvas, points_from_canvas, to_canvas
from .pipeline.types import Alpha, BodyPose, RGBImage

BatchFunction = Callable[[np.ndarray], np.ndarray]


class CanvasPersonAnalyzer:
    """Sends each photo as a one-image batch of canvases and maps the answers back to the photo.

    Concurrent jobs calling a runner this way are merged into larger batches by BentoML.
    """

    def __init__(self, *, segment_batch: BatchFunction, estimate_batch: BatchFunction) -> None:
        self._segment_batch = segment_batch
        self._estimate_batch = estimate_batch

    def segment_person(self, person: RGBImage) -> Alpha:
        canvas, placement = to_canvas(person)
        canvas_mask = self._segment_batch(canvas[None])[0]
        return mask_from_canvas(np.asarray(canvas_mask, np.float32), placement)

    def estimate_pose(self, person: RGBImage) -> BodyPose | None:
        canvas, placement = to_canvas(person)
        landmarks = np.asarray(self._estimate_batch(canvas[None])[0], np.float32)
        if np.isnan(landmarks).any():
            return None
        return BodyPose(
            points=points_from_canvas(landmarks[:, :2], placement),
            visibility=landmarks[:, 2].copy(),
        )


def local_person_analyzer() -> CanvasPersonAnalyzer:
    """The mediapipe models loaded in this process (tests, benchmarks, the CLI)."""
    from ...models.selfie_segmenter import SelfieSegmenter
    from .mediapipe_models import PoseEstimator

    segmenter, pose = SelfieSegmenter(), PoseEstimator()
    return CanvasPersonAnalyzer(segment_batch=segmenter.segment_batch, estimate_batch=pose.estimate_batch)
