"""Speed and memory of the full-size FASHN VTON v1.5 transformer (random weights built from its config).

    python benchmarks/fashn_vton.py                                   # CUDA if present: batch 1 2 4 8, 3 steps
    python benchmarks/fashn_vton.py --device cpu --batches 1 --steps 1 --warmup 0

For each batch size it times guided denoising steps (one conditional + null pass of 2 x batch rows, as
the pipeline runs them) on random inputs at 864x576, after ``--warmup`` untimed steps, and prints one
row as soon as it is measured: seconds per step, seconds per ``--job-steps`` job (steps x the measured
step time: the last, unguided step costs about half a step, so a slight upper bound), images per
second, peak memory (CUDA's max allocated on a GPU; the process's peak RSS on the CPU, which includes
building the model), and the share of the chip's dense rate (``--peak-tflops``, default 989: H100 /
H200 SXM dense bf16) that the FLOP count (``tryon.engines.fashn_vton.flops``) achieves.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tryon.engines.fashn_vton.flops import forward_flops  # noqa: E402
from tryon.engines.fashn_vton.sampling import Conditioning, guided_velocity, rectified_flow_times  # noqa: E402
from tryon.engines.fashn_vton.transformer import FashnVtonTransformer, inference_dtype  # noqa: E402

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def build_model(device: torch.device, dtype: torch.dtype) -> FashnVtonTransformer:
    """The full-size architecture with random weights, made on ``device`` in ``dtype`` (no float32 copy first)."""
    default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = FashnVtonTransformer()
    finally:
        torch.set_default_dtype(default_dtype)
    return model.eval()


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


def peak_memory_gib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kilobytes on Linux


@torch.no_grad()
def seconds_per_step(
    model: FashnVtonTransformer, batch: int, steps: int, warmup: int, guidance_scale: float, job_steps: int
) -> float:
    """Mean wall time of ``steps`` guided Euler steps at ``batch``, after ``warmup`` untimed ones."""
    x, conditioning = random_batch(model, batch)
    times = rectified_flow_times(job_steps).tolist()
    for step in range(warmup + steps):
        if step == warmup:
            synchronize(model.device)
            start = time.perf_counter()
        t, t_next = times[step % job_steps], times[step % job_steps + 1]
        x = x + (t_next - t) * guided_velocity(model, x, t, conditioning, guidance_scale)
    synchronize(model.device)
    return (time.perf_counter() - start) / steps


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--steps", type=int, default=3, help="timed guided steps per batch size")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps before them")
    parser.add_argument("--job-steps", type=int, default=30)
    parser.add_argument("--guidance-scale", type=float, default=1.5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=sorted(DTYPES), help="default: bfloat16 on a GPU that has it, else float32")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="the chip's dense rate in this dtype")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")

    device = torch.device(args.device)
    dtype = DTYPES[args.dtype] if args.dtype else inference_dtype(device)
    started = time.perf_counter()
    model = build_model(device, dtype)
    print(f"device {device}, {dtype}; built in {time.perf_counter() - started:.1f} s; "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters; "
          f"{forward_flops(model.config).total / 1e12:.2f} TFLOP per forward (two per guided step)", flush=True)
    print("batch  s/step  s/job  images/s  peak GiB  TFLOP/s  share of peak", flush=True)
    for batch in args.batches:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        step = seconds_per_step(model, batch, args.steps, args.warmup, args.guidance_scale, args.job_steps)
        job = step * args.job_steps
        achieved = forward_flops(model.config, batch_size=2 * batch).total / step / 1e12
        print(f"{batch:5d}  {step:6.2f}  {job:6.1f}  {batch / job:8.3f}  {peak_memory_gib(device):8.1f}  "
              f"{achieved:7.3f}  {achieved / args.peak_tflops:12.3%}", flush=True)


if __name__ == "__main__":
    main()
