"""The FLOP counter against a hand count on mmdit-tiny and torch's own counter of the matmuls it runs."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from tryon.engines.fashn_vton.flops import forward_flops
from tryon.engines.fashn_vton.transformer import FashnVtonTransformer

from .golden_models import MMDIT_TINY, case_config, mmdit_conditioning, mmdit_inputs

# mmdit-tiny: 48x32 pixels, patch 8 -> 24 tokens a stream (48 joint); width 64, MLP 256; 1 patch-mixer,
# 2 double and 2 single blocks; 2 FLOP per multiply-add.
HAND_LINEAR = (
    24 * (7 * 64) * 64 * 2  # person patch embedder
    + 24 * (4 * 64) * 64 * 2  # garment patch embedder
    + 2 * (256 * 64 + 64 * 64)  # time embedding MLP
    + 2 * 2 * (64 * 384) * 2  # double blocks' modulation, two streams
    + 3 * (64 * 192) * 2  # single blocks' modulation (patch mixer included)
    + (64 * 128) * 2  # final layer's modulation
    + (24 * 64 * 448 + 24 * 320 * 64) * 2  # patch mixer: fused q, k, v, MLP in; fused out
    + 2 * 2 * (24 * 64 * 192 + 24 * 64 * 64 + 2 * 24 * 64 * 256) * 2  # double blocks: qkv, proj, MLP; 2 streams
    + 2 * (48 * 64 * 448 + 48 * 320 * 64) * 2  # single blocks on the joint sequence
    + 24 * 64 * 192 * 2  # output projection
)
HAND_ATTENTION = 2 * 24 * 24 * 64 * 2 + 4 * 2 * 48 * 48 * 64 * 2  # Q K^T and A V: patch mixer, then 4 joint blocks


def test_tiny_count_matches_the_hand_count():
    flops = forward_flops(case_config(MMDIT_TINY)["model"])
    assert flops.linear == HAND_LINEAR
    assert flops.attention == HAND_ATTENTION
    assert flops.total == HAND_LINEAR + HAND_ATTENTION
    assert forward_flops(case_config(MMDIT_TINY)["model"], batch_size=3).total == 3 * flops.total


@torch.no_grad()
def test_linear_count_matches_torchs_counter():
    """torch counts the convolutions and matmuls the model runs (its CPU attention kernel it does not count)."""
    config = case_config(MMDIT_TINY)["model"]
    inputs = mmdit_inputs()
    model = FashnVtonTransformer(**config)
    with FlopCounterMode(display=False) as counter:
        model(inputs["x"][:1], inputs["times"][:1], **{k: v[:1] for k, v in vars(mmdit_conditioning(inputs)).items()})
    assert counter.get_total_flops() == forward_flops(config).linear


def test_full_size_forward_is_about_13_tflop():
    with torch.device("meta"):
        config = FashnVtonTransformer().config
    assert 13.0e12 < forward_flops(config).total < 13.4e12
