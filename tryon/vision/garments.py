"""Which category a garment photo shows: upper body, lower body or dresses (one-pieces).

Two kinds of photo, two kinds of evidence, no learned model:

- a flat-lay (product shot): the garment's cut-out shape (``classify_flat_lay``). Trousers, shorts
  and leggings have two legs under a solid waistband; a skirt is a waistband widening downwards with
  nothing sticking out; a dress is one piece much longer than its chest is wide; a jumpsuit is one
  piece whose legs split only in its lower half; tops and jackets are the rest with shoulders.
- a worn photo: which of the wearer's body parts the photo shows and the wearer's silhouette
  (``classify_worn``). A photo showing the wearer from the shoulders to the hips but not the knees is
  a top, one showing the hips and knees but not the shoulders is a bottom; a full-length photo is a
  dress when one colour runs from the chest over the thighs and the silhouette is closed between them
  (a skirt), else the photo shows two garments and cannot say which one is meant.

Jumpsuits and dresses are the service's ``dresses`` (FASHN's "one-pieces"). When the evidence does not
decide, ``GarmentUndecidable`` says so and names the ``category`` field: never a silent guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import TryOnError
from .body import BodyPoints
from .masks import Mask
from .zones import DRESSES, LOWER_BODY, UPPER_BODY

# A flat one-piece at least this many times longer (shoulders to hem) than wide (at the chest) is a dress.
DRESS_LENGTH = 2.0
# A cut-out filling this much of its box is a folded garment or a rectangle: no cut to read.
FOLDED_FILL = 0.9
# Lab distance under which two patches of a worn photo show the same cloth.
SAME_CLOTH = 18.0


class GarmentUndecidable(TryOnError):
    """The garment photo does not say which category the garment is; the client must send it."""


@dataclass(frozen=True)
class GarmentClass:
    """A category (``UPPER_BODY``, ``LOWER_BODY`` or ``DRESSES``) and what decided it, for the notes."""

    category: str
    reason: str


def undecidable(why: str) -> GarmentUndecidable:
    """The error for a garment photo whose category cannot be told, naming the ``category`` field."""
    return GarmentUndecidable(
        f"The garment's category could not be decided from the garment photo ({why}). "
        "Send the category field: upper_body, lower_body or dresses."
    )


def classify_flat_lay(mask: Mask, length_ratio: float | None = None) -> GarmentClass:
    """The category of a flat garment from its cut-out ``mask`` (``hxw`` bool, True on the garment).

    ``length_ratio`` is the garment's shoulder-to-hem length over its width at the chest when the
    caller measured it from landmarks; by default it is read off the mask (``mask_length_ratio``).
    Raises ``GarmentUndecidable`` for an empty mask or one that fills its box (a folded garment).
    """
    if not mask.any():
        raise undecidable("no garment was found in it")
    centre_filled, widths, aspect = _profile(mask)
    if _box_fill(mask) >= FOLDED_FILL:
        raise undecidable("the garment's outline is a plain rectangle, as a folded garment's: its cut cannot be read")
    if _has_legs_below_waist(centre_filled):
        if _is_jumpsuit(centre_filled, aspect):
            return GarmentClass(DRESSES, "one piece with two legs (a jumpsuit), worn as a one-piece")
        return GarmentClass(LOWER_BODY, "two legs, no sleeves")
    if _is_skirt(centre_filled, widths, aspect):
        return GarmentClass(LOWER_BODY, "a waistband and one opening, no sleeves")
    ratio = mask_length_ratio(mask) if length_ratio is None else length_ratio
    if ratio >= DRESS_LENGTH:
        return GarmentClass(DRESSES, "one piece from the shoulders to well below the hips")
    return GarmentClass(UPPER_BODY, "sleeves and a torso")


def has_two_legs(mask: Mask) -> bool:
    """True when the garment (``hxw`` bool mask) has two legs under a solid waistband: trousers,
    shorts, leggings (or a jumpsuit)."""
    centre_filled, _, _ = _profile(mask)
    return _has_legs_below_waist(centre_filled)


def mask_length_ratio(mask: Mask) -> float:
    """Length of a flat top or dress over its width at the chest, from the mask alone: the box's
    height over the narrowest row between a fifth and a half of the height (under the sleeves)."""
    _, widths, _ = _profile(mask)
    height = len(widths)
    band = widths[round(0.2 * height) : max(round(0.2 * height) + 1, round(0.5 * height))]
    return float(height / max(band.min(), 1.0))


def _has_legs_below_waist(centre_filled: np.ndarray) -> bool:
    """Solid at the top of the axis (or, for a one-piece with a neck opening, solid at a third),
    split along the axis in most rows of the lower part."""
    height = len(centre_filled)
    top = centre_filled[: max(1, round(0.12 * height))]
    middle = centre_filled[round(0.25 * height) : max(round(0.25 * height) + 1, round(0.4 * height))]
    lower = centre_filled[round(0.6 * height) : max(round(0.6 * height) + 1, round(0.95 * height))]
    return bool((top.mean() > 0.8 or middle.mean() > 0.9) and (~lower).mean() > 0.8)


def _is_jumpsuit(centre_filled: np.ndarray, aspect: float) -> bool:
    """Legs that split only below the garment's middle, on a garment more than twice as tall as
    wide: trousers split a third down (shorts are wider than tall)."""
    height = len(centre_filled)
    start = round(0.15 * height)
    split = np.flatnonzero(~centre_filled[start:])
    crotch = (start + split[0]) / height if len(split) else 1.0
    return bool(crotch >= 0.45 and aspect >= 2.0)


def _is_skirt(centre_filled: np.ndarray, widths: np.ndarray, aspect: float) -> bool:
    """A solid waistband at the top, as wide as the garment's upper part (no shoulders or sleeves
    sticking out), and not much taller than wide."""
    height = len(widths)
    top_rows = slice(0, max(1, round(0.05 * height)))
    upper_max = widths[: max(1, round(0.3 * height))].max()
    return bool(centre_filled[top_rows].all() and widths[top_rows].min() >= 0.75 * upper_max and 0.5 <= aspect <= 1.6)


def _box_fill(mask: Mask) -> float:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    box = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return float(box.mean())


def _profile(mask: Mask, work_side: int = 128) -> tuple[np.ndarray, np.ndarray, float]:
    """Per row of the garment's box (at ``work_side`` px on the long side): whether the garment's axis
    is covered, the row's extent (first to last garment pixel), and the box's height over width."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    box = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = work_side / max(box.shape)
    size = (max(1, round(box.shape[1] * scale)), max(1, round(box.shape[0] * scale)))
    small = cv2.resize(box.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.5
    width = small.shape[1]
    half = max(1, round(0.03 * width))
    centre = width // 2
    centre_filled = small[:, centre - half : centre + half + 1].mean(axis=1) > 0.5
    any_col = small.any(axis=1)
    first = np.where(any_col, small.argmax(axis=1), 0)
    last = np.where(any_col, width - 1 - small[:, ::-1].argmax(axis=1), -1)
    return centre_filled, (last - first + 1).astype(float), box.shape[0] / box.shape[1]


def classify_worn(image: np.ndarray, body: BodyPoints, silhouette: Mask) -> GarmentClass:
    """The category of the garment a person wears in a garment photo.

    ``image``: ``HxWx3`` uint8 RGB; ``body``: the wearer's points; ``silhouette``: ``HxW`` bool, True on
    the wearer. Raises ``GarmentUndecidable`` when the photo shows no body part a garment is worn on,
    or shows the whole body in two garments (which one is meant cannot be told).
    """
    shoulders = body.shows("left_shoulder", "right_shoulder")
    hips = body.has("left_hip", "right_hip") and (body.shows("left_hip") or body.shows("right_hip"))
    knees = body.shows("left_knee", "right_knee")
    if shoulders and hips and not knees:
        return GarmentClass(UPPER_BODY, "worn: the photo shows the wearer from the shoulders to the hips")
    if hips and knees and not shoulders:
        return GarmentClass(LOWER_BODY, "worn: the photo shows the wearer from the hips down")
    if not (shoulders and hips and knees):
        raise undecidable("it does not show the wearer's shoulders and hips, or hips and knees")
    if _one_cloth_with_a_skirt(image, body, silhouette):
        return GarmentClass(DRESSES, "worn: one cloth from the chest over the thighs, closed between them")
    raise undecidable("it shows the wearer's whole body, dressed above and below the waist")


def _one_cloth_with_a_skirt(image: np.ndarray, body: BodyPoints, silhouette: Mask) -> bool:
    """The chest's cloth colour runs over both thighs, and the silhouette is closed between them."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    scale = max(body.distance("left_hip", "right_hip"), 8.0)
    chest = body.mid("left_shoulder", "right_shoulder") * 0.6 + body.mid("left_hip", "right_hip") * 0.4
    thighs = [body.points[f"{side}_hip"] * 0.6 + body.points[f"{side}_knee"] * 0.4 for side in ("left", "right")]
    between = (thighs[0] + thighs[1]) / 2
    chest_colour = _patch_colour(lab, chest, scale)
    same = all(np.linalg.norm(_patch_colour(lab, thigh, scale) - chest_colour) < SAME_CLOTH for thigh in thighs)
    x, y = np.round(between).astype(int)
    closed = bool(silhouette[np.clip(y, 0, silhouette.shape[0] - 1), np.clip(x, 0, silhouette.shape[1] - 1)])
    return same and closed


def _patch_colour(lab: np.ndarray, centre: np.ndarray, scale: float) -> np.ndarray:
    """Median Lab colour of a square a fifth of ``scale`` wide around ``centre``."""
    half = max(2, round(0.1 * scale))
    x, y = np.round(centre).astype(int)
    patch = lab[max(0, y - half) : y + half + 1, max(0, x - half) : x + half + 1].reshape(-1, 3)
    return np.median(patch, axis=0) if len(patch) else np.zeros(3, np.float32)
