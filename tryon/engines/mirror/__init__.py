"""A test-only engine, to show that an engine is one folder: it answers the person photo, mirrored
left to right when its option ``flip`` is true (no model).

Its registry row ``MIRROR`` is not in the registry's list: a test registers it (``register``, in
``tests/engines/mirror_service.py``) before importing the service, in every process of ``bentoml
serve``; its runner says it serves a test model, so ``TRYON_ENGINE=auto`` would never pick it anyway.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..base import EngineSpec, RunnerAPI
from .engine import MirrorEngine
from .options import MirrorOptions
from .runner import MirrorRunner

if TYPE_CHECKING:
    from ...settings import Settings


def build(settings: "Settings", runner_api: RunnerAPI) -> MirrorEngine:
    return MirrorEngine(runner_api, limits=settings.image_limits)


MIRROR = EngineSpec(
    name="mirror",
    summary="test engine: the person photo, mirrored when asked",
    runners=(MirrorRunner,),
    build=build,
    options=MirrorOptions,
)
