"""One try-on from uploaded bytes to PNG bytes: decode, run the pipeline, encode."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .garment_cache import GarmentCache
from .images import ImageLimits, decode_image, encode_png
from .pipeline import Category, prepare_garment, run_tryon
from .pipeline.types import PersonAnalyzer, Step, StepCallback


@dataclass(frozen=True)
class EngineOutput:
    png: bytes
    details: dict = field(default_factory=dict)  # the category used and the pipeline's notes


class TryOnEngine:
    """Garments repeat across shoppers: each photo's cut-out and landmarks are cached by content."""

    def __init__(
        self,
        analyzer: PersonAnalyzer,
        *,
        limits: ImageLimits,
        png_compress_level: int = 1,
        garment_cache_size: int = 64,
    ) -> None:
        self._analyzer = analyzer
        self._limits = limits
        self._png_compress_level = png_compress_level
        self._garments = GarmentCache(max_items=garment_cache_size)

    def run(
        self,
        person_image: bytes,
        clothing_image: bytes,
        *,
        category: str = Category.AUTO.value,
        on_step: StepCallback,
    ) -> EngineOutput:
        """The person wearing the garment as PNG bytes, the same size as the person photo."""
        on_step(Step.SEGMENTATION)  # preparing the garment is part of segmentation
        garment = self._garments.get_or_prepare(
            clothing_image,
            lambda: prepare_garment(decode_image("clothing_image", clothing_image, self._limits)),
        )
        person = decode_image("person_image", person_image, self._limits)
        result = run_tryon(
            person, None, self._analyzer, category=category, on_step=on_step, prepared_garment=garment
        )
        return EngineOutput(
            png=encode_png(result.image, self._png_compress_level),
            details={"category": result.category.value, "notes": list(result.notes)},
        )

    def warm_up(self) -> None:
        """Call each model once, so the first job does not pay for loading them."""
        blank = np.zeros((256, 192, 3), np.uint8)
        self._analyzer.segment_person(blank)
        self._analyzer.estimate_pose(blank)


ENGINES: dict[str, str] = {
    Step.SEGMENTATION.value: "mediapipe selfie segmentation (person) + OpenCV GrabCut (garment)",
    Step.POSE.value: "mediapipe Pose (full)",
    Step.WARP.value: "thin-plate spline from garment to body landmarks (numpy + OpenCV remap)",
    Step.INPAINTING.value: "classical fill (skin tone + low-frequency shading, OpenCV)",
    Step.BLEND.value: "shading-preserving alpha blend",
}
