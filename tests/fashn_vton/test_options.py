"""What a client may ask of the FASHN VTON engine: the mode presets, an explicit steps winning."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tryon.engines.fashn_vton import FASHN_VTON
from tryon.engines.fashn_vton.engine import steps_note
from tryon.engines.fashn_vton.options import FashnVtonOptions


def test_without_options_it_samples_30_steps_at_guidance_1_5_and_decides_the_photo_type() -> None:
    options = FashnVtonOptions()
    assert (options.num_steps, options.guidance_scale, options.garment_photo_type, options.seed) == (30, 1.5, "auto", None)


@pytest.mark.parametrize(("mode", "steps"), [("performance", 20), ("balanced", 30), ("quality", 50)])
def test_each_mode_runs_its_step_count(mode: str, steps: int) -> None:
    assert FashnVtonOptions(mode=mode).num_steps == steps


def test_an_explicit_steps_wins_over_the_mode_and_the_notes_say_so() -> None:
    options, ignored = FASHN_VTON.request_options({"mode": "quality", "steps": 12})
    assert options.num_steps == 12 and ignored == ()
    assert steps_note(options) == ("12 denoising steps as sent in steps (mode quality alone would run 50)",)
    assert steps_note(FashnVtonOptions(steps=12)) == ()  # no mode sent: nothing overridden
    assert steps_note(FashnVtonOptions(mode="quality")) == ()


def test_options_keep_their_types_and_limits() -> None:
    options, _ = FASHN_VTON.request_options({"seed": 7, "guidance_scale": 2.5, "garment_photo_type": "model"})
    assert options == FashnVtonOptions(seed=7, guidance_scale=2.5, garment_photo_type="model")
    with pytest.raises(ValidationError):
        FashnVtonOptions(mode="fastest")
    with pytest.raises(ValidationError):
        FashnVtonOptions(steps=51)
