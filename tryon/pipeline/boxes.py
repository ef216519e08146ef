"""Bounding boxes, so steps can work on the part of the photo that matters."""

from __future__ import annotations

import numpy as np

from .types import Mask

Box = tuple[int, int, int, int]  # (top, left, bottom, right), bottom and right exclusive


def mask_bounds(mask: Mask, *, margin: int = 0) -> Box:
    """The box of the True pixels of ``mask`` (``HxW`` bool, not all False), grown by ``margin``."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return (
        max(0, int(rows[0]) - margin),
        max(0, int(cols[0]) - margin),
        min(mask.shape[0], int(rows[-1]) + 1 + margin),
        min(mask.shape[1], int(cols[-1]) + 1 + margin),
    )


def box_slices(box: Box) -> tuple[slice, slice]:
    """Index a photo with a box: ``image[box_slices(box)]``."""
    top, left, bottom, right = box
    return slice(top, bottom), slice(left, right)
