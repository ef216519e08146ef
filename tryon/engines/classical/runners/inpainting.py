from __future__ import annotations

import collections
import functools
import logging

import bentoml
import numpy as np

from ....models.store import declared_model
from ..inpainting_model import INPAINTING_MODEL
from .store_model_runner import StoreModelRunner

log = logging.getLogger("tryon.runners")


@bentoml.service(resources={"gpu": 1}, workers=1, traffic={"timeout": 600})
class InpaintingRunner(StoreModelRunner):
    """Diffusion inpainting from the model store. Concurrent jobs' requests are merged into one batch.

    Loads the model only when ``TRYON_INPAINT_ENGINE`` resolves to ``diffusers`` here, where the GPU is.
    """

    # Declared so `bentoml build` records it; absent when the store lacks it (see declared_model).
    model = declared_model(INPAINTING_MODEL)

    def __init__(self) -> None:
        from ....settings import ModelSettings
        from ..diffusion import DiffusionInpainter

        settings = ModelSettings()
        self._batches: collections.deque[int] = collections.deque(maxlen=100_000)
        load = functools.partial(
            DiffusionInpainter,
            size=(settings.inpaint_height, settings.inpaint_width),
            steps=settings.inpaint_steps,
            strength=settings.inpaint_strength,
            guidance_scale=settings.inpaint_guidance,
            ip_adapter_scale=settings.inpaint_ip_adapter_scale,
        )
        super().__init__(settings.inpaint_engine, INPAINTING_MODEL, learned="diffusers", classical="opencv", load=load)

    @bentoml.api(batchable=True, max_batch_size=8, max_latency_ms=30_000)
    def inpaint(self, requests: np.ndarray) -> np.ndarray:
        """``(N, H, W, 8)`` uint8 from ``diffusion.pack_requests`` -> ``(N, H, W, 3)`` uint8 RGB."""
        inpainter = self.model_in_memory()
        log.debug("inpainting batch of %d", len(requests))
        self._batches.append(len(requests))
        return inpainter.inpaint_packed(requests)

    @bentoml.api
    def batch_stats(self) -> dict[str, int]:
        """How the adaptive batcher has grouped requests so far: requests, batches, largest batch."""
        batches = list(self._batches)
        return {"requests": sum(batches), "batches": len(batches), "largest": max(batches, default=0)}
