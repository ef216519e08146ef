"""A try-on model's picture put back onto the person photo at the photo's own size, only where it changed.

A model answers at its own resolution (FASHN VTON: the person fitted into 576x864) while the photo may
be larger (up to ``TRYON_WORKING_SIDE_PX``). Scaling the whole picture up would blur the face, the
hands and the background the model only copied; instead (``composite_at_photo_size``):

1. ``changed_region``: at the model's size, the pixels whose colour the model changed (the picture
   against the photo as the model saw it, both slightly blurred, over ``threshold``) that lie within
   ``reach`` of the garment's zone; small specks dropped, gaps closed, holes filled, grown by ``grow``
   so that the blend's soft edge falls on unchanged pixels; minus what is always kept (face, hands).
2. ``blend_alpha``: that region scaled to the photo's size and feathered (a Gaussian of ``feather``
   sigma), exactly 0 and 1 beyond the soft edge; faded to 0 over 3 sigma towards what is kept, so
   the kept parts are the photo's own pixels and meet the picture without a step.
3. ``blend``: the model's picture scaled to the photo's size (Lanczos) and blended over the photo by
   that alpha; where the alpha is 0 the output is the photo's own pixels, bit for bit.

Lengths are shares of the image's height, so the same settings hold at any size. Images are ``HxWx3``
uint8 RGB; masks ``HxW`` bool, True inside the named region; an alpha ``HxW`` float32 in [0, 1], 1
where the model's picture is taken.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .masks import Mask, box_slices, fill_holes, mask_bounds

RGBImage = np.ndarray
Alpha = np.ndarray

THRESHOLD = 16.0  # colour difference (0-255, largest channel, after the blur) that counts as changed
NOISE_SIGMA = 0.002  # the blur before comparing: the model's fine-grain differences are not changes
REACH = 0.08  # how far from the garment's zone a change is taken (the model redrawing around it)
GROW = 0.012  # the region grown by this, so the feathered edge falls on unchanged pixels
FEATHER = 0.006  # Gaussian sigma of the blend's edge at the photo's size
MIN_SPECK = 0.0005  # changed regions smaller than this share of the picture are noise


@dataclass(frozen=True)
class FullSizeResult:
    """``image``: ``HxWx3`` uint8 RGB at the photo's size; ``changed_share``: the share of its pixels
    that come from the model's picture (alpha over 0), in [0, 1]."""

    image: RGBImage
    changed_share: float


def composite_at_photo_size(
    photo: RGBImage,
    seen: RGBImage,
    generated: RGBImage,
    *,
    zone: Mask | None = None,
    keep: Mask | None = None,
) -> FullSizeResult:
    """The model's ``generated`` picture composited onto ``photo`` where it changed the person.

    ``photo``: ``HxWx3`` uint8, the person photo at its own size. ``seen``: ``hxwx3`` uint8, the photo
    as the model saw it (its size and aspect); ``generated``: the model's picture, the same size.
    ``zone``, ``keep``: ``hxw`` bool at that size, the garment's zone (None: changes anywhere count)
    and what always stays the photo's (face, hands; None: nothing). Returns the ``HxWx3`` result.
    """
    if seen.shape != generated.shape:
        raise ValueError(f"seen {seen.shape} and generated {generated.shape} must be the same size")
    region = changed_region(seen, generated, zone=zone, keep=keep)
    alpha = blend_alpha(region, photo.shape[:2], keep=keep)
    image = blend(photo, generated, alpha)
    return FullSizeResult(image=image, changed_share=float(np.count_nonzero(alpha)) / alpha.size)


def changed_region(
    seen: RGBImage,
    generated: RGBImage,
    *,
    zone: Mask | None = None,
    keep: Mask | None = None,
    threshold: float = THRESHOLD,
    reach: float = REACH,
    grow: float = GROW,
) -> Mask:
    """``hxw`` bool: where ``generated`` changed ``seen`` (both ``hxwx3`` uint8), near ``zone``, minus ``keep``."""
    height = seen.shape[0]
    sigma = max(0.5, NOISE_SIGMA * height)
    difference = cv2.absdiff(
        cv2.GaussianBlur(seen, (0, 0), sigma), cv2.GaussianBlur(generated, (0, 0), sigma)
    ).max(axis=2)
    changed = _without_specks(difference > threshold, min_area=MIN_SPECK * seen.shape[0] * seen.shape[1])
    if zone is not None:
        changed &= _dilated(zone, reach * height)
    closed = cv2.morphologyEx(changed.astype(np.uint8), cv2.MORPH_CLOSE, _disc(grow * height)).astype(bool)
    region = _dilated(fill_holes(closed), grow * height)
    return region if keep is None else region & ~keep


def blend_alpha(region: Mask, size: tuple[int, int], *, keep: Mask | None = None, feather: float = FEATHER) -> Alpha:
    """``HxW`` float32 in [0, 1] at ``size`` ``(H, W)``: ``region`` (``hxw`` bool) scaled up and
    feathered; exactly 0 where it is under 1/512 and 1 where it is over 1 - 1/512. ``keep`` (``hxw``
    bool, or None): exactly 0 there, rising to the feathered value over 3 sigma around it."""
    height, width = size
    scaled = cv2.resize(region.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    alpha = np.zeros((height, width), np.float32)
    if not region.any():
        return alpha
    sigma = max(0.5, feather * height)
    # Only the region's box (and the Gaussian's reach around it) can be over 0.
    box = box_slices(mask_bounds(scaled > 0, margin=int(np.ceil(4 * sigma)) + 1))
    alpha[box] = cv2.GaussianBlur(scaled[box], (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)
    if keep is not None and keep.any():
        kept = cv2.resize(keep.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)[box] > 0
        distance = cv2.distanceTransform((~kept).astype(np.uint8), cv2.DIST_L2, 3)
        alpha[box] *= np.clip(distance / (3 * sigma), 0.0, 1.0)
    alpha[alpha < 1 / 512] = 0.0
    alpha[alpha > 1 - 1 / 512] = 1.0
    return alpha


def blend(photo: RGBImage, generated: RGBImage, alpha: Alpha) -> RGBImage:
    """``photo`` (``HxWx3`` uint8) with ``generated`` (``hxwx3`` uint8, any size of the same aspect)
    scaled to it and blended in by ``alpha`` (``HxW`` float32); the photo's own pixels where it is 0."""
    height, width = photo.shape[:2]
    result = photo.copy()
    if not alpha.any():
        return result
    box = box_slices(mask_bounds(alpha > 0))
    scaled = cv2.resize(generated, (width, height), interpolation=cv2.INTER_LANCZOS4)
    weight = alpha[box][..., None]
    base = photo[box].astype(np.float32)
    mixed = np.rint(base + (scaled[box].astype(np.float32) - base) * weight).astype(np.uint8)
    result[box] = np.where(weight > 0, mixed, photo[box])
    return result


def _disc(radius: float) -> np.ndarray:
    side = 2 * max(1, int(round(radius))) + 1
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))


def _dilated(mask: Mask, radius: float) -> Mask:
    """``mask`` grown by ``radius`` pixels (a distance transform: a large disc kernel costs far more)."""
    return cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3) <= radius


def _without_specks(mask: Mask, *, min_area: float) -> Mask:
    """``mask`` without its 8-connected regions smaller than ``min_area`` pixels."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    large = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] >= min_area)
    return np.isin(labels, large[large > 0])
