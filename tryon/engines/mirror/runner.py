"""The mirror engine's runner service: no model, a batchable numpy API."""

from __future__ import annotations

from typing import Any

import bentoml
import numpy as np


@bentoml.service(resources={"cpu": "1"}, workers=1, traffic={"timeout": 60})
class MirrorRunner:
    """Mirrors images left to right; concurrent jobs' photos of one size are merged into one batch."""

    @bentoml.api(batchable=True, max_batch_size=4, max_latency_ms=1000)
    def mirror(self, images: np.ndarray) -> np.ndarray:
        """``(N, H, W, 3)`` uint8 RGB -> the same, each mirrored left to right."""
        return images[:, :, ::-1].copy()

    @bentoml.api
    def describe(self) -> dict[str, Any]:
        from ..base import describe_runner

        # What it returns is no try-on: auto must never pick it.
        return describe_runner("MirrorRunner", available=True, reason="needs no model", test_model=True).model_dump()
