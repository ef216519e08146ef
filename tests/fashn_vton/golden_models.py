"""The golden FASHN VTON cases (tests/fixtures/fashn-vton-1.5, see its README) and our models of them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

from tryon.engines.fashn_vton.checkpoint import load_reference_checkpoint
from tryon.engines.fashn_vton.sampling import Conditioning
from tryon.engines.fashn_vton.transformer import FashnVtonTransformer

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "fashn-vton-1.5"
MMDIT_TINY = GOLDEN / "mmdit-tiny"
PIPELINE_TINY = GOLDEN / "pipeline-tiny"

TENSOR_TOLERANCE = 1e-4  # forward, v_c, v_u
SAMPLE_TOLERANCE = 1e-3
SCHEDULE_TOLERANCE = 1e-6
PIPELINE_PIXEL_SHARE = 0.005  # the whole pipeline's PNG: pixels that may differ, each by one grey level


def case_config(case_dir: Path) -> dict:
    return json.loads((case_dir / "config.json").read_text())


def case_model(case_dir: Path) -> FashnVtonTransformer:
    """The case's model in float32 with its reference-named weights, loaded strictly."""
    return load_reference_checkpoint(case_dir / "weights.safetensors", case_config(case_dir)["model"], torch.float32)


def mmdit_inputs() -> dict[str, torch.Tensor]:
    return load_file(str(MMDIT_TINY / "inputs.safetensors"))


def mmdit_outputs() -> dict[str, torch.Tensor]:
    return load_file(str(MMDIT_TINY / "outputs.safetensors"))


def mmdit_conditioning(inputs: dict[str, torch.Tensor]) -> Conditioning:
    names = ("ca_images", "garment_images", "person_poses", "garment_poses", "garment_categories")
    return Conditioning(**{name: inputs[name] for name in names})


def read_rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))

