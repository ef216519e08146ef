from __future__ import annotations

import bentoml
import numpy as np

from tryon.model_store import PARSING_MODEL, declared_model


@bentoml.service(resources={"gpu": 1}, workers=1, traffic={"timeout": 60})
class ParsingRunner:
    """SegFormer human parsing from the model store. Concurrent jobs' canvases are merged into one batch.

    Loads the model only when ``TRYON_PARSING_ENGINE`` resolves to ``segformer`` (a missing model is
    then a start-up error); otherwise it stays empty and the service never calls it.
    """

    # Declared so `bentoml build` records it; absent when the store lacks it (see declared_model).
    model = declared_model(PARSING_MODEL)

    def __init__(self) -> None:
        from tryon.model_store import ModelSettings, engine_for, require_model
        from tryon.vision.parsing import ClothesParser

        settings = ModelSettings()
        self.engine = engine_for(
            settings.parsing_engine, PARSING_MODEL, learned="segformer", classical="mediapipe"
        )
        self.parser: ClothesParser | None = None
        if self.engine == "segformer":
            self.parser = ClothesParser(require_model(f"{PARSING_MODEL}:latest").path)

    @bentoml.api(batchable=True, max_batch_size=16, max_latency_ms=30_000)
    def parse(self, canvases: np.ndarray) -> np.ndarray:
        """``(N, S, S, 3)`` uint8 RGB canvases -> ``(N, S, S)`` uint8 ``ParseLabel`` maps."""
        if self.parser is None:
            raise RuntimeError(f"the parsing engine is {self.engine!r}: this runner holds no model")
        return self.parser.parse_batch(canvases)
