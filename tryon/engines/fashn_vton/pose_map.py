"""The grey pose map FASHN VTON is conditioned on, drawn from ``tryon.vision.keypoints.Keypoints``.

The map is ``HxW`` uint8, 0 where nothing is drawn: body limbs as ellipses of grey 12-144 (60 % of
a level from 20 to 240 that rises with the limb's index), body joints as radius-4 discs (1.3 times
their first limb's level), hand bones as 2-pixel lines of grey 160-220 with radius-4 joints of 240,
face points as radius-3 discs of 200. Pixel positions are the normalised coordinates times the size,
truncated, as DWPose's drawing does.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ...vision.keypoints import NUM_BODY_POINTS, Keypoints

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
