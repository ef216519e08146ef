"""The classical engine's runners' knobs, read with the rest by ``tryon.settings.ModelSettings``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ClassicalSettings(BaseModel):
    runner_niceness: int = Field(
        default=10,
        ge=0,
        le=19,
        description="How much lower than the API's the CPU priority (Linux nice) of the mediapipe "
        "runners is, so submits and polls stay fast while every worker is busy (job worker threads "
        "run at nice 10 too).",
    )
    parsing_engine: Literal["auto", "segformer", "mediapipe"] = Field(
        default="auto",
        description="Human parsing: 'segformer' (the store's clothes parser), 'mediapipe' (selfie "
        "segmentation + pose geometry), or 'auto' (segformer when in the store, its runner has a GPU, "
        "and TRYON_ALLOW_NON_COMMERCIAL allows it: the SegFormer weights are non-commercial).",
    )
