"""What a client may ask of the mirror engine (light: the API reads it)."""

from __future__ import annotations

from pydantic import Field

from ..base import EngineOptions


class MirrorOptions(EngineOptions):
    flip: bool = Field(default=False, description="Mirror the person photo left to right (test engine mirror).")
