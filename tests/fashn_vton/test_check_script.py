"""The reviewer's checker, run as a command on the golden input cases."""

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO

from .golden_images import AGNOSTIC, DWPOSE, POSE, RESIZE, assert_png_matches, read_json, read_png

# The checker run as a command on each case: seconds each (6-15 s on 2 cores).
pytestmark = pytest.mark.e2e

SCRIPT = REPO / "model_store_scripts" / "check_fashn_reference.py"


def check(*args) -> str:
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_pose(tmp_path):
    check("pose", POSE / "pose_input.json", tmp_path / "pose_map.png")
    assert_png_matches(read_png(tmp_path / "pose_map.png"), read_png(POSE / "pose_map.png"))


def test_resize(tmp_path):
    case = read_json(RESIZE / "cases.json")["cases"][0]
    printed = json.loads(check("resize", RESIZE / case["in"], tmp_path / "out.png"))
    assert printed == {"pre_resized_hw": case["pre_resized_hw"], "padding_ltrb": case["padding_ltrb"]}
    assert_png_matches(read_png(tmp_path / "out.png"), read_png(RESIZE / case["out"]))


def test_agnostic(tmp_path):
    category = "one-pieces"
    agnostic, garment = tmp_path / "agnostic.png", tmp_path / "garment.png"
    check("agnostic", AGNOSTIC / "person.png", AGNOSTIC / "seg.png", category, agnostic, garment)
    assert_png_matches(read_png(agnostic), read_png(AGNOSTIC / f"agnostic_{category}.png"))
    assert_png_matches(read_png(garment), read_png(AGNOSTIC / f"garment_{category}.png"))


def test_dwpose(tmp_path):
    check("dwpose", DWPOSE, tmp_path)
    calls = read_json(DWPOSE / "README.json")["pose_calls"]
    names = ["det_input.png", "pose_map.png"] + [f"pose_crop_{call}.png" for call in range(calls)]
    for name in names:
        assert_png_matches(read_png(tmp_path / name), read_png(DWPOSE / name))
    assert np.allclose(np.load(tmp_path / "boxes.npy"), np.load(DWPOSE / "boxes.npy"), rtol=0, atol=1e-6)
    written, expected = read_json(tmp_path / "pose.json"), read_json(DWPOSE / "pose.json")
    assert written["bodies"]["subset"] == expected["bodies"]["subset"]
    assert np.allclose(written["hands"], expected["hands"], atol=1e-9)
    assert np.allclose(written["faces"], expected["faces"], atol=1e-9)
    seen = np.array(expected["bodies"]["subset"][0]) != -1
    candidates = [np.array(pose["bodies"]["candidate"])[seen] for pose in (written, expected)]
    assert np.allclose(*candidates, rtol=0, atol=1e-9)

