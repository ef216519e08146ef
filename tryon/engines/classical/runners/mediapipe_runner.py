from __future__ import annotations

import os
from typing import Any

import bentoml


class MediapipeRunner:
    """What the mediapipe runners share: their models ship in mediapipe's wheel and run on the CPU
    (a GPU would sit idle), at a lower priority than the API's."""

    summary: str  # what ``describe`` says it serves
    bundled_model: str  # its model, a ``tryon.models.licences.BUNDLED_MODELS`` name

    def __init__(self) -> None:
        from ....settings import ModelSettings

        os.nice(ModelSettings().runner_niceness)  # yield the CPU to the API's requests
        self.model = self.load()

    def load(self) -> Any:
        raise NotImplementedError

    @bentoml.api
    def describe(self) -> dict[str, Any]:
        """A ``RunnerDescription``: always available (no model to import)."""
        from ....models.licences import model_in_use
        from ...base import describe_runner

        return describe_runner(
            type(self).__name__, available=True, reason=self.summary, models=[model_in_use(self.bundled_model)]
        ).model_dump()
