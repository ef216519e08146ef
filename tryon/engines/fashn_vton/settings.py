"""The FASHN VTON runner's knobs (``TRYON_FASHN_*``), read with the rest by ``tryon.settings.ModelSettings``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class FashnVtonSettings(BaseModel):
    fashn_compile: bool = Field(
        default=False,
        description="Compile the FASHN VTON transformer with torch.compile during the runner's warm-up: "
        "every graph it will run (guided and unguided steps, each batch size up to its largest) is "
        "compiled before it reports ready; the seconds are logged and shown in /health.",
    )
    fashn_device: Literal["auto", "cuda", "cpu"] = Field(
        default="auto",
        description="Where the FASHN VTON runner samples: 'auto' takes CUDA when usable; without it a test "
        "model runs on the CPU, a real one stops start-up under TRYON_ENGINE=fashn-vton (a job would take "
        "hours) and is skipped under TRYON_ENGINE=auto. 'cuda' requires CUDA; 'cpu' runs there on purpose.",
    )
    fashn_attention: Literal["auto", "flash", "efficient", "cudnn", "math"] = Field(
        default="auto",
        description="The FASHN VTON runner's scaled-dot-product attention backend: 'auto' lets torch "
        "choose; a backend the runner's device cannot run stops it at start-up.",
    )
