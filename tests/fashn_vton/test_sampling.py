"""The rectified-flow schedule and the guided Euler loop against the reference."""

from __future__ import annotations

import json

import pytest
import torch

from tryon.engines.fashn_vton.sampling import rectified_flow_times, sample_euler

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
