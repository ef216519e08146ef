"""The fashn-vton model in the store: the importer's check by tensor name and shape, ``--from DIR``, the test model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from tests.e2e.served import REPO
from tests.models.conftest import temporary_model_store
from tryon.engines.fashn_vton.checkpoint import CheckpointMismatchError
from tryon.engines.fashn_vton.model_store import (
    MANIFEST,
    TEST_MODEL_CONFIG,
    TRANSFORMER_FOLDER,
    check_checkpoint,
    file_sha256,
    import_from_directory,
    safetensors_shapes,
)
from tryon.engines.fashn_vton.pipeline import FashnVtonPipeline
from tryon.engines.fashn_vton.transformer import FashnVtonTransformer

from .golden_models import GOLDEN, MMDIT_TINY, TENSOR_TOLERANCE, case_config, mmdit_conditioning, mmdit_inputs, mmdit_outputs

TINY_CONFIG = case_config(MMDIT_TINY)["model"]


@pytest.fixture()
def tiny_weights() -> dict[str, torch.Tensor]:
    return load_file(str(MMDIT_TINY / "weights.safetensors"))


def saved(tensors: dict[str, torch.Tensor], path: Path) -> Path:
    save_file({name: tensor.contiguous() for name, tensor in tensors.items()}, str(path))
    return path


def test_the_manifest_ships_in_the_package_and_is_the_golden_one() -> None:
    assert json.loads(MANIFEST.read_text()) == json.loads((GOLDEN / "full_size_manifest.json").read_text())
    pyproject = (REPO / "pyproject.toml").read_text()
    assert '"tryon.engines.fashn_vton" = ["full_size_manifest.json"]' in pyproject
    assert "tryon/engines/fashn_vton/full_size_manifest.json" in (REPO / "bentofile.yaml").read_text()


def test_the_header_alone_gives_every_tensor_shape(tiny_weights, tmp_path) -> None:
    shapes = safetensors_shapes(saved(tiny_weights, tmp_path / "model.safetensors"))
    assert shapes == {name: list(tensor.shape) for name, tensor in tiny_weights.items()}
    check_checkpoint(tmp_path / "model.safetensors", TINY_CONFIG)  # the tiny model's own shapes pass


@pytest.mark.parametrize(
    "change, message",
    [
        ("missing", "missing tensor final_layer.linear.bias"),
        ("extra", "unexpected tensor lora.down.weight"),
        ("misshaped", "tensor y_embedder.weight has shape [4, 32], expected [4, 64]"),
    ],
)
def test_a_checkpoint_that_is_not_the_model_is_refused_by_name(tiny_weights, tmp_path, change, message) -> None:
    if change == "missing":
        del tiny_weights["final_layer.linear.bias"]
    elif change == "extra":
        tiny_weights["lora.down.weight"] = torch.zeros(2, 2)
    else:
        tiny_weights["y_embedder.weight"] = torch.zeros(4, 32)
    path = saved(tiny_weights, tmp_path / "model.safetensors")
    with pytest.raises(CheckpointMismatchError) as refused:
        check_checkpoint(path, TINY_CONFIG)
    assert message in str(refused.value)


def test_a_file_that_is_not_safetensors_is_refused(tmp_path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(ValueError, match="is not a safetensors file"):
        safetensors_shapes(tmp_path / "model.safetensors")


@torch.no_grad()
def test_import_from_a_folder_round_trips_to_the_golden_forward(tmp_path) -> None:
    folder = tmp_path / "download"
    folder.mkdir()
    shutil.copyfile(MMDIT_TINY / "weights.safetensors", folder / "model.safetensors")
    with temporary_model_store(tmp_path / "bentoml"):
        stored = import_from_directory(folder, config=TINY_CONFIG)
        pipeline = FashnVtonPipeline.from_pretrained(Path(stored.path) / TRANSFORMER_FOLDER)  # as the runner loads

    labels = stored.info.labels
    assert labels["license"] == "apache-2.0" and labels["test-model"] == "false"
    assert labels["sha256"] == file_sha256(MMDIT_TINY / "weights.safetensors")
    assert labels["source"] == f"local folder {folder.resolve()}" and labels["revision"] == "local"
    assert stored.info.metadata["pose_source"] == "mediapipe"  # no dwpose/ in the folder
    inputs = mmdit_inputs()
    forward = pipeline.transformer(
        inputs["x"], inputs["times"], **vars(mmdit_conditioning(inputs)), mask=inputs["mask"]
    ).sample
    assert (forward - mmdit_outputs()["forward"]).abs().max().item() <= TENSOR_TOLERANCE


@pytest.mark.e2e  # slow (10-60 s on 2 cores): left to the full run
def test_the_import_script_refuses_a_checkpoint_that_is_not_the_published_one(tmp_path) -> None:
    folder = tmp_path / "download"
    folder.mkdir()
    shutil.copyfile(MMDIT_TINY / "weights.safetensors", folder / "model.safetensors")
    env = {"BENTOML_HOME": str(tmp_path / "bentoml"), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "model_store_scripts/import_models.py", "fashn-vton", "--from", str(folder)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode != 0
    assert "fashn-vton: not imported: checkpoint does not match FASHN VTON" in done.stderr, done.stderr[-2000:]
    assert "tensor t_embedder.mlp.in_layer.weight has shape [64, 256], expected [1280, 256]" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_test_model_is_the_tiny_full_canvas_model(tmp_path) -> None:
    from model_store_scripts.make_test_models import make_test_models

    with temporary_model_store(tmp_path / "bentoml"):
        (stored,) = make_test_models(["fashn-vton"])
    assert stored.tag.name == "fashn-vton" and stored.info.labels["test-model"] == "true"
    transformer = FashnVtonTransformer.from_pretrained(Path(stored.path) / TRANSFORMER_FOLDER)
    assert tuple(transformer.config.input_shape) == (864, 576)
    assert {key: transformer.config[key] for key in TEST_MODEL_CONFIG if key not in ("input_shape", "axes_dim")} == {
        key: value for key, value in TEST_MODEL_CONFIG.items() if key not in ("input_shape", "axes_dim")
    }
