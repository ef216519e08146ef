"""The classical engine: mediapipe + OpenCV on the CPU, with optional SegFormer parsing.

- ``pipeline/``: the try-on as pure functions over arrays (no web framework, no settings).
- ``runners/``: its BentoML runner services (segmentation, pose, parsing).
- ``engine.py``: its adapter to the job pipeline (``ClassicalEngine``).
- ``analyzer.py``, ``mediapipe_models.py``: its model code (the parser's is in ``tryon.models``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...models.clothes_parser_store import CLOTHES_PARSER
from ..base import EngineSpec, RunnerAPI
from .engine import RUNNERS, ClassicalEngine

if TYPE_CHECKING:
    from ...settings import Settings


def build(settings: "Settings", runner_api: RunnerAPI) -> ClassicalEngine:
    return ClassicalEngine(runner_api, limits=settings.image_limits)


CLASSICAL = EngineSpec(
    name="classical",
    summary="mediapipe + OpenCV on the CPU; optional SegFormer parsing runner",
    runners=RUNNERS,
    build=build,
    models=(CLOTHES_PARSER,),
)
