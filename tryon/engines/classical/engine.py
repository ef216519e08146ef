"""The classical engine's adapter: uploaded bytes to PNG bytes through the pipeline and its runners."""

from __future__ import annotations

import hashlib

import numpy as np

from ...images import ImageLimits, decode_image, encode_png
from ...models.clothes_parser import CanvasClothesParser
from ..base import (
    EngineDescription,
    EngineRequest,
    EngineResult,
    ProgressCallback,
    RunnerAPI,
    RunnerDescription,
    Step,
)
from .analyzer import CanvasPersonAnalyzer
from .diffusion import FramedInpainting
from .garment_cache import GarmentCache
from .pipeline import prepare_garment, run_tryon
from .pipeline.types import GarmentInpainter, HumanParser
from .runners import InpaintingRunner, ParsingRunner, PoseRunner, SegmentationRunner

RUNNERS = (SegmentationRunner, PoseRunner, ParsingRunner, InpaintingRunner)


class ClassicalEngine:
    """mediapipe + OpenCV on the CPU, with two optional learned steps: SegFormer parsing and diffusion
    inpainting, used when their runners say they hold their models.

    Garments repeat across shoppers: each photo's cut-out and landmarks are cached by content.
    """

    name = "classical"

    def __init__(
        self,
        runner_api: RunnerAPI,
        *,
        limits: ImageLimits,
        inpaint_size: tuple[int, int],
        png_compress_level: int = 1,
        garment_cache_size: int = 64,
    ) -> None:
        self._describe = {runner.name: runner_api(runner, "describe") for runner in RUNNERS}
        self._analyzer = CanvasPersonAnalyzer(
            segment_batch=runner_api(SegmentationRunner, "segment"),
            estimate_batch=runner_api(PoseRunner, "estimate"),
        )
        self._runner_parser = CanvasClothesParser(runner_api(ParsingRunner, "parse"))
        self._runner_inpainter = FramedInpainting(runner_api(InpaintingRunner, "inpaint"), size=inpaint_size)
        self._parser: HumanParser | None = None  # set by warm_up, from what the runners serve
        self._inpainter: GarmentInpainter | None = None
        self._limits = limits
        self._png_compress_level = png_compress_level
        self._garments = GarmentCache(max_items=garment_cache_size)

    def run(self, request: EngineRequest, on_progress: ProgressCallback) -> EngineResult:
        """The pipeline's steps, in order; the garment's preparation is part of segmentation."""
        on_progress(Step.SEGMENTATION)
        garment = self._garments.get_or_prepare(
            request.clothing_image,
            lambda: prepare_garment(decode_image("clothing_image", request.clothing_image, self._limits), self._parser),
        )
        person = decode_image("person_image", request.person_image, self._limits)
        result = run_tryon(
            person,
            garment,
            self._analyzer,
            category=request.category,
            on_step=on_progress,
            parser=self._parser,
            inpainter=self._inpainter,
            seed=job_seed(request.job_id),
        )
        return EngineResult(
            png=encode_png(result.image, self._png_compress_level),
            details={"category": result.category.value, "notes": list(result.notes)},
        )

    def warm_up(self) -> None:
        """Learn from the runners which learned steps they serve, then call each model once."""
        runners = self._runner_descriptions()
        self._parser = self._runner_parser if runners[ParsingRunner.name].available else None
        self._inpainter = self._runner_inpainter if runners[InpaintingRunner.name].available else None
        blank = np.zeros((256, 192, 3), np.uint8)
        self._analyzer.segment_person(blank)
        self._analyzer.estimate_pose(blank)
        if self._parser is not None:
            self._parser.parse(blank)
        if self._inpainter is not None:
            self._inpainter.inpaint(blank, np.ones(blank.shape[:2], bool), blank, seed=0)

    def describe(self) -> EngineDescription:
        runners = self._runner_descriptions()
        parsing, inpainting = runners[ParsingRunner.name], runners[InpaintingRunner.name]
        mediapipe = [runners[SegmentationRunner.name], runners[PoseRunner.name]]
        return EngineDescription(
            engine=self.name,
            available=all(runner.available for runner in mediapipe),
            reason="; ".join(f"{runner.service}: {runner.reason}" for runner in runners.values()),
            steps=step_performers(
                parsing_model=parsing.model_tag if parsing.available else None,
                inpainting_model=inpainting.model_tag if inpainting.available else None,
            ),
            runners=list(runners.values()),
        )

    def _runner_descriptions(self) -> dict[str, RunnerDescription]:
        return {name: RunnerDescription.model_validate(describe()) for name, describe in self._describe.items()}


def job_seed(job_id: str) -> int:
    """A job's diffusion seed: 63 bits of the SHA-256 of its id."""
    return int.from_bytes(hashlib.sha256(job_id.encode()).digest()[:8], "little") >> 1


def step_performers(*, parsing_model: str | None = None, inpainting_model: str | None = None) -> dict[str, str]:
    """What performs each step; ``*_model`` is the model store tag of a learned step, when one runs."""
    performers = {
        Step.SEGMENTATION.value: "mediapipe selfie segmentation (person) + OpenCV GrabCut (garment)",
        Step.POSE.value: "mediapipe Pose (full)",
        Step.WARP.value: "thin-plate spline from garment to body landmarks (numpy + OpenCV remap)",
        Step.INPAINTING.value: "classical fill (skin tone + low-frequency shading, OpenCV)",
        Step.BLEND.value: "shading-preserving alpha blend",
    }
    if parsing_model:
        performers[Step.SEGMENTATION.value] = (
            f"SegFormer human parsing, model {parsing_model} (person zones, garment cut-out) "
            "+ mediapipe selfie segmentation"
        )
    if inpainting_model:
        performers[Step.INPAINTING.value] = (
            f"Stable Diffusion inpainting, model {inpainting_model}, over the classical fill"
        )
        performers[Step.BLEND.value] = "diffusion result pasted back inside the repaint mask (feathered)"
    return performers
