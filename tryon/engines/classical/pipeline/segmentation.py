"""Segmentation step: the garment out of its product photo, the person out of theirs."""

from __future__ import annotations

import cv2
import numpy as np

from ....vision.cutout import flat_lay_mask
from ....vision.masks import box_slices, mask_bounds
from .types import Alpha, GarmentCutout, Mask, RGBImage


def cut_out_garment(
    garment: RGBImage,
    *,
    clothes_mask: Mask | None = None,
    work_side: int = 256,
    feather_px: float = 1.5,
) -> GarmentCutout:
    """Separate a garment from the plain background of its product photo (``vision.cutout.flat_lay_mask``).

    ``garment`` is an ``HxWx3`` uint8 RGB product shot on a plain studio background; ``clothes_mask``
    (``HxW`` bool), when given, is where a learned parser sees clothes. The returned cut-out is cropped
    to the garment's bounding box at full resolution, with edges feathered over about ``feather_px``
    pixels. Raises ``GarmentNotFound`` when no garment can be separated from the background.
    """
    found = flat_lay_mask(garment, clothes_mask=clothes_mask, work_side=work_side)
    return _full_resolution_cutout(garment, found.mask, found.scale, feather_px=feather_px)


def person_mask(probability: Alpha, *, threshold: float = 0.5) -> Mask:
    """``HxW`` bool, True on the person, from the segmenter's ``HxW`` float32 probability in [0, 1]."""
    return probability > threshold


def _full_resolution_cutout(
    garment: RGBImage, small_mask: Mask, scale: float, *, feather_px: float
) -> GarmentCutout:
    """Crop the full-resolution photo to the mask's box; upscale the mask into a feathered alpha."""
    ys, xs = np.nonzero(small_mask)
    height, width = garment.shape[:2]
    top, bottom = int(ys.min() / scale), min(height, int(np.ceil((ys.max() + 1) / scale)))
    left, right = int(xs.min() / scale), min(width, int(np.ceil((xs.max() + 1) / scale)))
    # Upscale the smoothed mask with linear interpolation, then re-sharpen it around 0.5: a staircase
    # of low-resolution pixels becomes a smooth edge about ``feather_px`` full-resolution pixels wide.
    soft = cv2.GaussianBlur(small_mask.astype(np.float32), (0, 0), 0.7)
    full = cv2.resize(soft, (width, height), interpolation=cv2.INTER_LINEAR)[top:bottom, left:right]
    # ``full`` rises by about ``scale`` per full-resolution pixel across an edge.
    alpha = np.clip((full - 0.5) / (scale * feather_px) + 0.5, 0.0, 1.0).astype(np.float32)
    # Tighten the box from the low-resolution mask's to the full-resolution garment's.
    inner = box_slices(mask_bounds(alpha > 0.5))
    top, left = top + inner[0].start, left + inner[1].start
    alpha = np.ascontiguousarray(alpha[inner])
    rgb = _bleed_colours(garment[top : top + alpha.shape[0], left : left + alpha.shape[1]], alpha)
    return GarmentCutout(rgb=rgb, alpha=alpha, mask=alpha > 0.5)


def _bleed_colours(rgb: RGBImage, alpha: Alpha, *, reach_px: float = 24.0, edge_px: int = 2) -> RGBImage:
    """``rgb`` with the garment's own colours spread over its edge and the backdrop beside it.

    Resampling the cut-out later mixes each edge pixel with its neighbours, and the photo's edge pixels
    themselves are part backdrop: either way a garment on a light backdrop would get a light halo.
    Normalised blurring of the colours of the solid garment, ``edge_px`` inside its feathered edge (at a
    quarter of the resolution, as only smooth colour is needed), replaces them from there out to about
    ``reach_px``.
    """
    height, width = alpha.shape
    kernel = np.ones((2 * edge_px + 1, 2 * edge_px + 1), np.uint8)
    solid = cv2.erode((alpha >= 0.99).astype(np.uint8), kernel).astype(np.float32)
    if not solid.any():
        solid = alpha
    small = (max(1, width // 4), max(1, height // 4))
    small_solid = cv2.resize(solid, small, interpolation=cv2.INTER_AREA)
    small_rgb = cv2.resize(rgb.astype(np.float32) * solid[..., None], small, interpolation=cv2.INTER_AREA)
    sigma = reach_px / 8.0
    weights = cv2.GaussianBlur(small_solid, (0, 0), sigma)
    spread = cv2.GaussianBlur(small_rgb, (0, 0), sigma) / np.maximum(weights, 1e-4)[..., None]
    spread = cv2.resize(spread, (width, height), interpolation=cv2.INTER_LINEAR)
    mix = cv2.GaussianBlur(solid, (0, 0), 0.7)[..., None]
    bled = rgb.astype(np.float32) * mix + spread * (1.0 - mix)
    return np.clip(bled, 0, 255).astype(np.uint8)
