"""The classical engine's adapter: uploaded bytes to a picture through the pipeline and its runners."""

from __future__ import annotations

import numpy as np

from ...images import ImageLimits, decode_image
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
from .garment_cache import GarmentCache
from .pipeline import prepare_garment, run_tryon
from .pipeline.types import HumanParser
from .runners import ParsingRunner, PoseRunner, SegmentationRunner

RUNNERS = (SegmentationRunner, PoseRunner, ParsingRunner)


class ClassicalEngine:
    """mediapipe + OpenCV on the CPU, with one optional learned step: SegFormer parsing, used when its
    runner says it holds its model.

    Garments repeat across shoppers: each photo's cut-out and landmarks are cached by content.
    """

    name = "classical"

    def __init__(
        self,
        runner_api: RunnerAPI,
        *,
        limits: ImageLimits,
        garment_cache_size: int = 64,
    ) -> None:
        self._describe = {runner.name: runner_api(runner, "describe") for runner in RUNNERS}
        self._analyzer = CanvasPersonAnalyzer(
            segment_batch=runner_api(SegmentationRunner, "segment"),
            estimate_batch=runner_api(PoseRunner, "estimate"),
        )
        self._runner_parser = CanvasClothesParser(runner_api(ParsingRunner, "parse"))
        self._parser: HumanParser | None = None  # set by warm_up, from what the runners serve
        self._limits = limits
        self._garments = GarmentCache(max_items=garment_cache_size)

    def run(self, request: EngineRequest, on_progress: ProgressCallback) -> EngineResult:
        """The pipeline's steps, in order; the garment's preparation is part of segmentation."""
        person = decode_image("person_image", request.person_image, self._limits)
        result = run_tryon(
            person,
            lambda: self._garments.get_or_prepare(
                request.clothing_image,
                lambda: prepare_garment(decode_image("clothing_image", request.clothing_image, self._limits), self._parser),
            ),
            self._analyzer,
            category=request.category,
            on_step=on_progress,
            parser=self._parser,
        )
        return EngineResult(pictures=(result.image,), category=result.category, notes=tuple(result.notes))

    def warm_up(self) -> None:
        """Learn from the runners whether the parser is served, then call each model once."""
        runners = self._runner_descriptions()
        self._parser = self._runner_parser if runners[ParsingRunner.name].available else None
        blank = np.zeros((256, 192, 3), np.uint8)
        self._analyzer.segment_person(blank)
        self._analyzer.estimate_pose(blank)
        if self._parser is not None:
            self._parser.parse(blank)

    def describe(self) -> EngineDescription:
        runners = self._runner_descriptions()
        parsing = runners[ParsingRunner.name]
        mediapipe = [runners[SegmentationRunner.name], runners[PoseRunner.name]]
        return EngineDescription(
            engine=self.name,
            available=all(runner.available for runner in mediapipe),
            reason="; ".join(f"{runner.service}: {runner.reason}" for runner in runners.values()),
            steps=step_performers(parsing_model=parsing.model_tag if parsing.available else None),
            runners=list(runners.values()),
        )

    def _runner_descriptions(self) -> dict[str, RunnerDescription]:
        return {name: RunnerDescription.model_validate(describe()) for name, describe in self._describe.items()}


def step_performers(*, parsing_model: str | None = None) -> dict[str, str]:
    """What performs each step; ``parsing_model`` is the model store tag of the parser, when it runs."""
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
    return performers
