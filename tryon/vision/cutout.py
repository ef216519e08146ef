"""A garment's silhouette on a flat-lay (product) photo: the garment told from its plain backdrop.

Masks are ``HxW`` bool, True on the garment; photos ``HxWx3`` uint8 RGB.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import GarmentNotFound
from .masks import Mask, fill_holes, largest_component

RGBImage = np.ndarray


@dataclass(frozen=True)
class FlatLayMask:
    """The garment's ``mask`` (``hxw`` bool) on the photo shrunk by ``scale`` (<= 1)."""

    mask: Mask
    scale: float


def flat_lay_mask(
    garment: RGBImage,
    *,
    clothes_mask: Mask | None = None,
    work_side: int = 256,
    border_fraction: float = 0.03,
    shadow_allowance: float = 25.0,
    grabcut_iterations: int = 2,
    min_share: float = 0.03,
    max_share: float = 0.97,
) -> FlatLayMask:
    """Separate a garment from the plain background of its product photo, at ``work_side`` px.

    ``garment`` is an ``HxWx3`` uint8 RGB product shot on a plain studio background (white, grey or
    coloured, possibly with a gradient and cast shadows). A smooth background model is fitted to the
    photo's border; pixels far from it in colour seed a GrabCut (a pixel darker than the backdrop by up
    to ``shadow_allowance`` Lab lightness units, with the backdrop's hue, is a shadow, not a garment),
    all at ``work_side`` pixels on the long side for speed. Holes inside the garment (prints, logos)
    are filled; the largest region is kept.

    ``clothes_mask`` (``HxW`` bool), when given, is where a learned parser sees clothes: it replaces
    the background model and GrabCut.

    Raises ``GarmentNotFound`` when the foreground covers less than ``min_share`` or more than
    ``max_share`` of the photo, or touches all four borders (no plain background to separate it from).
    """
    small, scale = _downscale(garment, work_side)
    if clothes_mask is not None:
        small_mask = cv2.resize(clothes_mask.astype(np.uint8), small.shape[1::-1], interpolation=cv2.INTER_NEAREST)
        mask = _filled_largest(small_mask.astype(bool))
        _check_plausible(mask, min_share=min_share, max_share=max_share)
        return FlatLayMask(mask, scale)
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    border = _border_mask(small.shape[:2], max(2, round(border_fraction * max(small.shape[:2]))))
    distance = _background_distance(lab, border, shadow_allowance=shadow_allowance)
    seed = _filled_largest(distance > _seed_threshold(distance[border]))
    _check_plausible(seed, min_share=min_share, max_share=1.0)
    refined = _grabcut(small, seed, border, iterations=grabcut_iterations)
    mask = _filled_largest(refined)
    _check_plausible(mask, min_share=min_share, max_share=max_share)
    return FlatLayMask(mask, scale)


def _downscale(image: RGBImage, long_side: int) -> tuple[RGBImage, float]:
    """The image shrunk so its long side is at most ``long_side``, and the factor applied (<= 1)."""
    scale = min(1.0, long_side / max(image.shape[:2]))
    if scale == 1.0:
        return image, scale
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


def _border_mask(shape: tuple[int, int], width: int) -> Mask:
    """``HxW`` bool, True on a frame ``width`` pixels wide along the image's edges."""
    border = np.ones(shape, bool)
    border[width:-width, width:-width] = False
    return border


def _background_distance(lab: np.ndarray, border: Mask, *, shadow_allowance: float) -> np.ndarray:
    """How far each pixel is from a smooth background model fitted to the border, in Lab units.

    The model is a quadratic surface per Lab channel (studio backdrops have gradients and vignetting),
    fitted by least squares and refitted once without outliers, since garments may touch the border.
    A pixel darker than the model counts only beyond ``shadow_allowance``: shadows darken a backdrop
    but never change its hue or make it brighter. Hue and brightening count in full, so a white garment
    on a light backdrop still stands out by a few units.
    """
    height, width = lab.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    xs, ys = xs / width - 0.5, ys / height - 0.5
    design = np.stack([np.ones_like(xs), xs, ys, xs * xs, xs * ys, ys * ys], axis=-1)
    samples, values = design[border], lab[border]
    keep = np.ones(len(samples), bool)
    for _ in range(2):
        coefficients, *_ = np.linalg.lstsq(samples[keep], values[keep], rcond=None)
        residual = np.linalg.norm(values - samples @ coefficients, axis=1)
        keep = residual <= max(3.0 * float(np.median(residual)) * 1.4826, 2.0)
    difference = lab - design @ coefficients
    lightness = np.maximum(difference[..., 0], np.minimum(0.0, difference[..., 0] + shadow_allowance))
    return np.sqrt(lightness**2 + difference[..., 1] ** 2 + difference[..., 2] ** 2)


def _seed_threshold(border_distance: np.ndarray, *, floor: float = 2.5) -> float:
    """A threshold above the backdrop's own noise: robust spread of the border's distances, floored.

    The floor is low because a white garment on a light backdrop differs by only a few Lab units.
    """
    median = float(np.median(border_distance))
    spread = 1.4826 * float(np.median(np.abs(border_distance - median)))
    return max(floor, median + 4.0 * spread)


def _check_plausible(mask: Mask, *, min_share: float, max_share: float) -> None:
    """Raise ``GarmentNotFound`` unless ``mask`` looks like one garment on a visible background."""
    share = float(mask.mean())
    if share < min_share:
        raise GarmentNotFound(
            "No garment was found in the garment photo: it looks like an empty background. "
            "Use a product photo of the garment on a plain background."
        )
    touches_all = mask[0].any() and mask[-1].any() and mask[:, 0].any() and mask[:, -1].any()
    if share > max_share or touches_all:
        raise GarmentNotFound(
            "The garment could not be separated from the background of the garment photo. "
            "Use a product photo with the whole garment on a plain background and some margin around it."
        )


def _grabcut(image: RGBImage, seed: Mask, border: Mask, *, iterations: int) -> Mask:
    """Refine a rough foreground ``seed`` with GrabCut; the border frame is fixed as background.

    Eroded seed pixels are probable foreground rather than certain, so a seed that swallowed a shadow
    can still lose it; the border frame is certain background unless the seed covers it.
    """
    labels = np.where(seed, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    labels[border & ~seed] = cv2.GC_BGD
    core = cv2.erode(seed.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    labels[core] = cv2.GC_FGD
    # GrabCut seeds its colour models with k-means from OpenCV's (thread-local) random generator: a
    # fixed seed makes the cut-out, and so the cached garment, the same on every call.
    cv2.setRNGSeed(0)
    background_model = np.zeros((1, 65), np.float64)
    foreground_model = np.zeros((1, 65), np.float64)
    cv2.grabCut(
        cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
        labels,
        None,
        background_model,
        foreground_model,
        iterations,
        cv2.GC_INIT_WITH_MASK,
    )
    return (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)


def _filled_largest(mask: Mask) -> Mask:
    """The largest region of ``mask`` with its holes (prints, logos, zips) filled."""
    return fill_holes(largest_component(mask))
