"""What batching does to a job: the out-of-memory split under a memory cap, and one seed alone
against the same seed inside a batch."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from ..engines.fashn_vton.inputs import CanvasInputs, TryOnRequest, prepare_canvases
from ..engines.fashn_vton.pipeline import FashnVtonPipeline
from ..vision.batching import sample_fitting_memory
from ..vision.keypoints import Keypoints
from .report import Check, Status, plural

# The same seed alone and inside a batch, float32 on the CPU: the runner's tests allow this much.
SEED_MAX_LEVELS = 1
SEED_PIXEL_SHARE = 0.005


def random_canvases(pipeline: FashnVtonPipeline, rows: int, seed: int = 0) -> list[CanvasInputs]:
    """``rows`` canvases of random photos (flat-lay garments, no person keypoints)."""
    rng = np.random.default_rng(seed)
    requests = [
        TryOnRequest(
            rng.integers(0, 256, (300, 200, 3), dtype=np.uint8),
            rng.integers(0, 256, (200, 200, 3), dtype=np.uint8),
            "tops",
            Keypoints.none_seen(),
            garment_photo_type="flat-lay",
        )
        for _ in range(rows)
    ]
    return prepare_canvases(requests, pipeline.canvas_height, pipeline.canvas_width)


def memory_cap_bytes(baseline: int, one_row_peak: int, rows: int) -> int:
    """A cap that ``rows`` rows should not fit under but half of them should: the weights
    (``baseline`` bytes allocated) plus what one row's sampling added at its peak, times ``rows / 2 + 0.5``."""
    return baseline + int((one_row_peak - baseline) * (rows / 2 + 0.5))


@contextlib.contextmanager
def cuda_memory_cap(pipeline: FashnVtonPipeline, device: torch.device, rows: int) -> Iterator[float]:
    """Caps this process's CUDA memory (``set_per_process_memory_fraction``) at ``memory_cap_bytes``,
    measured on one row and one step; yields the fraction of the device's memory; lifts the cap after."""
    (canvas,) = random_canvases(pipeline, 1)
    torch.cuda.empty_cache()
    baseline = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    pipeline.sample_canvases([canvas], ["tops"], [0], num_steps=1)
    cap = memory_cap_bytes(baseline, torch.cuda.max_memory_allocated(device), rows)
    fraction = min(1.0, cap / torch.cuda.get_device_properties(device).total_memory)
    torch.cuda.empty_cache()
    torch.cuda.set_per_process_memory_fraction(fraction, device)
    try:
        yield fraction
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, device)
        torch.cuda.empty_cache()


def check_out_of_memory_split(pipeline: FashnVtonPipeline, device: torch.device, rows: int) -> Check:
    """A batch of ``rows`` sampled (1 step) through ``batching.sample_fitting_memory`` as the runner does,
    under a memory cap on CUDA, or (CPU, no cap) with an out-of-memory error injected for batches over half:
    the batch must be halved and every row complete."""
    canvases = random_canvases(pipeline, rows)
    tried: list[int] = []
    limit = rows // 2 if device.type != "cuda" else rows

    def sample(members: Sequence[CanvasInputs]) -> list[np.ndarray]:
        tried.append(len(members))
        if len(members) > limit:
            raise torch.OutOfMemoryError("out of memory (injected by tryon doctor)")
        return pipeline.sample_canvases(list(members), ["tops"] * len(members), list(range(len(members))), num_steps=1)

    if device.type == "cuda":
        with cuda_memory_cap(pipeline, device, rows) as fraction:
            results = sample_fitting_memory(canvases, sample, free_memory=torch.cuda.empty_cache)
        how = f"under a cap of {fraction:.1%} of the GPU's memory"
    else:
        fraction = None
        results = sample_fitting_memory(canvases, sample, free_memory=lambda: None)
        how = f"with an out-of-memory error injected over {limit} rows (CPU: no memory cap)"
    completed = sum(isinstance(result, np.ndarray) for result in results)
    figures = {"rows": rows, "batches_tried": tried, "completed": completed, "memory_fraction": fraction}
    reason = f"batch of {rows} {how}: tried {tried}, {completed}/{rows} completed"
    if completed < rows:
        return Check("out-of-memory split", Status.FAIL, reason, figures)
    if len(tried) == 1:
        return Check("out-of-memory split", Status.WARN, f"{reason}; the cap did not run out of memory, nothing was split", figures)
    return Check("out-of-memory split", Status.OK, reason, figures)


def check_seed_in_batch(pipeline: FashnVtonPipeline, rows: int, num_steps: int, seed: int = 7) -> Check:
    """The picture of ``seed`` sampled alone against the same request in the second row of a batch of ``rows``."""
    canvases = random_canvases(pipeline, rows)
    (alone,) = pipeline.sample_canvases([canvases[0]], ["tops"], [seed], num_steps=num_steps)
    order = [1, 0, *range(2, rows)] if rows > 1 else [0]
    seeds = [seed if index == 0 else seed + 1 + index for index in order]
    batch = pipeline.sample_canvases([canvases[index] for index in order], ["tops"] * rows, seeds, num_steps=num_steps)
    inside = batch[order.index(0)]
    difference = np.abs(alone.astype(np.int16) - inside.astype(np.int16))
    figures = {
        "batch": rows,
        "steps": num_steps,
        "max_difference_levels": int(difference.max()),
        "pixels_differing": float(np.mean(difference.max(axis=2) > 0)),
        "dtype": str(pipeline.transformer.dtype).removeprefix("torch."),
    }
    reason = (
        f"seed {seed} alone vs row 2 of a batch of {rows} ({plural(num_steps, 'step')}, {figures['dtype']}): max difference "
        f"{plural(figures['max_difference_levels'], 'grey level')}, {figures['pixels_differing']:.2%} of pixels differ"
    )
    reproduced = figures["max_difference_levels"] <= SEED_MAX_LEVELS and figures["pixels_differing"] <= SEED_PIXEL_SHARE
    return Check("seed alone vs in batch", Status.OK if reproduced else Status.WARN, reason, figures)
