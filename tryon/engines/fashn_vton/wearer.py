"""A garment photo's wearer as the shared vision code reads it (``tryon.vision.body.BodyPoints``)."""

from __future__ import annotations

import numpy as np

from ...vision.body import POINT_NAMES, BodyPoints
from .pose_map import BODY_POINT_NAMES, NOT_SEEN, Keypoints


def body_points(keypoints: Keypoints, height: int, width: int) -> BodyPoints:
    """The seen body points, face and hands of ``keypoints`` (normalised to a ``height x width``
    photo) in that photo's pixels."""
    size = np.array([float(width), float(height)])
    points = {
        name: keypoints.body[BODY_POINT_NAMES.index(name)] * size
        for name in POINT_NAMES
        if keypoints.body_seen[BODY_POINT_NAMES.index(name)]
    }
    face = keypoints.face[~np.all(keypoints.face == NOT_SEEN, axis=1)] * size
    hands = tuple(
        hand[~np.all(hand == NOT_SEEN, axis=1)] * size for hand in keypoints.hands if not np.all(hand == NOT_SEEN)
    )
    return BodyPoints(size=(height, width), points=points, face=face, hands=hands)
