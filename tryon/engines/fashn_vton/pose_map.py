"""Whole-body keypoints and the grey pose map FASHN VTON is conditioned on.

``Keypoints`` holds one person: coordinates normalised to [0, 1] by the image's width (x) and height
(y). A body point scored under the threshold keeps its coordinates and is marked not seen
(``body_visible``), as the reference's ``subset`` does; hand and face points are ``-1`` (both
coordinates) where not seen. Points may lie slightly outside [0, 1] when the detector places them
beyond the photo's edge.

The map is ``HxW`` uint8, 0 where nothing is drawn: body limbs as ellipses of grey 12-144 (60 % of
a level from 20 to 240 that rises with the limb's index), body joints as radius-4 discs (1.3 times
their first limb's level), hand bones as 2-pixel lines of grey 160-220 with radius-4 joints of 240,
face points as radius-3 discs of 200. Pixel positions are the normalised coordinates times the size,
truncated, as DWPose's drawing does.

The reference JSON (``candidate``/``subset``/``hands``/``faces``, optionally with ``candidate`` and
``subset`` under ``bodies``) converts both ways with ``Keypoints.from_reference`` and
``Keypoints.to_reference``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

NUM_BODY_POINTS = 18
NUM_HAND_POINTS = 21
NUM_FACE_POINTS = 68
NOT_SEEN = -1.0

# OpenPose body order.
BODY_POINT_NAMES = (
    "nose", "neck",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)  # fmt: skip

# Limbs as (from, to) body point indices, in drawing order (their order sets their grey).
BODY_LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
    (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)  # fmt: skip

# Hand bones over the 21 hand points (0 wrist; then 4 points per finger, thumb first).
HAND_BONES = tuple(
    (0 if joint == 0 else 4 * finger + joint, 4 * finger + joint + 1)
    for finger in range(5)
    for joint in range(4)
)

_LIMB_LEVELS = np.linspace(20, 240, NUM_BODY_POINTS).astype(np.uint8)
_LIMB_OPACITY = 0.6
_LIMB_HALF_WIDTH = 4
_BODY_JOINT_RADIUS = 4
_HAND_BONE_LEVELS = np.linspace(160, 220, len(HAND_BONES)).astype(np.uint8)
_HAND_BONE_THICKNESS = 2
_HAND_JOINT_RADIUS = 4
_HAND_JOINT_LEVEL = 240
_FACE_POINT_RADIUS = 3
_FACE_POINT_LEVEL = 200
# DWPose's test for "inside the image" on truncated pixel positions: x and y of at least 1.
_MIN_DRAWN_PIXEL = 0.01


def _first_limb_level(point: int) -> int:
    """Grey of a body joint's disc: 1.3 times the level of the first limb that touches it, at most 255."""
    limb = next(i for i, pair in enumerate(BODY_LIMBS) if point in pair)
    return min(255, int(_LIMB_LEVELS[limb] * 1.3))


_BODY_JOINT_LEVELS = tuple(_first_limb_level(point) for point in range(NUM_BODY_POINTS))


