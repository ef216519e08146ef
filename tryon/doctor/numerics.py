"""Does our transformer compute the same on the serving device as on the CPU, and bfloat16 as float32?

- A tiny model of the real architecture (the golden ``mmdit-tiny`` configuration, random weights from
  a fixed seed) on the device in float32, TF32 off, against the same code on the CPU in float32:
  within the golden tolerances (forward 1e-4, a 4-step sampling run 1e-3).
- The same tiny model in bfloat16 on the device against the CPU's float32: within bfloat16's own
  error (the relative RMS error below ``BF16_RELATIVE_RMS``).
- One forward of the stored model in bfloat16 against float32 on the same device, the same bound.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from ..engines.fashn_vton.sampling import Conditioning, sample_euler
from ..engines.fashn_vton.transformer import FashnVtonTransformer
from .report import Check, Status
from .sampling_speed import random_batch

# The golden mmdit-tiny model's configuration (tests/fixtures/fashn-vton-1.5/mmdit-tiny/config.json).
TINY_CONFIG = {
    "input_shape": (48, 32),
    "hidden_size": 64,
    "n_heads": 2,
    "double_blocks_depth": 2,
    "single_blocks_depth": 2,
    "patch_size": 8,
    "axes_dim": (8, 12, 12),
    "patch_mixer_depth": 1,
}
FORWARD_TOLERANCE = 1e-4  # the golden README's, float32 on the CPU
SAMPLE_TOLERANCE = 1e-3
TINY_SAMPLE_STEPS = 4
# bfloat16 keeps 8 significant bits: one rounding is off by up to 2^-9 relative. A forward pass
# rounds at every layer, so its output's relative RMS error is a few of its eps (2^-7); beyond
# 4 eps something other than rounding is at work (warn), beyond 16 eps it is broken (fail).
BF16_RELATIVE_RMS = 4 * torch.finfo(torch.bfloat16).eps
BF16_BROKEN = 16 * torch.finfo(torch.bfloat16).eps


@dataclass(frozen=True)
class Difference:
    """How far ``output`` is from ``reference``: max absolute difference, and RMS difference over RMS reference."""

    max_abs: float
    relative_rms: float
    finite: bool

    @classmethod
    def between(cls, output: torch.Tensor, reference: torch.Tensor) -> Difference:
        output, reference = output.detach().float().cpu(), reference.detach().float().cpu()
        difference = output - reference
        return cls(
            max_abs=float(difference.abs().max()),
            relative_rms=float(difference.pow(2).mean().sqrt() / reference.pow(2).mean().sqrt().clamp_min(1e-12)),
            finite=bool(torch.isfinite(output).all()),
        )


@contextlib.contextmanager
def tf32_off() -> Iterator[None]:
    """float32 matmuls and convolutions in full float32 on CUDA (TF32 keeps 10 bits: not the golden's)."""
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


def tiny_model(device: torch.device, dtype: torch.dtype, seed: int = 0) -> FashnVtonTransformer:
    """The tiny model with the weights of ``seed`` (made on the CPU in float32, then moved)."""
    torch.manual_seed(seed)
    return FashnVtonTransformer(**TINY_CONFIG).eval().to(device=device, dtype=dtype)


def tiny_inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, Conditioning, torch.Tensor]:
    """(x, times, conditioning, mask) for 2 rows on the CPU in float32; the second row nulled."""
    generator = torch.Generator().manual_seed(seed)
    height, width = TINY_CONFIG["input_shape"]

    def image(channels: int) -> torch.Tensor:
        return torch.rand((2, channels, height, width), generator=generator) * 2 - 1

    conditioning = Conditioning(image(3), image(3), image(1), image(1), torch.tensor([1, 3]))
    return image(3), torch.tensor([0.3, 0.8]), conditioning, torch.tensor([True, False])


def on(conditioning: Conditioning, device: torch.device, dtype: torch.dtype) -> Conditioning:
    """The conditioning on ``device``, images in ``dtype`` (categories stay int64)."""
    return Conditioning(
        *(tensor.to(device=device, dtype=dtype if tensor.is_floating_point() else tensor.dtype) for tensor in vars(conditioning).values())
    )


