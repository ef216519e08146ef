"""The check script's ``mmdit`` and ``pipeline`` subcommands, run as commands on the golden model cases."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file

from tests.conftest import REPO

from .golden_images import assert_png_matches
from .golden_models import (
    MMDIT_TINY,
    PIPELINE_PIXEL_SHARE,
    PIPELINE_TINY,
    SAMPLE_TOLERANCE,
    TENSOR_TOLERANCE,
    mmdit_outputs,
    read_rgb,
)

# The checker run as a command on each case: seconds each (6-15 s on 2 cores).
pytestmark = pytest.mark.e2e

SCRIPT = REPO / "model_store_scripts" / "check_fashn_reference.py"


def run_check(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=300)


def test_mmdit_writes_the_reference_outputs(tmp_path):
    completed = run_check("mmdit", MMDIT_TINY, tmp_path / "outputs.safetensors")
    assert completed.returncode == 0, completed.stderr
    written, expected = load_file(str(tmp_path / "outputs.safetensors")), mmdit_outputs()
    assert set(written) == set(expected) == {"forward", "v_c", "v_u", "sample"}
    for name, tolerance in [("forward", TENSOR_TOLERANCE), ("v_c", TENSOR_TOLERANCE), ("v_u", TENSOR_TOLERANCE),
                            ("sample", SAMPLE_TOLERANCE)]:
        assert written[name].shape == expected[name].shape
        assert (written[name] - expected[name]).abs().max().item() <= tolerance, name


def test_pipeline_writes_the_reference_picture(tmp_path):
    completed = run_check("pipeline", PIPELINE_TINY, tmp_path / "result.png")
    assert completed.returncode == 0, completed.stderr
    written = np.asarray(Image.open(tmp_path / "result.png"))
    assert_png_matches(written, read_rgb(PIPELINE_TINY / "result.png"), pixel_share=PIPELINE_PIXEL_SHARE)


def test_mmdit_refuses_a_case_whose_weights_do_not_match(tmp_path):
    case = tmp_path / "case"
    case.mkdir()
    config = (MMDIT_TINY / "config.json").read_text().replace('"double_blocks_depth": 2', '"double_blocks_depth": 1')
    (case / "config.json").write_text(config)
    for name in ("weights.safetensors", "inputs.safetensors"):
        (case / name).symlink_to(MMDIT_TINY / name)
    completed = run_check("mmdit", case, tmp_path / "outputs.safetensors")
    assert completed.returncode != 0
    assert "unexpected tensor double_blocks.1.img_attn.qkv.weight" in completed.stderr
