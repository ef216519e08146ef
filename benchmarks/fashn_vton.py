"""Speed and memory of the full-size FASHN VTON v1.5 transformer (random weights built from its config).

    python benchmarks/fashn_vton.py                                   # CUDA if present: batch 1 2 4 8, 3 steps
    python benchmarks/fashn_vton.py --device cpu --batches 1 --steps 1 --warmup 0

For each batch size it times guided denoising steps (one conditional + null pass of 2 x batch rows, as
the pipeline runs them) on random inputs at 864x576, after ``--warmup`` untimed steps, and prints one
row as soon as it is measured: seconds per step, seconds per ``--job-steps`` job (steps x the measured
step time: the last, unguided step costs about half a step, so a slight upper bound), images per
second, the share of the chip's dense rate (``--peak-tflops``, default 989: H100 / H200 SXM dense
bf16) that the FLOP count (``tryon.engines.fashn_vton.flops``) achieves, and peak memory (CUDA's max
allocated and reserved on a GPU; the process's peak RSS on the CPU, which includes building the
model). The rows are ``tryon.doctor.sampling_speed``'s, as ``tryon doctor`` prints them for the stored model.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tryon.doctor.sampling_speed import ROW_HEADER, format_row, measure_speed  # noqa: E402
from tryon.engines.fashn_vton.flops import forward_flops  # noqa: E402
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
    print(ROW_HEADER, flush=True)
    for batch in args.batches:
        row = measure_speed(
            model, batch, steps=args.steps, warmup=args.warmup, job_steps=args.job_steps,
            guidance_scale=args.guidance_scale, peak_tflops=args.peak_tflops,
        )
        print(format_row(row), flush=True)


if __name__ == "__main__":
    main()
