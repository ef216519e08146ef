"""Compiling the FASHN VTON transformer before the runner is ready (``TRYON_FASHN_COMPILE``).

``torch.compile`` compiles a graph the first time it meets a call of a new kind; left to itself, the
first batch of each size would pay that (tens of seconds on a GPU) while jobs wait. A sampling
batch of ``n`` requests calls the transformer two ways: a guided step runs ``2n`` rows (the
conditional rows, then the same rows masked to the null conditioning) and an unguided step (the
last ones) ``n`` rows without a mask. A batch can hold 1 to the runner's largest batch size of
requests (the batcher merges any number of jobs, groups split them by settings, out-of-memory
halving splits them again), so the warm-up runs one step of each kind at each of those sizes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .batching import DEFAULT_GUIDANCE_SCALE
from ...vision.canvas import Padding
from .inputs import CanvasInputs
from .pipeline import CATEGORY_LABELS, FashnVtonPipeline
from .sampling import guided_velocity

Compiler = Callable[[torch.nn.Module], torch.nn.Module]


@dataclass(frozen=True)
class CompileReport:
    """What the warm-up compiled: ``seconds`` in all; ``calls`` the (rows, guided) transformer calls run."""

    seconds: float
    calls: tuple[tuple[int, bool], ...]

    def describe(self) -> str:
        """One line for the log and /health."""
        guided = sorted(rows for rows, is_guided in self.calls if is_guided)
        unguided = sorted(rows for rows, is_guided in self.calls if not is_guided)
        return (
            f"torch.compile before ready: guided steps of {guided[0]}-{guided[-1]} rows and unguided steps "
            f"of {unguided[0]}-{unguided[-1]} rows compiled in {self.seconds:.1f} s"
        )


def warm_up_calls(max_batch_size: int) -> list[tuple[int, bool]]:
    """(requests in the batch, guided) of every kind of step a sampling batch of 1 to ``max_batch_size``
    requests runs."""
    return [(batch, guided) for batch in range(1, max_batch_size + 1) for guided in (True, False)]


def blank_canvases(pipeline: FashnVtonPipeline, count: int) -> list[CanvasInputs]:
    """``count`` all-black canvases of the pipeline's size (what is drawn does not change the graph)."""
    height, width = pipeline.canvas_height, pipeline.canvas_width
    image, pose = np.zeros((height, width, 3), np.uint8), np.zeros((height, width), np.uint8)
    return [CanvasInputs(image, image, pose, pose, Padding(0, 0, 0, 0)) for _ in range(count)]


def compile_before_ready(
    pipeline: FashnVtonPipeline, max_batch_size: int, *, compiler: Compiler | None = None
) -> CompileReport:
    """Compile ``pipeline.transformer`` (``compiler``, default ``torch.compile``) and run one step of each
    kind ``warm_up_calls`` lists through it, so that sampling meets no graph it has not compiled; the
    pipeline keeps the compiled transformer. Returns the seconds it took and the calls run.
    """
    started = time.perf_counter()
    compiled = (compiler or torch.compile)(pipeline.transformer)
    device = pipeline.transformer.device
    calls = []
    with torch.no_grad():
        for batch, guided in warm_up_calls(max_batch_size):
            conditioning = pipeline.conditioning(blank_canvases(pipeline, batch), [CATEGORY_LABELS["tops"]] * batch)
            x = torch.zeros((batch, 3, pipeline.canvas_height, pipeline.canvas_width), device=device)
            guided_velocity(compiled, x, 0.5, conditioning, DEFAULT_GUIDANCE_SCALE if guided else None)
            calls.append((2 * batch if guided else batch, guided))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    pipeline.transformer = compiled
    return CompileReport(seconds=time.perf_counter() - started, calls=tuple(calls))
