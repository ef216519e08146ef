from __future__ import annotations

import collections
import logging

import bentoml
import numpy as np

from tryon.model_store import INPAINTING_MODEL, declared_model

log = logging.getLogger("tryon.runners")


@bentoml.service(resources={"gpu": 1}, workers=1, traffic={"timeout": 600})
class InpaintingRunner:
    """Diffusion inpainting from the model store. Concurrent jobs' requests are merged into one batch.

    Loads the model only when ``TRYON_INPAINT_ENGINE`` resolves to ``diffusers`` (a missing model is
    then a start-up error); otherwise it stays empty and the service never calls it.
    """

    # Declared so `bentoml build` records it; absent when the store lacks it (see declared_model).
    model = declared_model(INPAINTING_MODEL)

    def __init__(self) -> None:
        from tryon.model_store import ModelSettings, engine_for, require_model
        from tryon.vision.diffusion import DiffusionInpainter

        settings = ModelSettings()
        self._batches: collections.deque[int] = collections.deque(maxlen=100_000)
        self.engine = engine_for(settings.inpaint_engine, INPAINTING_MODEL)
        self.inpainter: DiffusionInpainter | None = None
        if self.engine == "diffusers":
            stored = require_model(f"{INPAINTING_MODEL}:latest")
            self.inpainter = DiffusionInpainter(
                stored.path,
                size=(settings.inpaint_height, settings.inpaint_width),
                steps=settings.inpaint_steps,
                strength=settings.inpaint_strength,
                guidance_scale=settings.inpaint_guidance,
                ip_adapter_scale=settings.inpaint_ip_adapter_scale,
            )

    @bentoml.api(batchable=True, max_batch_size=8, max_latency_ms=30_000)
    def inpaint(self, requests: np.ndarray) -> np.ndarray:
        """``(N, H, W, 8)`` uint8 from ``tryon.vision.diffusion.pack_requests`` -> ``(N, H, W, 3)`` uint8 RGB."""
        if self.inpainter is None:
            raise RuntimeError(f"the inpainting engine is {self.engine!r}: this runner holds no model")
        log.debug("inpainting batch of %d", len(requests))
        self._batches.append(len(requests))
        return self.inpainter.inpaint_packed(requests)

    @bentoml.api
    def batch_stats(self) -> dict[str, int]:
        """How the adaptive batcher has grouped requests so far: requests, batches, largest batch."""
        batches = list(self._batches)
        return {"requests": sum(batches), "batches": len(batches), "largest": max(batches, default=0)}
