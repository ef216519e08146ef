"""FASHN VTON v1.5 (Apache-2.0): a pixel-space MMDiT try-on model, reimplemented with diffusers' FLUX blocks.

The model: ``transformer`` (the MMDiT), ``checkpoint`` (the published checkpoint's key map and strict
loading), ``sampling`` (schedule and guided Euler loop), ``pipeline`` (images and keypoints in,
pictures out, in batches), ``flops`` (the cost of a forward pass); see docs/fashn-vton.md.
Its inputs: ``inputs`` (its canvas sizes and four canvases), ``pose_map`` (its grey pose map), from
``tryon.vision``'s ``canvas``, ``keypoints``, ``agnostic``, ``dwpose`` and ``mediapipe_keypoints``;
see docs/fashn-vton-inputs.md.
Serving it: ``model_store`` (the stored model: import, test model), ``runner`` (``FashnVtonRunner``,
the GPU service), ``batching`` (what a batch carries, grouping, out-of-memory splitting),
``engine`` (the adapter, ``FashnVtonEngine``), ``options`` (what a client may ask of it, what its
answer adds), ``settings`` (its ``TRYON_FASHN_*`` knobs); this module holds the registry row ``FASHN_VTON``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...models.garment_masker_store import GARMENT_MASKER
from ..base import EngineSpec, RunnerAPI
from .engine import RUNNERS, FashnVtonEngine
from .model_store import FASHN_VTON_RECIPE
from .options import FashnVtonDetails, FashnVtonOptions

if TYPE_CHECKING:
    from ...settings import Settings


def build(settings: "Settings", runner_api: RunnerAPI) -> FashnVtonEngine:
    return FashnVtonEngine(runner_api, limits=settings.image_limits)


FASHN_VTON = EngineSpec(
    name="fashn-vton",
    summary="FASHN VTON v1.5 (Apache-2.0) on a GPU: a pixel-space MMDiT, 576x864, with DWPose keypoints",
    runners=RUNNERS,
    build=build,
    models=(FASHN_VTON_RECIPE, GARMENT_MASKER),
    options=FashnVtonOptions,
    details=FashnVtonDetails,
)
