"""The golden FASHN VTON input cases (tests/fixtures/fashn-vton-1.5, see its README) and its PNG bar."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "fashn-vton-1.5"
POSE = GOLDEN / "pose"
RESIZE = GOLDEN / "resize"
AGNOSTIC = GOLDEN / "agnostic"
DWPOSE = GOLDEN / "dwpose"

PNG_PIXEL_SHARE = 0.001  # pixels that may differ, each by at most one grey level


def read_png(path: Path) -> np.ndarray:
    """The PNG's pixels as stored: ``HxW`` or ``HxWx3`` uint8."""
    return np.asarray(Image.open(path))


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def assert_png_matches(image: np.ndarray, expected: np.ndarray, pixel_share: float = PNG_PIXEL_SHARE) -> None:
    """Same shape; at most ``pixel_share`` of the pixels differ, none by more than one grey level."""
    assert image.shape == expected.shape, f"shape {image.shape}, expected {expected.shape}"
    difference = np.abs(image.astype(np.int16) - expected.astype(np.int16))
    if difference.ndim == 3:
        difference = difference.max(axis=-1)
    assert difference.max() <= 1, f"a pixel differs by {difference.max()} grey levels"
    assert (difference > 0).mean() <= pixel_share, f"{(difference > 0).mean():.4%} of the pixels differ"
