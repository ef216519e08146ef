from __future__ import annotations

from typing import Any

import bentoml
import numpy as np

from ....models.clothes_parser_store import PARSING_MODEL
from ....models.store import declared_model


@bentoml.service(resources={"gpu": 1}, workers=1, traffic={"timeout": 60})
class ParsingRunner:
    """SegFormer human parsing from the model store. Concurrent jobs' canvases are merged into one batch.

    Loads the model only when ``TRYON_PARSING_ENGINE`` resolves to ``segformer`` here, where the GPU
    is (a configured model that is missing is then a start-up error); otherwise it stays empty, says
    so in ``describe``, and the service never calls it.
    """

    # Declared so `bentoml build` records it; absent when the store lacks it (see declared_model).
    model = declared_model(PARSING_MODEL)

    def __init__(self) -> None:
        from ....models.clothes_parser import ClothesParser
        from ....models.store import require_model, resolve_engine
        from ....settings import ModelSettings

        setting = ModelSettings().parsing_engine
        self.resolution = resolve_engine(setting, PARSING_MODEL, learned="segformer", classical="mediapipe")
        self.stored = None
        self.parser: ClothesParser | None = None
        if self.resolution.engine == "segformer":
            self.stored = require_model(f"{PARSING_MODEL}:latest")
            self.parser = ClothesParser(self.stored.path)

    @bentoml.api(batchable=True, max_batch_size=16, max_latency_ms=30_000)
    def parse(self, canvases: np.ndarray) -> np.ndarray:
        """``(N, S, S, 3)`` uint8 RGB canvases -> ``(N, S, S)`` uint8 ``ParseLabel`` maps."""
        if self.parser is None:
            raise RuntimeError(f"this runner holds no model ({self.resolution.reason})")
        return self.parser.parse_batch(canvases)

    @bentoml.api
    def describe(self) -> dict[str, Any]:
        """A ``RunnerDescription``: whether the model is loaded (and why), its tag, licence, device."""
        from ...base import describe_runner

        return describe_runner(
            "ParsingRunner", reason=self.resolution.reason, model=self.stored, loaded=self.parser
        ).model_dump()
