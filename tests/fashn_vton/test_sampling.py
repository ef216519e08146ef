"""The rectified-flow schedule and the guided Euler loop against the reference."""

from __future__ import annotations

import json

import pytest
import torch

from tryon.engines.fashn_vton.checkpoint import load_reference_checkpoint
from tryon.engines.fashn_vton.sampling import Conditioning, rectified_flow_times, sample_euler

from .golden_models import (
    GOLDEN,
    MMDIT_TINY,
    SAMPLE_TOLERANCE,
    SCHEDULE_TOLERANCE,
    case_config,
    case_model,
    mmdit_conditioning,
    mmdit_inputs,
    mmdit_outputs,
)

SCHEDULE = json.loads((GOLDEN / "schedule.json").read_text())


@pytest.mark.parametrize("num_steps", sorted(SCHEDULE["schedules"], key=int))
def test_schedule_matches_reference(num_steps):
    expected = torch.tensor(SCHEDULE["schedules"][num_steps])
    times = rectified_flow_times(int(num_steps), SCHEDULE["time_shift_mu"])
    assert times.dtype == torch.float32
    assert times.shape == expected.shape
    assert (times - expected).abs().max().item() <= SCHEDULE_TOLERANCE
    assert times[0].item() == 0.0 and times[-1].item() == 1.0


def test_schedule_refuses_no_steps():
    with pytest.raises(ValueError, match="at least 1"):
        rectified_flow_times(0)


def test_sampling_loop_matches_reference():
    inputs, settings = mmdit_inputs(), case_config(MMDIT_TINY)["sampling"]
    progress = []
    sample = sample_euler(
        case_model(MMDIT_TINY),
        inputs["sample_noise"],
        mmdit_conditioning(inputs),
        num_steps=settings["num_steps"],
        guidance_scale=settings["guidance_scale"],
        skip_cfg_last_n_steps=settings["skip_cfg_last_n_steps"],
        time_shift_mu=settings["time_shift_mu"],
        callback=lambda done, total: progress.append((done, total)),
    )
    assert (sample - mmdit_outputs()["sample"]).abs().max().item() <= SAMPLE_TOLERANCE
    assert sample.abs().max().item() <= 1.0
    steps = settings["num_steps"]
    assert progress == [(done, steps) for done in range(1, steps + 1)]


def test_guidance_changes_the_sample():
    inputs, settings = mmdit_inputs(), case_config(MMDIT_TINY)["sampling"]
    model, conditioning = case_model(MMDIT_TINY), mmdit_conditioning(inputs)
    guided = sample_euler(model, inputs["sample_noise"], conditioning, num_steps=settings["num_steps"])
    unguided = sample_euler(
        model, inputs["sample_noise"], conditioning, num_steps=settings["num_steps"], guidance_scale=1.0
    )
    assert (guided - unguided).abs().max().item() > 10 * SAMPLE_TOLERANCE


def test_bfloat16_model_samples_close_to_float32():
    """The GPU path's dtypes, run here on the CPU: the model in bfloat16, the running image in float32.

    With random weights bfloat16 drifts a few grey levels on average; nothing breaks or overflows.
    """
    inputs, settings = mmdit_inputs(), case_config(MMDIT_TINY)["sampling"]
    weights, config = MMDIT_TINY / "weights.safetensors", case_config(MMDIT_TINY)["model"]
    model = load_reference_checkpoint(weights, config, dtype=torch.bfloat16)
    conditioning = vars(mmdit_conditioning(inputs))
    low = {name: tensor.to(torch.bfloat16) if tensor.is_floating_point() else tensor
           for name, tensor in conditioning.items()}
    sample = sample_euler(model, inputs["sample_noise"], Conditioning(**low), num_steps=settings["num_steps"])
    assert sample.dtype == torch.float32 and torch.isfinite(sample).all()
    difference = (sample - mmdit_outputs()["sample"]).abs()
    assert 0 < difference.mean().item() < 0.1
