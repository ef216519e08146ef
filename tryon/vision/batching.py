"""Batches of requests for a batchable runner API: rows that carry a JSON header, and a batch split in
halves when the GPU runs out of memory.

A row is ``HEADER_BYTES`` of JSON, zero-padded (``header_row``), followed by whatever arrays the
request carries, flattened to uint8; BentoML's adaptive batcher concatenates rows on the batch
dimension. ``sample_fitting_memory`` runs a batch, halving it on each out-of-memory error, so that
one request too large for the GPU fails alone and the others go on. Nothing here imports torch at
import time (``is_out_of_memory`` imports it when called, in the runner's process).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

HEADER_BYTES = 512
OUT_OF_MEMORY = (
    "The GPU ran out of memory for this image (CUDA out of memory); it was sampled on its own and "
    "still did not fit. Try again when the GPU is less busy, or serve the model on a GPU with more memory."
)

Item = TypeVar("Item")
Result = TypeVar("Result")


def header_row(values: dict) -> np.ndarray:
    """``(HEADER_BYTES,)`` uint8: ``values`` as JSON, zero-padded; a ``ValueError`` when it does not fit."""
    encoded = json.dumps(values).encode()
    if len(encoded) > HEADER_BYTES:
        raise ValueError(f"header of {len(encoded)} bytes does not fit in {HEADER_BYTES}: {values}")
    header = np.zeros(HEADER_BYTES, np.uint8)
    header[: len(encoded)] = np.frombuffer(encoded, np.uint8)
    return header


def read_header(row: np.ndarray) -> dict:
    """The JSON header at the start of ``row`` (``header_row``)."""
    return json.loads(row[:HEADER_BYTES].tobytes().rstrip(b"\0"))


def sample_fitting_memory(
    items: Sequence[Item],
    sample: Callable[[Sequence[Item]], list[Result]],
    *,
    free_memory: Callable[[], None],
) -> list[Result | str]:
    """``sample(items)``, halving the batch each time it runs out of GPU memory.

    ``free_memory`` runs after each out-of-memory error (``torch.cuda.empty_cache``), eager or
    compiled (``is_out_of_memory``). An item that does not fit on its own gets ``OUT_OF_MEMORY`` (a
    sentence) in place of its result.
    """
    try:
        return list(sample(items))
    except Exception as error:
        if not is_out_of_memory(error):
            raise
        free_memory()
        if len(items) == 1:
            return [OUT_OF_MEMORY]
    half = (len(items) + 1) // 2
    return [
        *sample_fitting_memory(items[:half], sample, free_memory=free_memory),
        *sample_fitting_memory(items[half:], sample, free_memory=free_memory),
    ]


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is the GPU running out of memory: torch's ``OutOfMemoryError``, or an error
    carrying one (torch.compile wraps what its compiler raises in ``BackendCompilerFailed`` /
    ``InductorError``, keeping it as ``inner_exception``; other wrappers keep it as the cause or
    context), or a CUDA "out of memory" runtime error (a compiled kernel's launch)."""
    import torch

    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, torch.OutOfMemoryError):
            return True
        if isinstance(error, RuntimeError) and "CUDA error: out of memory" in str(error):
            return True
        error = getattr(error, "inner_exception", None) or error.__cause__ or error.__context__
    return False
