"""How fast the transformer samples, and how much memory it takes: the doctor's benchmark rows (and
``benchmarks/fashn_vton.py``'s, which prints the same rows for a model it builds).

A row times ``steps`` guided denoising steps (one conditional + null pass of 2 x batch rows, as the
pipeline runs them) on random inputs after ``warmup`` untimed ones; a job is ``job_steps`` such
steps (the last, unguided step costs about half: a slight upper bound). The share of the chip's
peak is the FLOP count (``flops.forward_flops``) over the measured time, against its dense bf16 rate.
"""

from __future__ import annotations

import resource
import time
from dataclasses import asdict, dataclass

import torch

from ..engines.fashn_vton.flops import forward_flops
from ..engines.fashn_vton.sampling import Conditioning, guided_velocity, rectified_flow_times
from ..engines.fashn_vton.transformer import FashnVtonTransformer

JOB_STEPS = 30


@dataclass(frozen=True)
class SpeedRow:
    """One batch size's figures. ``share_of_peak`` is None where the peak is unknown (or the CPU's);
    memory: CUDA's peak allocated and reserved GiB, or (CPU) the process's peak RSS so far."""

    batch: int
    seconds_per_step: float
    seconds_per_job: float
    images_per_second: float
    tflops: float
    share_of_peak: float | None
    peak_allocated_gib: float | None
    peak_reserved_gib: float | None
    peak_rss_gib: float | None
    warmup_seconds: float

    def as_json(self) -> dict:
        return {key: round(value, 4) if isinstance(value, float) else value for key, value in asdict(self).items()}


def random_batch(model: FashnVtonTransformer, batch: int) -> tuple[torch.Tensor, Conditioning]:
    """Noise (float32, as the sampler keeps it) and conditioning in the model's dtype, values in [-1, 1]."""
    height, width = model.config.input_shape
    device, dtype = model.device, model.dtype

    def image(channels: int) -> torch.Tensor:
        return torch.rand((batch, channels, height, width), device=device).mul(2).sub(1).to(dtype)

    conditioning = Conditioning(
        ca_images=image(3),
        garment_images=image(3),
        person_poses=image(1),
        garment_poses=image(1),
        garment_categories=torch.ones(batch, dtype=torch.int64, device=device),
    )
    return torch.randn((batch, 3, height, width), device=device), conditioning


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kilobytes on Linux


@torch.no_grad()
def time_guided_steps(
    model: FashnVtonTransformer, batch: int, steps: int, warmup: int, guidance_scale: float, job_steps: int
) -> tuple[float, float]:
    """(seconds of the ``warmup`` untimed steps, mean seconds of the ``steps`` guided Euler steps after them)."""
    x, conditioning = random_batch(model, batch)
    times = rectified_flow_times(job_steps).tolist()
    started = time.perf_counter()
    warmed = started
    for step in range(warmup + steps):
        if step == warmup:
            synchronize(model.device)
            warmed = time.perf_counter()
        t, t_next = times[step % job_steps], times[step % job_steps + 1]
        x = x + (t_next - t) * guided_velocity(model, x, t, conditioning, guidance_scale)
    synchronize(model.device)
    return warmed - started, (time.perf_counter() - warmed) / steps


def measure_speed(
    model: FashnVtonTransformer,
    batch: int,
    *,
    steps: int,
    warmup: int = 1,
    job_steps: int = JOB_STEPS,
    guidance_scale: float = 1.5,
    peak_tflops: float | None = None,
) -> SpeedRow:
    """One ``SpeedRow`` for ``batch`` on the model's device (``model`` may be ``torch.compile``'d)."""
    device = model.device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    warmup_seconds, step = time_guided_steps(model, batch, steps, warmup, guidance_scale, job_steps)
    job = step * job_steps
    achieved = forward_flops(model.config, batch_size=2 * batch).total / step / 1e12
    cuda = device.type == "cuda"
    return SpeedRow(
        batch=batch,
        seconds_per_step=step,
        seconds_per_job=job,
        images_per_second=batch / job,
        tflops=achieved,
        share_of_peak=achieved / peak_tflops if peak_tflops else None,
        peak_allocated_gib=torch.cuda.max_memory_allocated(device) / 2**30 if cuda else None,
        peak_reserved_gib=torch.cuda.max_memory_reserved(device) / 2**30 if cuda else None,
        peak_rss_gib=None if cuda else peak_rss_gib(),
        warmup_seconds=warmup_seconds,
    )


ROW_HEADER = "batch  s/step  s/job  images/s  TFLOP/s  share of peak  peak alloc/reserved (CUDA) or RSS (CPU) GiB"


def format_row(row: SpeedRow) -> str:
    """The row as ``ROW_HEADER`` lays it out."""
    share = f"{row.share_of_peak:.1%}" if row.share_of_peak is not None else "n/a"
    if row.peak_allocated_gib is not None:
        memory = f"{row.peak_allocated_gib:.2f} / {row.peak_reserved_gib:.2f}"
    else:
        memory = f"{row.peak_rss_gib:.2f} RSS"
    return (
        f"{row.batch:5d}  {row.seconds_per_step:6.3f}  {row.seconds_per_job:5.1f}  {row.images_per_second:8.3f}  "
        f"{row.tflops:7.3f}  {share:>13}  {memory}"
    )
