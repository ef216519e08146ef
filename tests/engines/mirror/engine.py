"""The mirror engine's adapter: the person photo through ``MirrorRunner``, reported step by step."""

from __future__ import annotations

import numpy as np

from tryon.engines import base
from tryon.engines.base import EngineRequest, EngineResult, ProgressCallback, Step
from tryon.images import ImageLimits, decode_image

from .runner import MirrorRunner


class MirrorEngine:
    name = "mirror"

    def __init__(self, runner_api: base.RunnerAPI, *, limits: ImageLimits) -> None:
        self._mirror = runner_api(MirrorRunner, "mirror")
        self._describe = runner_api(MirrorRunner, "describe")
        self._limits = limits

    def run(self, request: EngineRequest, on_progress: ProgressCallback) -> EngineResult:
        on_progress(Step.SEGMENTATION)
        person = decode_image("person_image", request.person_image, self._limits)
        decode_image("clothing_image", request.clothing_image, self._limits)
        on_progress(Step.INPAINTING, 0.5)
        mirrored = np.asarray(self._mirror(person[None])[0], np.uint8)
        on_progress(Step.DONE)
        return EngineResult(
            pictures=(mirrored,),
            details={"category": request.category.value, "notes": [f"mirrored (options: {dict(request.options)})"]},
        )

    def warm_up(self) -> None:
        self._mirror(np.zeros((1, 8, 8, 3), np.uint8))

    def describe(self) -> base.EngineDescription:
        runner = base.RunnerDescription.model_validate(self._describe())
        return base.EngineDescription(
            engine=self.name,
            available=runner.available,
            reason=runner.reason,
            test_model=runner.test_model,
            steps={Step.INPAINTING.value: "MirrorRunner (numpy, left to right)"},
            runners=[runner],
        )