@torch.no_grad()
def tiny_outputs(device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(forward, 4-step sampling run) of the tiny model on ``device`` in ``dtype``."""
    model = tiny_model(device, dtype)
    x, times, conditioning, mask = tiny_inputs()
    moved = on(conditioning, device, dtype)
    forward = model(x.to(device, dtype), times.to(device, dtype), **vars(moved), mask=mask.to(device)).sample
    noise = torch.Generator().manual_seed(1)
    sample = sample_euler(model, torch.randn(x.shape, generator=noise), moved, num_steps=TINY_SAMPLE_STEPS)
    return forward, sample


@functools.cache
def cpu_reference() -> tuple[torch.Tensor, torch.Tensor]:
    """``tiny_outputs`` on the CPU in float32: what the device's runs are compared with (computed once)."""
    return tiny_outputs(torch.device("cpu"), torch.float32)


def bf16_status(difference: Difference) -> Status:
    if not difference.finite or difference.relative_rms > BF16_BROKEN:
        return Status.FAIL
    return Status.OK if difference.relative_rms <= BF16_RELATIVE_RMS else Status.WARN


def check_tiny_float32(device: torch.device, reference: tuple[torch.Tensor, torch.Tensor]) -> Check:
    """The tiny model on ``device`` in float32 (TF32 off) against ``reference`` (``tiny_outputs`` on the CPU)."""
    with tf32_off():
        forward, sample = tiny_outputs(device, torch.float32)
    forward_diff, sample_diff = Difference.between(forward, reference[0]), Difference.between(sample, reference[1])
    figures = {
        "forward_max_abs": forward_diff.max_abs,
        "sample_max_abs": sample_diff.max_abs,
        "forward_tolerance": FORWARD_TOLERANCE,
        "sample_tolerance": SAMPLE_TOLERANCE,
    }
    measured = f"{device.type} vs cpu: forward {forward_diff.max_abs:.1e} (<= {FORWARD_TOLERANCE:.0e}), sample {sample_diff.max_abs:.1e} (<= {SAMPLE_TOLERANCE:.0e})"
    within = forward_diff.max_abs <= FORWARD_TOLERANCE and sample_diff.max_abs <= SAMPLE_TOLERANCE
    status = Status.OK if within and forward_diff.finite and sample_diff.finite else Status.FAIL
    return Check("tiny float32", status, measured, figures)


def check_tiny_bfloat16(device: torch.device, reference: tuple[torch.Tensor, torch.Tensor]) -> Check:
    """The tiny model on ``device`` in bfloat16 against ``reference`` (float32, CPU)."""
    forward, sample = tiny_outputs(device, torch.bfloat16)
    forward_diff, sample_diff = Difference.between(forward, reference[0]), Difference.between(sample, reference[1])
    figures = {
        "forward_max_abs": forward_diff.max_abs,
        "forward_relative_rms": forward_diff.relative_rms,
        "sample_max_abs": sample_diff.max_abs,
        "sample_relative_rms": sample_diff.relative_rms,
        "relative_rms_bound": BF16_RELATIVE_RMS,
    }
    status = min((bf16_status(forward_diff), bf16_status(sample_diff)), key=_severity)
    measured = (
        f"{device.type} vs float32 cpu: relative RMS error forward {forward_diff.relative_rms:.4f}, sample {sample_diff.relative_rms:.4f} "
        f"(bound {BF16_RELATIVE_RMS:.4f}); max abs {forward_diff.max_abs:.3f} / {sample_diff.max_abs:.3f}"
    )
    return Check("tiny bfloat16", status, measured, figures)


@torch.no_grad()
def check_stored_bfloat16(float32_model: FashnVtonTransformer, bfloat16_model: FashnVtonTransformer) -> Check:
    """One forward (batch 1, random inputs, t = 0.5, guided rows) of the stored model in both dtypes on one device."""
    outputs = []
    for model in (float32_model, bfloat16_model):
        torch.manual_seed(0)
        x, conditioning = random_batch(model, 1)
        times = torch.full((1,), 0.5, device=model.device, dtype=model.dtype)
        outputs.append(model(x.to(model.dtype), times, **vars(conditioning)).sample)
    difference = Difference.between(outputs[1], outputs[0])
    figures = {"max_abs": difference.max_abs, "relative_rms": difference.relative_rms, "relative_rms_bound": BF16_RELATIVE_RMS}
    measured = f"one forward on {float32_model.device.type} vs float32: relative RMS error {difference.relative_rms:.4f} (bound {BF16_RELATIVE_RMS:.4f}), max abs {difference.max_abs:.3f}"
    return Check("stored bfloat16", bf16_status(difference), measured, figures)


def _severity(status: Status) -> int:
    """Lower is worse, for ``min``."""
    return {Status.FAIL: 0, Status.WARN: 1, Status.OK: 2, Status.SKIPPED: 3}[status]
