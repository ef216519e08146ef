"""Small mask helpers: bounding boxes (to work on the part that matters), holes, the largest region.

A mask is an ``HxW`` bool array, True where the named thing is."""

from __future__ import annotations

import cv2
import numpy as np

Mask = np.ndarray

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


def fill_holes(mask: Mask) -> Mask:
    """``mask`` (``HxW`` bool) with every hole inside its outer outlines filled."""
    filled = mask.astype(np.uint8)
    contours, _ = cv2.findContours(filled, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return filled.astype(bool)


def largest_component(mask: Mask) -> Mask:
    """The largest 8-connected region of ``mask`` (``HxW`` bool); all False when there is none."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros(mask.shape, bool)
    return labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
