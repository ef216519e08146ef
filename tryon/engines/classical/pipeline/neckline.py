"""The garment's neck opening: what a product photo shows through it is the garment's inside.

A top photographed flat shows, above its front neckline, the inner back of the neckline with its
label. On a person facing the camera the neck hides it, so it must not be pasted.
"""

from __future__ import annotations

import cv2
import numpy as np

from .types import GarmentCutout, GarmentLandmarks, Mask


def neck_opening(
    cutout: GarmentCutout,
    landmarks: GarmentLandmarks,
    *,
    depth_range: tuple[float, float] = (0.08, 0.28),
    half_width: float = 0.2,
    axis_band: float = 0.04,
) -> Mask:
    """``hxw`` bool (the cut-out's size), True on the garment's inside seen through its neck opening.

    The opening is a half ellipse hanging from the top of the collar (``landmarks.neck``), ``half_width``
    of the shoulder span to each side. Its depth is the front neckline's: the lowest strong change of
    lightness down the garment's axis (a band ``axis_band`` of the span to each side), looked for
    ``depth_range`` of the span below the top of the collar. The front collar's lower edge (a crew
    neck's band, where a shirt's collar points meet, a mock neck's fold) is that change.
    """
    span = landmarks.right_shoulder[0] - landmarks.left_shoulder[0]
    x, top = landmarks.neck
    height, width = cutout.mask.shape
    half = max(1, round(axis_band * span))
    first, last = round(top + depth_range[0] * span), min(height - 1, round(top + depth_range[1] * span))
    left, right = max(0, round(x) - half), min(width, round(x) + half + 1)
    if span <= 0 or last <= first + 1 or right <= left:
        return np.zeros(cutout.mask.shape, bool)
    lightness = cv2.cvtColor(cutout.rgb[first : last + 1, left:right], cv2.COLOR_RGB2LAB)[..., 0]
    smooth = cv2.GaussianBlur(lightness.astype(np.float32), (0, 0), 2.0)
    change = np.abs(np.diff(smooth, axis=0)).mean(axis=1)
    depth = first + int(np.flatnonzero(change >= 0.5 * change.max())[-1]) + 1 - top
    opening = np.zeros(cutout.mask.shape, np.uint8)
    axes = (max(1, round(half_width * span)), max(1, round(depth)))
    cv2.ellipse(opening, (round(x), round(top)), axes, 0, 0, 180, 1, thickness=-1)
    return opening.astype(bool) & cutout.mask


def without_neck_opening(cutout: GarmentCutout, landmarks: GarmentLandmarks) -> GarmentCutout:
    """``cutout`` with its alpha and mask cleared in the ``neck_opening`` (edge feathered by a pixel)."""
    opening = neck_opening(cutout, landmarks)
    if not opening.any():
        return cutout
    soft = cv2.GaussianBlur(opening.astype(np.float32), (0, 0), 1.0)
    alpha = (cutout.alpha * (1.0 - np.maximum(soft, opening))).astype(np.float32)
    return GarmentCutout(rgb=cutout.rgb, alpha=alpha, mask=alpha > 0.5)
