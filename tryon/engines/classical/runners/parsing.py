from __future__ import annotations

import collections

import bentoml
import numpy as np

from ....models.clothes_parser_store import PARSING_MODEL
from ....models.store import declared_model
from .store_model_runner import StoreModelRunner


@bentoml.service(resources={"gpu": 1}, workers=1, traffic={"timeout": 60})
class ParsingRunner(StoreModelRunner):
    """SegFormer human parsing from the model store. Concurrent jobs' canvases are merged into one batch.

    Loads the model only when ``TRYON_PARSING_ENGINE`` resolves to ``segformer`` here, where the GPU is;
    under ``auto`` only with ``TRYON_ALLOW_NON_COMMERCIAL=true`` (the SegFormer weights are non-commercial).
    """

    # Declared so `bentoml build` records it; absent when the store lacks it (see declared_model).
    model = declared_model(PARSING_MODEL)

    def __init__(self) -> None:
        from ....models.clothes_parser import ClothesParser
        from ....settings import ModelSettings

        settings = ModelSettings()
        self._batches: collections.deque[int] = collections.deque(maxlen=100_000)
        super().__init__(
            settings.parsing_engine,
            PARSING_MODEL,
            learned="segformer",
            classical="mediapipe",
            load=ClothesParser,
            allow_non_commercial=settings.allow_non_commercial,
        )

    @bentoml.api(batchable=True, max_batch_size=16, max_latency_ms=30_000)
    def parse(self, canvases: np.ndarray) -> np.ndarray:
        """``(N, S, S, 3)`` uint8 RGB canvases -> ``(N, S, S)`` uint8 ``ParseLabel`` maps."""
        parser = self.model_in_memory()
        self._batches.append(len(canvases))
        return parser.parse_batch(canvases)

    @bentoml.api
    def batch_stats(self) -> dict[str, int]:
        """How the adaptive batcher has grouped requests so far: requests, batches, largest batch."""
        batches = list(self._batches)
        return {"requests": sum(batches), "batches": len(batches), "largest": max(batches, default=0)}
