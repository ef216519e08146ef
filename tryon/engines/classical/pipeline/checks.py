"""Checks on the result before it is returned: a try-on that dressed nobody is a failure, not a result."""

from __future__ import annotations

import cv2
import numpy as np

from ....errors import TryOnError
from ....vision.masks import box_slices, mask_bounds
from .types import Mask, RGBImage


class GarmentNotApplied(TryOnError):
    """The pipeline ran, but the result would not show the person wearing the garment."""


def changed_share(
    person: RGBImage, result: RGBImage, zone: Mask, *, min_difference: float = 8.0, step: int = 2
) -> float:
    """Share (0..1) of ``zone`` whose colour visibly changed from ``person`` to ``result``.

    Both images are ``HxWx3`` uint8 RGB of one size; ``zone`` is ``HxW`` bool. A pixel changed when its
    OpenCV 8-bit Lab colour moved at least ``min_difference`` (Euclidean); every ``step``-th pixel of
    each row and column is looked at (a share, not a mask, is wanted). 0 for an empty zone.
    """
    if not zone.any():
        return 0.0
    rows, cols = box_slices(mask_bounds(zone))
    window = (slice(rows.start, rows.stop, step), slice(cols.start, cols.stop, step))
    before = cv2.cvtColor(np.ascontiguousarray(person[window]), cv2.COLOR_RGB2LAB).astype(np.float32)
    after = cv2.cvtColor(np.ascontiguousarray(result[window]), cv2.COLOR_RGB2LAB).astype(np.float32)
    moved = np.linalg.norm(after - before, axis=2) >= min_difference
    return float(moved[zone[window]].mean())


def check_dressed(person: RGBImage, result: RGBImage, zone: Mask, *, min_share: float) -> float:
    """The share of the garment's ``zone`` that changed (``changed_share``), at least ``min_share``.

    ``zone`` (``HxW`` bool) is where the new garment lands or the old one is repainted, less what stays
    in front. Raises ``GarmentNotApplied`` when less than ``min_share`` of it changed: the garment was
    fitted where nobody is, or onto a body it could not be told apart from.
    """
    share = changed_share(person, result, zone)
    if share < min_share:
        raise GarmentNotApplied(
            f"The garment could not be put on the person: only {100 * share:.0f}% of where it should be "
            "changed. Use a photo of one person standing, facing the camera, against a plain background."
        )
    return share
