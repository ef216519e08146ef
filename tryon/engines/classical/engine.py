"""One try-on from uploaded bytes to PNG bytes: decode, run the pipeline, encode."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from .garment_cache import GarmentCache
from .images import ImageLimits, decode_image, encode_png
from .pipeline import Category, prepare_garment, run_tryon
from .pipeline.types import GarmentInpainter, HumanParser, PersonAnalyzer, Step, StepCallback


@dataclass(frozen=True)
class EngineOutput:
    png: bytes
    details: dict = field(default_factory=dict)  # the category used and the pipeline's notes


class TryOnEngine:
    """Garments repeat across shoppers: each photo's cut-out and landmarks are cached by content.

    ``parser`` and ``inpainter`` are the learned models (the runners), when configured; ``engines``
    says what performs each step, for ``/health``.
    """

    def __init__(
        self,
        analyzer: PersonAnalyzer,
        *,
        limits: ImageLimits,
        png_compress_level: int = 1,
        garment_cache_size: int = 64,
        parser: HumanParser | None = None,
        inpainter: GarmentInpainter | None = None,
        engines: dict[str, str] | None = None,
    ) -> None:
        self._analyzer = analyzer
        self._limits = limits
        self._png_compress_level = png_compress_level
        self._garments = GarmentCache(max_items=garment_cache_size)
        self._parser = parser
        self._inpainter = inpainter
        self.engines = engines if engines is not None else describe_engines()

    def run(
        self,
        person_image: bytes,
        clothing_image: bytes,
        *,
        category: str = Category.AUTO.value,
        on_step: StepCallback,
        job_id: str = "",
    ) -> EngineOutput:
        """The person wearing the garment as PNG bytes, the same size as the person photo.

        ``job_id`` seeds the diffusion noise: a job gives the same picture on every run (retries too).
        """
        on_step(Step.SEGMENTATION)  # preparing the garment is part of segmentation
        garment = self._garments.get_or_prepare(
            clothing_image,
            lambda: prepare_garment(decode_image("clothing_image", clothing_image, self._limits), self._parser),
        )
        person = decode_image("person_image", person_image, self._limits)
        result = run_tryon(
            person,
            None,
            self._analyzer,
            category=category,
            on_step=on_step,
            prepared_garment=garment,
            parser=self._parser,
            inpainter=self._inpainter,
            seed=job_seed(job_id),
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
        if self._parser is not None:
            self._parser.parse(blank)
        if self._inpainter is not None:
            self._inpainter.inpaint(blank, np.ones(blank.shape[:2], bool), blank, seed=0)


def job_seed(job_id: str) -> int:
    """A job's diffusion seed: 63 bits of the SHA-256 of its id."""
    return int.from_bytes(hashlib.sha256(job_id.encode()).digest()[:8], "little") >> 1


def describe_engines(*, parsing_model: str | None = None, inpainting_model: str | None = None) -> dict[str, str]:
    """What performs each step; ``*_model`` is the model store tag of a learned step, when one runs."""
    engines = {
        Step.SEGMENTATION.value: "mediapipe selfie segmentation (person) + OpenCV GrabCut (garment)",
        Step.POSE.value: "mediapipe Pose (full)",
        Step.WARP.value: "thin-plate spline from garment to body landmarks (numpy + OpenCV remap)",
        Step.INPAINTING.value: "classical fill (skin tone + low-frequency shading, OpenCV)",
        Step.BLEND.value: "shading-preserving alpha blend",
    }
    if parsing_model:
        engines[Step.SEGMENTATION.value] = (
            f"SegFormer human parsing, model {parsing_model} (person zones, garment cut-out) "
            "+ mediapipe selfie segmentation"
        )
    if inpainting_model:
        engines[Step.INPAINTING.value] = (
            f"Stable Diffusion inpainting, model {inpainting_model}, over the classical fill"
        )
        engines[Step.BLEND.value] = "diffusion result pasted back inside the repaint mask (feathered)"
    return engines
