"""FashnVtonTransformer against the reference's outputs on mmdit-tiny (float32, CPU)."""

from __future__ import annotations

import pytest
import torch

from tryon.engines.fashn_vton.pipeline import FashnVtonPipeline
from tryon.engines.fashn_vton.sampling import conditional_and_null_velocity
from tryon.engines.fashn_vton.transformer import FashnVtonTransformer, inference_dtype

from .golden_models import (
    MMDIT_TINY,
    TENSOR_TOLERANCE,
    case_config,
    case_model,
    mmdit_conditioning,
    mmdit_inputs,
    mmdit_outputs,
)


@pytest.fixture(scope="module")
def tiny() -> FashnVtonTransformer:
    return case_model(MMDIT_TINY)


def max_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape
    return (a - b).abs().max().item()


@torch.no_grad()
def test_forward_with_mask_matches_reference(tiny):
    inputs = mmdit_inputs()
    assert not inputs["mask"].all(), "the case must null some rows"
    forward = tiny(
        inputs["x"], inputs["times"], **vars(mmdit_conditioning(inputs)), mask=inputs["mask"]
    ).sample
    assert max_difference(forward, mmdit_outputs()["forward"]) <= TENSOR_TOLERANCE


@torch.no_grad()
def test_guidance_pair_matches_reference(tiny):
    inputs, outputs = mmdit_inputs(), mmdit_outputs()
    v_c, v_u = conditional_and_null_velocity(tiny, inputs["x"], inputs["times"], mmdit_conditioning(inputs))
    assert max_difference(v_c, outputs["v_c"]) <= TENSOR_TOLERANCE
    assert max_difference(v_u, outputs["v_u"]) <= TENSOR_TOLERANCE
    assert max_difference(v_c, v_u) > 100 * TENSOR_TOLERANCE, "the null conditioning must change the output"


@torch.no_grad()
def test_null_rows_ignore_their_conditioning(tiny):
    inputs = mmdit_inputs()
    conditioning = vars(mmdit_conditioning(inputs))
    nulled = torch.zeros(2, dtype=torch.bool)
    first = tiny(inputs["x"], inputs["times"], **conditioning, mask=nulled).sample
    scrambled = {name: tensor.flip(0) for name, tensor in conditioning.items()}
    second = tiny(inputs["x"], inputs["times"], **scrambled, mask=nulled).sample
    assert torch.equal(first, second)


def public_config(model: FashnVtonTransformer) -> dict:
    """The constructor's arguments, as JSON gives them (lists, not tuples)."""
    config = {name: value for name, value in model.config.items() if not name.startswith("_")}
    return {name: list(value) if isinstance(value, tuple) else value for name, value in config.items()}


@torch.no_grad()
def test_save_and_load_pretrained_round_trip(tiny, tmp_path):
    tiny.save_pretrained(tmp_path)
    loaded = FashnVtonPipeline.from_pretrained(tmp_path, device="cpu").transformer
    assert loaded.dtype == torch.float32
    assert public_config(loaded) == public_config(tiny) == case_config(MMDIT_TINY)["model"]
    inputs = mmdit_inputs()
    arguments = (inputs["x"], inputs["times"])
    conditioning = vars(mmdit_conditioning(inputs))
    assert torch.equal(loaded(*arguments, **conditioning).sample, tiny(*arguments, **conditioning).sample)


def test_config_keys_are_the_reference_constructors():
    assert set(FashnVtonTransformer.extract_init_dict(case_config(MMDIT_TINY)["model"])[0]) == set(
        case_config(MMDIT_TINY)["model"]
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"axes_dim": (8, 12, 8)}, "must sum to the head width 32"),
        ({"n_heads": 3}, "not divisible by n_heads 3"),
        ({"patch_size": 7}, "not divisible by patch_size 7"),
        ({"mlp_ratio": 2}, "mlp_ratio 2"),
        ({"qkv_bias": False}, "qkv_bias False"),
    ],
)
def test_unbuildable_configs_are_refused(change, message):
    config = {**case_config(MMDIT_TINY)["model"], **change}
    with pytest.raises(ValueError, match=message):
        FashnVtonTransformer(**config)


def test_cpu_runs_in_float32():
    assert inference_dtype("cpu") == torch.float32
