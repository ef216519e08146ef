"""The mirror engine's adapter: the person photo through ``MirrorRunner``, reported step by step."""

from __future__ import annotations

import numpy as np

from ...images import ImageLimits, decode_image
from ..base import EngineDescription, EngineRequest, EngineResult, ProgressCallback, RunnerAPI, RunnerDescription, Step
from .options import MirrorOptions
from .runner import MirrorRunner


class MirrorEngine:
    name = "mirror"

    def __init__(self, runner_api: RunnerAPI, *, limits: ImageLimits) -> None:
        self._mirror = runner_api(MirrorRunner, "mirror")
        self._describe = runner_api(MirrorRunner, "describe")
        self._limits = limits

    def run(self, request: EngineRequest, on_progress: ProgressCallback) -> EngineResult:
        options: MirrorOptions = request.options
        on_progress(Step.SEGMENTATION)
        person = decode_image("person_image", request.person_image, self._limits)
        decode_image("clothing_image", request.clothing_image, self._limits)
        on_progress(Step.INPAINTING, 0.5)
        picture = np.asarray(self._mirror(person[None])[0], np.uint8) if options.flip else person
        on_progress(Step.DONE)
        return EngineResult(
            pictures=(picture,),
            category=request.category,
            notes=("mirrored" if options.flip else "not mirrored (flip is false)",),
        )

    def warm_up(self) -> None:
        self._mirror(np.zeros((1, 8, 8, 3), np.uint8))

    def describe(self) -> EngineDescription:
        runner = RunnerDescription.model_validate(self._describe())
        return EngineDescription(
            engine=self.name,
            available=runner.available,
            reason=runner.reason,
            test_model=runner.test_model,
            steps={Step.INPAINTING.value: "MirrorRunner (numpy, left to right)"},
            runners=[runner],
        )
