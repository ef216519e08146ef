"""Blend step: composite the warped garment onto the repaired person photo."""

from __future__ import annotations

import cv2
import numpy as np

from ....vision.masks import box_slices, mask_bounds
from .types import Mask, RGBImage, WarpedGarment


def blend_garment(
    base: RGBImage,
    warped: WarpedGarment,
    keep: Mask,
    *,
    shading: RGBImage | None = None,
    shading_strength: float = 0.5,
    fold_sigma: float = 0.006,
    light_sigma: float = 0.04,
    seam_px: float = 1.0,
) -> RGBImage:
    """Lay the garment over ``base`` (``HxWx3`` uint8 RGB, the person with the old garment repainted).

    ``keep`` (``HxW`` bool, True on face, hair, hands and limbs in front of the garment) stays on top;
    its edge is softened over about ``seam_px`` pixels. The garment keeps its own colours and pattern,
    modulated by the folds and light of ``shading`` (``HxWx3`` uint8 RGB, normally the original photo):
    its lightness blurred over ``fold_sigma`` of the photo's height, relative to the same blurred over
    ``light_sigma``, applied with ``shading_strength`` (0: flat garment). Pixels where the garment's
    alpha is 0 or that lie in ``keep`` away from its seam are returned unchanged.
    """
    alpha = warped.alpha
    if not (alpha > 0).any():
        return base.copy()
    window = box_slices(mask_bounds(alpha > 0, margin=round(3 * seam_px) + 1))
    cover = alpha[window] * (1.0 - _soft(keep[window], seam_px))
    garment = warped.rgb[window].astype(np.float32)
    if shading is not None and shading_strength > 0:
        garment *= _fold_shading(shading, window, fold_sigma, light_sigma, shading_strength)[..., None]
    out = base.copy()
    region = base[window].astype(np.float32)
    mixed = region + (garment - region) * cover[..., None]
    out[window] = np.where(cover[..., None] > 0, np.clip(mixed + 0.5, 0, 255), region).astype(np.uint8)
    return out


def _soft(mask: Mask, seam_px: float) -> np.ndarray:
    """``mask`` as float32 in [0, 1], blurred over ``seam_px`` but still 1 well inside it."""
    if seam_px <= 0:
        return mask.astype(np.float32)
    blurred = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), seam_px)
    return np.maximum(mask.astype(np.float32) * np.clip(2 * blurred, 0, 1), blurred)


def _fold_shading(
    photo: RGBImage,
    window: tuple[slice, slice],
    fold_sigma: float,
    light_sigma: float,
    strength: float,
    dark_offset: float = 60.0,
) -> np.ndarray:
    """``hxw`` float32 multiplier around 1: the photo's local light and folds in ``window``.

    Lightness, slightly blurred, is divided by an edge-preserving smoothing of itself (a bilateral
    filter at quarter resolution): gentle creases and shadows survive the division, while the sharp
    steps between differently coloured parts of the old garment (a white top under a black jacket)
    are in both and cancel. The ratio is clipped so nothing left over can print the old garment.
    """
    height = photo.shape[0]
    # The offset damps the relative noise of dark fabric, whose small lightness changes would otherwise
    # become large ratios (blotches on a white garment over a black jacket).
    lightness = cv2.cvtColor(photo[window], cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32) + dark_offset
    fine = cv2.GaussianBlur(lightness, (0, 0), max(0.5, fold_sigma * height))
    size = (fine.shape[1], fine.shape[0])
    small = cv2.resize(fine, (max(1, size[0] // 4), max(1, size[1] // 4)), interpolation=cv2.INTER_AREA)
    reach = max(1.0, light_sigma * height / 4)
    smooth = cv2.bilateralFilter(small, d=-1, sigmaColor=20.0, sigmaSpace=reach)
    smooth = cv2.resize(smooth, size, interpolation=cv2.INTER_LINEAR)
    ratio = np.clip(fine / smooth, 0.85, 1.12)
    return 1.0 + strength * (ratio - 1.0)
