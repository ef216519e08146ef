"""Where on a worn photo a garment of each category can be, and what never is garment: from keypoints.

Masks are ``HxW`` bool of the photo's size, True inside the named zone. Widths scale with the body:
the shoulder span for the upper body, the hip span for the lower body. The zones are generous (a loose
sleeve, a wide skirt) and meant to be cut with the wearer's silhouette (``geometric_garment_mask``).
"""

from __future__ import annotations

import cv2
import numpy as np

from .body import BodyPoints
from .masks import Mask

UPPER_BODY = "upper_body"
LOWER_BODY = "lower_body"
DRESSES = "dresses"
CATEGORIES = (UPPER_BODY, LOWER_BODY, DRESSES)

# The points each category's zone is built from.
ZONE_POINTS = {
    UPPER_BODY: ("left_shoulder", "right_shoulder", "left_hip", "right_hip"),
    LOWER_BODY: ("left_hip", "right_hip"),
    DRESSES: ("left_shoulder", "right_shoulder", "left_hip", "right_hip"),
}


class ZoneNotVisible(ValueError):
    """The wearer's points a category's zone is built from are not seen."""


def garment_zone(body: BodyPoints, category: str) -> Mask:
    """``HxW`` bool: where a garment of ``category`` worn by ``body`` can be.

    - upper body: the torso from a little above the shoulders to a quarter torso below the hips,
      and the arms to the wrists (sleeves);
    - lower body: from a fifth of the torso above the hip joints (the waistband) down the legs to the
      ankles (or the photo's bottom edge);
    - dresses: both.
    Raises ``ZoneNotVisible`` when the points it is built from are not seen.
    """
    missing = [name for name in ZONE_POINTS[category] if name not in body.points]
    if missing:
        raise ZoneNotVisible(f"the wearer's {', '.join(missing)} are not seen")
    zone = np.zeros(body.size, np.uint8)
    if category in (UPPER_BODY, DRESSES):
        _draw_upper_body(zone, body)
    if category in (LOWER_BODY, DRESSES):
        _draw_lower_body(zone, body)
    return zone.astype(bool)


def face_and_hands(body: BodyPoints) -> Mask:
    """``HxW`` bool: the head (face points, or a disc around the nose) and the hands (hand points,
    or a disc beyond each wrist along the forearm), grown a little; never part of a garment."""
    kept = np.zeros(body.size, np.uint8)
    scale = _body_scale(body)
    if len(body.face) >= 3:
        hull = cv2.convexHull(np.round(body.face).astype(np.int32))
        cv2.fillConvexPoly(kept, hull, 1)
        kept = cv2.dilate(kept, _disc(round(0.12 * scale)))
    elif body.has("nose"):
        cv2.circle(kept, _pixel(body.points["nose"]), round(0.45 * scale), 1, thickness=-1)
    for hand in body.hands:
        if len(hand) >= 3:
            hull = cv2.convexHull(np.round(hand).astype(np.int32))
            one = np.zeros_like(kept)
            cv2.fillConvexPoly(one, hull, 1)
            kept |= cv2.dilate(one, _disc(round(0.06 * scale)))
    for side in ("left", "right"):
        if body.has(f"{side}_elbow", f"{side}_wrist"):
            elbow, wrist = body.points[f"{side}_elbow"], body.points[f"{side}_wrist"]
            forearm = float(np.linalg.norm(wrist - elbow))
            cv2.circle(kept, _pixel(wrist + 0.35 * (wrist - elbow)), round(0.3 * forearm), 1, thickness=-1)
    return kept.astype(bool)


def seen_face_and_hands(body: BodyPoints) -> Mask:
    """``HxW`` bool: the convex hulls of the face points and of each hand's points, not grown: what is
    surely face or hand (a cuff beyond the wrist is not); empty where no such points were found."""
    seen = np.zeros(body.size, np.uint8)
    for points in (body.face, *body.hands):
        if len(points) >= 3:
            cv2.fillConvexPoly(seen, cv2.convexHull(np.round(points).astype(np.int32)), 1)
    return seen.astype(bool)


