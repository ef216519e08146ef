"""Point prompts for a promptable segmenter (Segment Anything) that outline a worn garment.

Positive points lie on the category's garment: the torso and upper arms for tops, the hips and thighs
for bottoms, both for one-pieces. Negative points lie on what must stay out of the mask: the face,
the hands, and the other garment's zone (the thighs under a top, the chest above trousers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .body import BodyPoints
from .zones import DRESSES, LOWER_BODY, UPPER_BODY, ZONE_POINTS, ZoneNotVisible

POSITIVE = 1
NEGATIVE = 0


@dataclass(frozen=True)
class PointPrompts:
    """``points`` ``(n, 2)`` float64 ``(x, y)`` pixels inside the photo; ``labels`` ``(n,)`` int64,
    1 (on the garment) or 0 (not the garment)."""

    points: np.ndarray
    labels: np.ndarray

    @property
    def positive(self) -> np.ndarray:
        return self.points[self.labels == POSITIVE]

    @property
    def negative(self) -> np.ndarray:
        return self.points[self.labels == NEGATIVE]


def garment_prompts(body: BodyPoints, category: str) -> PointPrompts:
    """The prompts outlining a garment of ``category`` worn by ``body``; points outside the photo are
    dropped. Raises ``ZoneNotVisible`` when the category's points are not seen."""
    missing = [name for name in ZONE_POINTS[category] if name not in body.points]
    if missing:
        raise ZoneNotVisible(f"the wearer's {', '.join(missing)} are not seen")
    positive: list[np.ndarray] = []
    negative: list[np.ndarray] = []
    if category in (UPPER_BODY, DRESSES):
        positive += _torso(body) + _upper_arms(body)
    if category in (LOWER_BODY, DRESSES):
        positive += _hips_and_thighs(body)
    if category == UPPER_BODY:
        negative += _thighs(body)
    if category == LOWER_BODY and body.has("left_shoulder", "right_shoulder"):
        negative.append(_along(body.mid("left_shoulder", "right_shoulder"), body.mid("left_hip", "right_hip"), 0.3))
    negative += _face(body) + _hands(body)
    points = np.array(positive + negative, np.float64).reshape(-1, 2)
    labels = np.array([POSITIVE] * len(positive) + [NEGATIVE] * len(negative), np.int64)
    height, width = body.size
    inside = (points[:, 0] >= 0) & (points[:, 0] < width) & (points[:, 1] >= 0) & (points[:, 1] < height)
    return PointPrompts(points[inside], labels[inside])


def _along(start: np.ndarray, end: np.ndarray, share: float) -> np.ndarray:
    return start + share * (end - start)


def _torso(body: BodyPoints) -> list[np.ndarray]:
    """The chest's centre, the belly, and a point under each shoulder."""
    shoulders, hips = body.mid("left_shoulder", "right_shoulder"), body.mid("left_hip", "right_hip")
    return [
        _along(shoulders, hips, 0.3),
        _along(shoulders, hips, 0.7),
        _along(body.points["left_shoulder"], body.points["left_hip"], 0.25),
        _along(body.points["right_shoulder"], body.points["right_hip"], 0.25),
    ]


def _upper_arms(body: BodyPoints) -> list[np.ndarray]:
    """Just below each shoulder along the upper arm (short sleeves cover it too)."""
    return [
        _along(body.points[f"{side}_shoulder"], body.points[f"{side}_elbow"], 0.25)
        for side in ("left", "right")
        if body.has(f"{side}_elbow")
    ]


def _hips_and_thighs(body: BodyPoints) -> list[np.ndarray]:
    """Between the hips, and a quarter down each thigh (shorts and mini skirts reach that far)."""
    points = [body.mid("left_hip", "right_hip")]
    for side in ("left", "right"):
        hip = body.points[f"{side}_hip"]
        knee = body.points.get(f"{side}_knee")
        points.append(_along(hip, knee, 0.25) if knee is not None else hip + np.array([0.0, 0.1 * body.size[0]]))
    return points


def _thighs(body: BodyPoints) -> list[np.ndarray]:
    """Two thirds down each thigh: below any top's hem."""
    return [
        _along(body.points[f"{side}_hip"], body.points[f"{side}_knee"], 0.65)
        for side in ("left", "right")
        if body.has(f"{side}_hip", f"{side}_knee")
    ]


def _face(body: BodyPoints) -> list[np.ndarray]:
    if len(body.face):
        return [body.face.mean(axis=0)]
    return [body.points["nose"]] if body.has("nose") else []


def _hands(body: BodyPoints) -> list[np.ndarray]:
    """The centre of each hand found, else a little beyond each wrist along the forearm."""
    if body.hands:
        return [hand.mean(axis=0) for hand in body.hands if len(hand)]
    return [
        _along(body.points[f"{side}_elbow"], body.points[f"{side}_wrist"], 1.2)
        for side in ("left", "right")
        if body.has(f"{side}_elbow", f"{side}_wrist")
    ]
