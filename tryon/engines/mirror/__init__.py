"""A test-only engine, to show that an engine is one folder and one registry row.

It mirrors the person photo left to right (no model); ``tests/engines/mirror_service.py`` registers
it and then imports the real service, in every process of ``bentoml serve``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tryon.engines.base import EngineSpec, RunnerAPI

from .engine import MirrorEngine
from .runner import MirrorRunner

if TYPE_CHECKING:
    from tryon.settings import Settings


def build(settings: "Settings", runner_api: RunnerAPI) -> MirrorEngine:
    return MirrorEngine(runner_api, limits=settings.image_limits)


MIRROR = EngineSpec(name="mirror", summary="test engine: the person photo, mirrored", runners=(MirrorRunner,), build=build)
