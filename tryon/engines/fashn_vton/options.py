"""What a client may ask of the FASHN VTON engine, and what its answer adds (light: the API reads it).

A new option is one field of ``FashnVtonOptions``: the form of POST /api/tryon, its validation, the
OpenAPI schema and docs/api.md's list come from it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..base import EngineDetails, EngineOptions
from .batching import DEFAULT_GUIDANCE_SCALE, DEFAULT_NUM_STEPS

MAX_SEED = 2**63 - 1
MAX_STEPS = 50
MAX_SAMPLES = 4
Mode = Literal["performance", "balanced", "quality"]
# Denoising steps of each preset: the reference's own figures (docs/fashn-vton.md).
MODE_STEPS: dict[str, int] = {"performance": 20, "balanced": DEFAULT_NUM_STEPS, "quality": 50}


class FashnVtonOptions(EngineOptions):
    seed: int | None = Field(
        default=None,
        ge=0,
        le=MAX_SEED,
        description=f"Seed of the starting noise, 0 to {MAX_SEED}: the same seed and photos give the same "
        "picture, alone or batched with other jobs. Default: derived from the job id (the answer says which).",
    )
    steps: int | None = Field(
        default=None,
        ge=1,
        le=MAX_STEPS,
        description=f"Denoising steps, 1 to {MAX_STEPS} (default 30): fewer is faster and rougher.",
    )
    guidance_scale: float = Field(
        default=DEFAULT_GUIDANCE_SCALE,
        ge=1.0,
        le=5.0,
        description="Classifier-free guidance, 1.0 to 5.0 (default 1.5): how strongly the garment photo is followed.",
    )
    garment_photo_type: Literal["auto", "flat-lay", "model"] = Field(
        default="auto",
        description="flat-lay (a product shot), model (the garment worn by someone), or auto (default): "
        "model when the person detector keeps a person in the garment photo.",
    )
    mode: Mode = Field(
        default="balanced",
        description="Speed and quality preset: performance (20 denoising steps), balanced (default, 30) or "
        "quality (50). An explicit steps wins.",
    )
    num_samples: int = Field(
        default=1,
        ge=1,
        le=MAX_SAMPLES,
        description=f"Pictures to make, 1 to {MAX_SAMPLES} (default 1), from the seeds seed, seed+1, ...: "
        "sampled together in one batch. The answer adds results, one entry per picture.",
    )
    result_size: Literal["original", "model"] = Field(
        default="original",
        description="original (default): the person photo's own size (up to TRYON_WORKING_SIDE_PX), the "
        "model's picture composited onto the photo only where it changed it, so face, hands and background "
        "keep the photo's pixels; model: the model's picture as it is, at most 864 high.",
    )

    @property
    def num_steps(self) -> int:
        """The denoising steps to run: ``steps`` when given, else the ``mode``'s."""
        return self.steps if self.steps is not None else MODE_STEPS[self.mode]


class FashnVtonDetails(EngineDetails):
    seed: int = Field(description="The seed the engine sampled with (completed; generative engines only).")
    steps: int = Field(description="The denoising steps it ran (FASHN VTON): steps when sent, else the mode's.")
    guidance_scale: float = Field(description="The classifier-free guidance it sampled with (FASHN VTON).")
    garment_photo_type: Literal["flat-lay", "model"] = Field(
        description="What the garment photo was taken as (FASHN VTON): as sent, or what auto decided."
    )
    mode: Mode = Field(description="The speed and quality preset asked for (FASHN VTON).")

