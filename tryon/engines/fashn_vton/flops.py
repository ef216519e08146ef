"""What one forward pass of FASHN VTON costs: matmul and attention FLOPs, 2 per multiply-add.

Counted from the configuration (``FashnVtonTransformer``'s arguments) at its ``input_shape``.
Element-wise work (norms, activations, modulation arithmetic, rotary) is left out: it is a rounding
error next to the matmuls. A guided denoising step runs two forward passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ForwardFlops:
    """FLOPs of one forward pass, by kind: ``linear`` (projections, MLPs, patch embedders), ``attention``
    (Q K^T and attention x V)."""

    linear: int
    attention: int

    @property
    def total(self) -> int:
        return self.linear + self.attention


def _attention_flops(tokens: int, width: int) -> int:
    """Q K^T and A V over ``tokens`` tokens of ``width`` channels (all heads): 2 matmuls of L x L x D."""
    return 2 * 2 * tokens * tokens * width


def _single_block_linear_flops(tokens: int, width: int, mlp_width: int) -> int:
    """Fused q, k, v + MLP input, then the fused output projection (attention + MLP back to ``width``)."""
    return 2 * tokens * width * (3 * width + mlp_width) + 2 * tokens * (width + mlp_width) * width


def _double_block_linear_flops(tokens_per_stream: int, width: int, mlp_width: int) -> int:
    """Per stream: q, k, v, output projection, two-layer MLP; two streams."""
    per_stream = 2 * tokens_per_stream * width * (4 * width + 2 * mlp_width)
    return 2 * per_stream


def forward_flops(config: Mapping, batch_size: int = 1) -> ForwardFlops:
    """FLOPs of one forward pass of ``batch_size`` images at ``config["input_shape"]``."""
    height, width_pixels = config["input_shape"]
    patch = config["patch_size"]
    channels = config["channels_in"]
    width = config["hidden_size"]
    mlp_width = int(width * config["mlp_ratio"])
    tokens = (height // patch) * (width_pixels // patch)  # per stream; the joint sequence is twice that
    mixer_depth = config["patch_mixer_depth"] if config["use_patch_mixer"] else 0
    single_blocks = mixer_depth + config["single_blocks_depth"]
    joint_blocks = config["double_blocks_depth"] + config["single_blocks_depth"]

    embedders = 2 * tokens * patch * patch * ((2 * channels + 1) + (channels + 1)) * width
    time_embedding = 2 * (256 * width + width * width)
    modulation = 2 * width * width * (
        6 * 2 * config["double_blocks_depth"] + 3 * single_blocks + 2  # final layer: shift and scale
    )
    mixer = mixer_depth * _single_block_linear_flops(tokens, width, mlp_width)
    double = config["double_blocks_depth"] * _double_block_linear_flops(tokens, width, mlp_width)
    single = config["single_blocks_depth"] * _single_block_linear_flops(2 * tokens, width, mlp_width)
    output = 2 * tokens * width * channels * patch * patch
    linear = embedders + time_embedding + modulation + mixer + double + single + output

    attention = mixer_depth * _attention_flops(tokens, width) + joint_blocks * _attention_flops(2 * tokens, width)
    return ForwardFlops(linear=batch_size * linear, attention=batch_size * attention)