@dataclass(frozen=True)
class Keypoints:
    """One person's whole-body keypoints, normalised to [0, 1].

    ``body``: ``(18, 2)`` float64 ``(x, y)`` in OpenPose order (``BODY_POINT_NAMES``). ``hands``:
    ``(2, 21, 2)``, the person's left hand then right hand (COCO-WholeBody order), points as in
    OpenPose's hand model; ``-1`` where not seen. ``face``: ``(68, 2)``, the 68 iBUG face points;
    ``-1`` where not seen. ``body_visible``: ``(18,)`` bool, the body points seen (the reference's
    subset); by default those whose coordinates are not ``-1``.
    """

    body: np.ndarray
    hands: np.ndarray
    face: np.ndarray
    body_visible: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name, shape in (
            ("body", (NUM_BODY_POINTS, 2)),
            ("hands", (2, NUM_HAND_POINTS, 2)),
            ("face", (NUM_FACE_POINTS, 2)),
        ):
            value = np.asarray(getattr(self, name), dtype=np.float64)
            if value.shape != shape:
                raise ValueError(f"Keypoints.{name} must have shape {shape}, not {value.shape}")
            object.__setattr__(self, name, value)
        visible = ~np.all(self.body == NOT_SEEN, axis=1) if self.body_visible is None else self.body_visible
        visible = np.asarray(visible, dtype=bool)
        if visible.shape != (NUM_BODY_POINTS,):
            raise ValueError(f"Keypoints.body_visible must have shape ({NUM_BODY_POINTS},), not {visible.shape}")
        object.__setattr__(self, "body_visible", visible)

    @classmethod
    def none_seen(cls) -> Keypoints:
        """No point seen: what a garment photo without a person gives."""
        return cls(
            body=np.full((NUM_BODY_POINTS, 2), NOT_SEEN),
            hands=np.full((2, NUM_HAND_POINTS, 2), NOT_SEEN),
            face=np.full((NUM_FACE_POINTS, 2), NOT_SEEN),
        )

    def to_array(self) -> np.ndarray:
        """``(128, 3)`` float64 (to send between processes): ``(x, y, seen)`` of the body's 18 points,
        both hands' 42 and the face's 68, ``seen`` 1.0 or 0.0."""
        points = np.concatenate([self.body, self.hands.reshape(-1, 2), self.face])
        seen = np.concatenate([self.body_visible, ~np.all(points[NUM_BODY_POINTS:] == NOT_SEEN, axis=1)])
        return np.concatenate([points, seen[:, None].astype(np.float64)], axis=1)

    @classmethod
    def from_array(cls, points: np.ndarray) -> Keypoints:
        """The inverse of ``to_array``."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        hands_end = NUM_BODY_POINTS + 2 * NUM_HAND_POINTS
        return cls(
            body=points[:NUM_BODY_POINTS, :2],
            hands=points[NUM_BODY_POINTS:hands_end, :2].reshape(2, NUM_HAND_POINTS, 2),
            face=points[hands_end:, :2],
            body_visible=points[:NUM_BODY_POINTS, 2] > 0.5,
        )

    @property
    def body_seen(self) -> np.ndarray:
        """``(18,)`` bool, True where the body point was seen."""
        return self.body_visible

    @classmethod
    def from_reference(cls, pose: Mapping[str, Any]) -> Keypoints:
        """Read the reference's pose dict (``candidate``, ``subset``, ``hands``, ``faces``).

        ``candidate`` and ``subset`` may sit under ``bodies``. ``subset`` is ``1 x 18``: for each body
        point, its row in ``candidate`` or -1 when not seen; an unseen point keeps the coordinates
        ``candidate`` holds for it (one person's 18 rows) as the reference does, else ``-1``. Missing
        or empty ``hands`` or ``faces`` mean none seen; only the first face is read.
        """
        bodies = pose.get("bodies", pose)
        candidate = np.asarray(bodies.get("candidate", []), dtype=np.float64).reshape(-1, 2)
        rows = np.asarray(bodies.get("subset", [[-1] * NUM_BODY_POINTS]), dtype=np.float64)
        if rows.shape[0] != 1 or rows.shape[1] < NUM_BODY_POINTS:
            raise ValueError(f"expected one person's subset of {NUM_BODY_POINTS} entries, not shape {rows.shape}")
        body = candidate[:NUM_BODY_POINTS].copy() if len(candidate) == NUM_BODY_POINTS else np.full((NUM_BODY_POINTS, 2), NOT_SEEN)
        subset = rows[0, :NUM_BODY_POINTS].astype(int)
        for point, row in enumerate(subset):
            if row != -1:
                body[point] = candidate[row]
        keypoints = cls.none_seen()
        hands = np.asarray(pose["hands"], dtype=np.float64) if pose.get("hands") else keypoints.hands
        face = np.asarray(pose["faces"], dtype=np.float64)[0] if pose.get("faces") else keypoints.face
        return cls(body=body, hands=hands, face=face, body_visible=subset != -1)

    def to_reference(self) -> dict[str, Any]:
        """The reference's pose dict: ``candidate`` (18 x 2, unseen points' coordinates kept),
        ``subset`` (1 x 18, -1 where unseen), ``hands`` (2 x 21 x 2) and ``faces`` (1 x 68 x 2), as
        JSON-ready lists."""
        subset = [float(point) if seen else -1.0 for point, seen in enumerate(self.body_seen)]
        return {
            "candidate": self.body.tolist(),
            "subset": [subset],
            "hands": self.hands.tolist(),
            "faces": [self.face.tolist()],
        }


def load_keypoints(source: str | Path | Mapping[str, Any]) -> Keypoints:
    """``Keypoints`` from a reference-shaped JSON file (path) or an already parsed mapping."""
    if isinstance(source, Mapping):
        return Keypoints.from_reference(source)
    return Keypoints.from_reference(json.loads(Path(source).read_text()))


def _pixel(point: np.ndarray, height: int, width: int) -> tuple[int, int]:
    """Normalised ``(x, y)`` to integer pixels, truncated towards zero."""
    return int(point[0] * width), int(point[1] * height)


def _drawn(pixel: tuple[int, int]) -> bool:
    return pixel[0] > _MIN_DRAWN_PIXEL and pixel[1] > _MIN_DRAWN_PIXEL


def _draw_body(canvas: np.ndarray, keypoints: Keypoints) -> np.ndarray:
    """Limbs (at 60 % of their level, under everything) then joint discs, for the seen body points."""
    height, width = canvas.shape
    seen = keypoints.body_seen
    pixels = [_pixel(point, height, width) for point in keypoints.body]
    limbs = np.zeros_like(canvas)
    for limb, (start, end) in enumerate(BODY_LIMBS):
        if not (seen[start] and seen[end]):
            continue
        (xa, ya), (xb, yb) = pixels[start], pixels[end]
        centre = ((xa + xb) // 2, (ya + yb) // 2)
        length = int(math.hypot(xa - xb, ya - yb))
        angle = int(math.degrees(math.atan2(ya - yb, xa - xb)))
        outline = cv2.ellipse2Poly(centre, (length // 2, _LIMB_HALF_WIDTH), angle, 0, 360, 1)
        cv2.fillConvexPoly(limbs, outline, int(_LIMB_LEVELS[limb]))
    canvas = np.maximum(canvas, (limbs * _LIMB_OPACITY).astype(np.uint8))
    for point in np.flatnonzero(seen):
        cv2.circle(canvas, pixels[point], _BODY_JOINT_RADIUS, _BODY_JOINT_LEVELS[point], thickness=-1)
    return canvas


def _draw_hands(canvas: np.ndarray, keypoints: Keypoints) -> None:
    """Each hand's bones, then its joints, in place; points at a pixel x or y below 1 are skipped."""
    height, width = canvas.shape
    for hand in keypoints.hands:
        pixels = [_pixel(point, height, width) for point in hand]
        for bone, (start, end) in enumerate(HAND_BONES):
            if _drawn(pixels[start]) and _drawn(pixels[end]):
                level = int(_HAND_BONE_LEVELS[bone])
                cv2.line(canvas, pixels[start], pixels[end], level, thickness=_HAND_BONE_THICKNESS)
        for pixel in pixels:
            if _drawn(pixel):
                cv2.circle(canvas, pixel, _HAND_JOINT_RADIUS, _HAND_JOINT_LEVEL, thickness=-1)


def _draw_face(canvas: np.ndarray, keypoints: Keypoints) -> None:
    """Face point discs, in place; points at a pixel x or y below 1 are skipped."""
    height, width = canvas.shape
    for point in keypoints.face:
        pixel = _pixel(point, height, width)
        if _drawn(pixel):
            cv2.circle(canvas, pixel, _FACE_POINT_RADIUS, _FACE_POINT_LEVEL, thickness=-1)


def draw_pose_map(keypoints: Keypoints, height: int, width: int) -> np.ndarray:
    """The grey pose map of ``keypoints`` on a ``height x width`` canvas: ``HxW`` uint8, 0 = nothing.

    Drawn at the size of the image the keypoints were found on (the pre-resized photo); resize it to
    the model canvas with ``canvas.resize_pad(..., nearest_exact=True)``.
    """
    canvas = _draw_body(np.zeros((height, width), np.uint8), keypoints)
    _draw_hands(canvas, keypoints)
    _draw_face(canvas, keypoints)
    return canvas


def empty_pose_map(height: int, width: int) -> np.ndarray:
    """The pose map of a photo with no person (a flat-lay garment): ``HxW`` uint8 zeros."""
    return draw_pose_map(Keypoints.none_seen(), height, width)
