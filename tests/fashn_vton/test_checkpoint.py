"""The key map from the reference's tensor names: strict loading, refusals by name, the full-size layout."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from tryon.engines.fashn_vton.checkpoint import (
    CheckpointMismatchError,
    check_full_size_manifest,
    key_map,
    load_reference_state_dict,
    validate_tensor_shapes,
)
from tryon.engines.fashn_vton.transformer import FashnVtonTransformer

from .golden_models import GOLDEN, MMDIT_TINY, case_config

MANIFEST = json.loads((GOLDEN / "full_size_manifest.json").read_text())["tensors"]


@pytest.fixture()
def tiny_model() -> FashnVtonTransformer:
    return FashnVtonTransformer(**case_config(MMDIT_TINY)["model"])


@pytest.fixture()
def tiny_weights() -> dict[str, torch.Tensor]:
    return load_file(str(MMDIT_TINY / "weights.safetensors"))


def test_tiny_checkpoint_loads_strictly_and_uses_every_tensor(tiny_model, tiny_weights):
    load_reference_state_dict(tiny_model, tiny_weights)
    ours = tiny_model.state_dict()
    qkv = tiny_weights["double_blocks.0.img_attn.qkv.weight"]
    query, key, value = qkv.chunk(3)
    assert torch.equal(ours["transformer_blocks.0.attn.to_q.weight"], query)
    assert torch.equal(ours["transformer_blocks.0.attn.to_v.weight"], value)
    assert torch.equal(ours["transformer_blocks.0.attn.add_k_proj.weight"],
                       tiny_weights["double_blocks.0.txt_attn.qkv.weight"].chunk(3)[1])
    shift, scale = tiny_weights["final_layer.adaLN_modulation.1.bias"].chunk(2)
    assert torch.equal(ours["norm_out.linear.bias"], torch.cat([scale, shift]))
    mlp_input = tiny_weights["single_blocks.1.linear1.weight"][3 * 64 :]
    assert torch.equal(ours["single_transformer_blocks.1.proj_mlp.weight"], mlp_input)
    assert torch.equal(ours["patch_mixer_blocks.0.attn.norm_k.weight"],
                       tiny_weights["x_patch_mixer.0.norm.key_norm.scale"])
    used = {rule.reference for rule in key_map(tiny_model.config)}
    assert used == set(tiny_weights)


def test_missing_tensor_is_refused_by_name(tiny_model, tiny_weights):
    del tiny_weights["single_blocks.1.linear2.bias"]
    with pytest.raises(CheckpointMismatchError, match=r"missing tensor single_blocks\.1\.linear2\.bias") as error:
        load_reference_state_dict(tiny_model, tiny_weights)
    assert error.value.missing == ["single_blocks.1.linear2.bias"]


def test_extra_tensor_is_refused_by_name(tiny_model, tiny_weights):
    tiny_weights["guidance_embedder.mlp.in_layer.weight"] = torch.zeros(64, 256)
    with pytest.raises(CheckpointMismatchError, match=r"unexpected tensor guidance_embedder\.mlp\.in_layer\.weight"):
        load_reference_state_dict(tiny_model, tiny_weights)


def test_misshaped_tensor_is_refused_by_name(tiny_model, tiny_weights):
    tiny_weights["y_embedder.weight"] = torch.zeros(3, 64)
    expected = r"tensor y_embedder\.weight has shape \[3, 64\], expected \[4, 64\]"
    with pytest.raises(CheckpointMismatchError, match=expected):
        load_reference_state_dict(tiny_model, tiny_weights)


def test_all_problems_are_listed_in_one_error():
    found = {name: shape for name, shape in MANIFEST.items() if name != "t_embedder.mlp.in_layer.bias"}
    found["x_embedder.proj.weight"] = [1280, 6, 12, 12]
    found["extra.weight"] = [1]
    with pytest.raises(CheckpointMismatchError) as error:
        validate_tensor_shapes(found, MANIFEST)
    assert error.value.missing == ["t_embedder.mlp.in_layer.bias"]
    assert error.value.extra == ["extra.weight"]
    assert error.value.misshaped == {"x_embedder.proj.weight": ((1280, 6, 12, 12), (1280, 7, 12, 12))}
    validate_tensor_shapes(MANIFEST, MANIFEST)


def test_full_size_model_accounts_for_every_manifest_tensor():
    check_full_size_manifest(MANIFEST)
    with torch.device("meta"):
        parameters = sum(tensor.numel() for tensor in FashnVtonTransformer().parameters())
    token = 1 * 1 * 3 * 12 * 12  # patch_mixer_token: in the checkpoint, never read
    assert parameters + token == json.loads((GOLDEN / "full_size_manifest.json").read_text())["parameters"]


def test_full_size_check_fails_on_a_changed_manifest():
    changed = dict(MANIFEST)
    del changed["double_blocks.7.txt_mlp.2.weight"]
    with pytest.raises(CheckpointMismatchError, match=r"double_blocks\.7\.txt_mlp\.2\.weight"):
        check_full_size_manifest(changed)