def geometric_garment_mask(silhouette: Mask, body: BodyPoints, category: str) -> Mask:
    """``HxW`` bool: the wearer's ``silhouette`` (``HxW`` bool, True on the person) inside the
    category's ``garment_zone``, without the face and hands. Raises ``ZoneNotVisible``."""
    return silhouette & garment_zone(body, category) & ~face_and_hands(body)


def _draw_upper_body(zone: np.ndarray, body: BodyPoints) -> None:
    left_shoulder, right_shoulder = body.points["left_shoulder"], body.points["right_shoulder"]
    left_hip, right_hip = body.points["left_hip"], body.points["right_hip"]
    shoulders, hips = body.mid("left_shoulder", "right_shoulder"), body.mid("left_hip", "right_hip")
    down = hips - shoulders
    torso = max(float(np.linalg.norm(down)), 1.0)
    down /= torso
    shoulder_span = left_shoulder - right_shoulder
    hip_span = left_hip - right_hip
    outline = [
        right_shoulder - 0.15 * shoulder_span - 0.12 * torso * down,
        left_shoulder + 0.15 * shoulder_span - 0.12 * torso * down,
        left_hip + 0.35 * hip_span + 0.25 * torso * down,
        right_hip - 0.35 * hip_span + 0.25 * torso * down,
    ]
    cv2.fillPoly(zone, [np.round(outline).astype(np.int32)], 1)
    sleeve = max(1, round(0.22 * float(np.linalg.norm(shoulder_span))))
    for side in ("left", "right"):
        _draw_limb(zone, body, (f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist"), sleeve)


def _draw_lower_body(zone: np.ndarray, body: BodyPoints) -> None:
    left_hip, right_hip = body.points["left_hip"], body.points["right_hip"]
    hip_span = left_hip - right_hip
    hip_width = max(float(np.linalg.norm(hip_span)), 1.0)
    waist_rise = 0.2 * (body.distance("left_shoulder", "left_hip") if body.has("left_shoulder") else 2.5 * hip_width)
    up = np.array([0.0, -1.0])
    outline = [
        right_hip - 0.45 * hip_span + waist_rise * up,
        left_hip + 0.45 * hip_span + waist_rise * up,
        left_hip + 0.45 * hip_span - 0.3 * hip_width * up,
        right_hip - 0.45 * hip_span - 0.3 * hip_width * up,
    ]
    cv2.fillPoly(zone, [np.round(outline).astype(np.int32)], 1)
    leg = max(1, round(0.55 * hip_width))
    for side in ("left", "right"):
        _draw_limb(zone, body, (f"{side}_hip", f"{side}_knee", f"{side}_ankle"), leg, to_edge=True)


def _draw_limb(zone: np.ndarray, body: BodyPoints, joints: tuple[str, ...], radius: int, *, to_edge: bool = False) -> None:
    """Capsules along the seen chain of ``joints``; a leg whose end is not seen runs to the bottom edge."""
    chain = [body.points[name] for name in joints if name in body.points]
    if to_edge and len(chain) < len(joints) and len(chain) >= 1:
        last = chain[-1]
        chain.append(np.array([last[0], float(body.size[0])]))
    for start, end in zip(chain, chain[1:]):
        cv2.line(zone, _pixel(start), _pixel(end), 1, thickness=2 * radius)
        cv2.circle(zone, _pixel(end), radius, 1, thickness=-1)


def _body_scale(body: BodyPoints) -> float:
    """A body length in pixels: the shoulder span, else the hip span, else a tenth of the photo's height."""
    for left, right in (("left_shoulder", "right_shoulder"), ("left_hip", "right_hip")):
        if body.has(left, right):
            return max(body.distance(left, right), 4.0)
    return body.size[0] / 10


def _disc(radius: int) -> np.ndarray:
    radius = max(1, radius)
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _pixel(point: np.ndarray) -> tuple[int, int]:
    return int(round(point[0])), int(round(point[1]))
