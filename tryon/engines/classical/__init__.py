"""The classical engine: mediapipe + OpenCV on the CPU, with optional SegFormer parsing and SD inpainting.

- ``pipeline/``: the try-on as pure functions over arrays (no web framework, no settings).
- ``runners/``: its BentoML runner services (segmentation, pose, parsing, inpainting).
- ``engine.py``: its adapter to the job pipeline (``ClassicalEngine``).
- ``analyzer.py``, ``mediapipe_models.py``, ``diffusion.py``, ``inpainting_model.py``: its model code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...models.clothes_parser_store import CLOTHES_PARSER
from ..base import EngineSpec, RunnerAPI
from .engine import RUNNERS, ClassicalEngine
from .inpainting_model import INPAINTING

if TYPE_CHECKING:
    from ...settings import Settings


def build(settings: "Settings", runner_api: RunnerAPI) -> ClassicalEngine:
    return ClassicalEngine(
        runner_api,
        limits=settings.image_limits,
        inpaint_size=(settings.inpaint_height, settings.inpaint_width),
        png_compress_level=settings.png_compress_level,
    )


CLASSICAL = EngineSpec(
    name="classical",
    summary="mediapipe + OpenCV on the CPU; optional SegFormer parsing and SD inpainting runners",
    runners=RUNNERS,
    build=build,
    models=(INPAINTING, CLOTHES_PARSER),
)
