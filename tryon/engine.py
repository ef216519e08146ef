"""One try-on from uploaded bytes to PNG bytes: decode, run the pipeline, encode."""

from __future__ import annotations

import numpy as np

from .images import ImageLimits, decode_image, encode_png
from .pipeline import run_tryon
from .pipeline.types import PersonAnalyzer, Step, StepCallback


class TryOnEngine:
    def __init__(
        self, analyzer: PersonAnalyzer, *, limits: ImageLimits, png_compress_level: int = 1
    ) -> None:
        self._analyzer = analyzer
        self._limits = limits
        self._png_compress_level = png_compress_level

    def run(self, person_image: bytes, clothing_image: bytes, *, on_step: StepCallback) -> bytes:
        """PNG bytes of the person wearing the garment, the same size as the person photo."""
        person = decode_image("person_image", person_image, self._limits)
        garment = decode_image("clothing_image", clothing_image, self._limits)
        result = run_tryon(person, garment, self._analyzer, on_step=on_step)
        return encode_png(result.image, self._png_compress_level)

    def warm_up(self) -> None:
        """Call each model once, so the first job does not pay for loading them."""
        blank = np.zeros((256, 192, 3), np.uint8)
        self._analyzer.segment_person(blank)
        self._analyzer.estimate_pose(blank)


ENGINES: dict[str, str] = {
    Step.SEGMENTATION.value: "mediapipe selfie segmentation (person) + OpenCV GrabCut (garment)",
    Step.POSE.value: "mediapipe Pose (full)",
    Step.WARP.value: "OpenCV thin-plate spline",
    Step.INPAINTING.value: "OpenCV (classical fill)",
    Step.BLEND.value: "shading-preserving alpha blend",
}
