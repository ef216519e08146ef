"""Data shared by the pipeline steps.

Conventions, everywhere in the pipeline:
- an image is an ``HxWx3`` ``uint8`` array in RGB order;
- a mask is an ``HxW`` ``bool`` array, True where the named thing is;
- an alpha is an ``HxW`` ``float32`` array in [0, 1], 1 where the named thing is opaque.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from ...base import Category, Step
from ....models.clothes_parser import ParseLabel

RGBImage = np.ndarray
Mask = np.ndarray
Alpha = np.ndarray


StepCallback = Callable[[Step], None]


@dataclass(frozen=True)
class BodyPose:
    """Body landmarks of one person, in the pixel coordinates of the person photo.

    ``points`` is ``(33, 2)`` float32 ``(x, y)`` in mediapipe Pose's landmark order
    (11/12 shoulders, 13/14 elbows, 15/16 wrists, 23/24 hips, 25/26 knees, 27/28 ankles; left
    first, the person's own left). ``visibility`` is ``(33,)`` float32 in [0, 1].
    """

    points: np.ndarray
    visibility: np.ndarray


class PersonAnalyzer(Protocol):
    """The learned models the pipeline needs for the person photo.

    Implementations run the models in-process (tests, benchmarks) or call the BentoML runners.
    """

    def segment_person(self, person: RGBImage) -> Alpha:
        """Probability that each pixel belongs to a person; same height and width as ``person``."""

    def estimate_pose(self, person: RGBImage) -> BodyPose | None:
        """The most prominent person's landmarks, or None when no person is found."""


class HumanParser(Protocol):
    """A learned human parser (the SegFormer runner): per-pixel ``ParseLabel`` values of a photo."""

    def parse(self, image: RGBImage) -> np.ndarray:
        """``HxW`` uint8 ``ParseLabel`` map of ``image`` (``HxWx3`` uint8 RGB)."""


@dataclass(frozen=True)
class TryOnResult:
    """What the pipeline returns.

    ``image``: the dressed person, ``HxWx3`` uint8 RGB, the size of the person photo. ``category``: the
    category used (never ``AUTO``). ``notes``: the decisions taken, one readable sentence each, for the
    job record.
    """

    image: RGBImage
    category: Category
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GarmentCutout:
    """A garment separated from its product photo, cropped to the garment's bounding box.

    ``rgb`` is ``hxwx3`` uint8 (outside the garment it holds the garment's edge colours spread
    outwards, so resampling never blends in the backdrop); ``alpha`` is ``hxw`` float32 in [0, 1] with
    feathered edges; ``mask`` is ``hxw`` bool, True on the garment (``alpha > 0.5``). Prints and logos
    are inside the mask.
    """

    rgb: RGBImage
    alpha: Alpha
    mask: Mask


@dataclass(frozen=True)
class GarmentLandmarks:
    """Key points of an upper-body garment laid flat, ``(x, y)`` float pixels in its cut-out.

    ``left`` and ``right`` are as seen in the photo (the wearer's right sleeve is on the image's left).
    ``*_armpit`` is where the sleeve's underside meets the torso's side seam; ``*_cuff_inner`` and
    ``*_cuff_outer`` are the two ends of each sleeve opening (inner: nearer the torso's hem).
    """

    neck: tuple[float, float]
    left_shoulder: tuple[float, float]
    right_shoulder: tuple[float, float]
    left_armpit: tuple[float, float]
    right_armpit: tuple[float, float]
    left_sleeve_end: tuple[float, float]
    right_sleeve_end: tuple[float, float]
    left_cuff_inner: tuple[float, float]
    left_cuff_outer: tuple[float, float]
    right_cuff_inner: tuple[float, float]
    right_cuff_outer: tuple[float, float]
    left_hem: tuple[float, float]
    right_hem: tuple[float, float]


@dataclass(frozen=True)
class LowerBodyLandmarks:
    """Key points of trousers (or a skirt) laid flat, ``(x, y)`` float pixels in its cut-out.

    ``left`` and ``right`` are as seen in the photo. ``waist_*`` are the waistband's outer corners;
    ``crotch`` is the top of the gap between the legs; ``*_hem_outer`` and ``*_hem_inner`` are the two
    ends of each leg opening (inner: nearer the garment's axis). A skirt has no gap: its ``crotch`` is
    the middle of the hem and both inner hem points lie there.
    """

    waist_left: tuple[float, float]
    waist_right: tuple[float, float]
    crotch: tuple[float, float]
    left_hem_outer: tuple[float, float]
    left_hem_inner: tuple[float, float]
    right_hem_outer: tuple[float, float]
    right_hem_inner: tuple[float, float]

    @property
    def has_legs(self) -> bool:
        """True for trousers and shorts (two leg openings), False for a skirt."""
        return self.left_hem_inner != self.right_hem_inner


@dataclass(frozen=True)
class PreparedGarment:
    """Everything the pipeline needs from a garment photo; depends on the garment photo alone (cacheable).

    ``category`` is what the garment's shape says it is (``tryon.vision.garments.classify_flat_lay``),
    ``AUTO`` when it decides nothing; ``landmarks`` are ``LowerBodyLandmarks`` for ``LOWER_BODY`` and
    ``GarmentLandmarks`` otherwise. ``reason`` says in a few words why the shape was classified so (for
    the job's notes), or why it could not be.
    """

    cutout: GarmentCutout
    landmarks: GarmentLandmarks | LowerBodyLandmarks
    category: Category
    reason: str


@dataclass(frozen=True)
class WarpedGarment:
    """A garment fitted onto the person, in the person photo's pixel grid.

    ``rgb`` is ``HxWx3`` uint8 (undefined where ``alpha`` is 0); ``alpha`` is ``HxW`` float32 in [0, 1]
    for the whole garment; ``sleeve_alpha`` (same shape and range) is the part of ``alpha`` drawn by the
    sleeves, which lie over the torso part.
    """

    rgb: RGBImage
    alpha: Alpha
    sleeve_alpha: Alpha
