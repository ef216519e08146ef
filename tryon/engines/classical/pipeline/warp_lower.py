"""Warp step for trousers and skirts: fit a flat lower-body garment onto hips and legs.

One thin-plate spline carries the whole garment: the waist to the body's waist, the crotch below the
hips' middle, and cross-sections of each leg along hip, knee and ankle.
"""

from __future__ import annotations

import numpy as np

from .types import BodyPose, GarmentCutout, LowerBodyLandmarks, WarpedGarment
from .warp import BodyFrame, _along_polyline, _composite, _rescaled, _warp_layer, body_frame


def warp_lower_body(
    cutout: GarmentCutout,
    landmarks: LowerBodyLandmarks,
    pose: BodyPose,
    size: tuple[int, int],
    *,
    waist_up: float = 0.12,
    waist_half: float = 0.85,
    rise: tuple[float, float] = (0.2, 0.32),
    full_length: float = 0.8,
    grid_step: int = 8,
) -> WarpedGarment:
    """Fit trousers (or a skirt) onto the person in ``pose``, in a photo of ``size`` ``(height, width)``.

    The waistband goes ``waist_up`` torso lengths above the hip joints, ``waist_half`` hip-joint
    distances to each side of the middle; that width sets the garment's scale. The crotch keeps the
    garment's own rise, bounded to ``rise`` torso lengths below the waist. Each leg follows hip, knee and
    ankle for its own scaled length; when either leg is at least ``full_length`` of the body's leg, both
    end at the ankles.
    Leg widths keep the garment's cut, bounded around typical thigh, knee and ankle widths. The garment
    is not clipped to the silhouette: new trousers may be wider than the old ones (the fill behind them
    repaints what the old ones covered). Returns ``HxW`` layers (no sleeves: ``sleeve_alpha`` is 0).
    """
    frame = body_frame(pose)
    hip_width = frame.hip_width
    waist = frame.hip_mid - frame.down * waist_up * frame.torso_length
    waist_l = waist - frame.across * waist_half * hip_width
    waist_r = waist + frame.across * waist_half * hip_width
    garment_waist = np.array(landmarks.waist_right) - np.array(landmarks.waist_left)
    scale = float(np.linalg.norm(waist_r - waist_l)) / max(1.0, float(np.linalg.norm(garment_waist)))
    shrink = min(1.0, 1.3 * scale)
    rgb, alpha, points = _rescaled(cutout, landmarks, shrink)
    scale /= shrink

    waist_mid = (points["waist_left"] + points["waist_right"]) / 2
    garment_rise = float(points["crotch"][1] - waist_mid[1])
    body_rise = float(np.clip(scale * garment_rise, rise[0] * frame.torso_length, rise[1] * frame.torso_length))
    crotch = waist + frame.down * body_rise
    pairs = [
        (points["waist_left"], waist_l),
        (points["waist_right"], waist_r),
        (waist_mid, waist),
        (points["crotch"], crotch),
    ]
    if landmarks.has_legs:
        # One pair of trousers: both legs end at the ankles, or neither (a leg's landmarks vary a little).
        lengths = [_leg_lengths(points, frame, side, crotch) for side in ("left", "right")]
        to_ankles = max(scale * garment / body for garment, body, _ in lengths) >= full_length
        for side in ("left", "right"):
            pairs += _leg_pairs(points, frame, side, scale, crotch, hip_width, to_ankle=to_ankles)
    else:
        pairs += _skirt_pairs(points, frame, scale, waist, hip_width)
    return _composite(rgb, [_warp_layer(alpha, pairs, size, grid_step)], size, [])


def _leg_pairs(
    points: dict[str, np.ndarray],
    frame: BodyFrame,
    side: str,
    scale: float,
    crotch: np.ndarray,
    hip_width: float,
    *,
    to_ankle: bool,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Garment-to-body pairs for one leg: centre and edges at the crotch, a third, two thirds and the end.

    The garment leg's axis runs from the middle of the leg at crotch height (between the waist corner's
    x and the crotch) to the middle of its opening; the body's runs from the leg at crotch height
    through knee and ankle. The leg keeps its scaled length, or ends at the ankle when ``to_ankle``.
    """
    away = frame.across * (-1.0 if side == "left" else 1.0)
    outer, inner = points[f"{side}_hem_outer"], points[f"{side}_hem_inner"]
    top = _leg_top(points, side)
    end = (outer + inner) / 2
    top_half = abs(float(top[0] - points["crotch"][0]))
    end_half = float(np.linalg.norm(outer - inner)) / 2
    axis = end - top
    garment_length, leg_length, body_leg = _leg_lengths(points, frame, side, crotch)
    garment_across = np.array([-axis[1], axis[0]]) / garment_length
    if (outer - end) @ garment_across < 0:
        garment_across = -garment_across
    body_length = leg_length if to_ankle else scale * garment_length
    pairs = []
    for t in (0.0, 1 / 3, 2 / 3, 1.0):
        body_mid, direction = _along_polyline(body_leg, t * body_length)
        body_across = np.array([-direction[1], direction[0]])
        if body_across @ away < 0:
            body_across = -body_across
        # Typical half widths in hip-joint distances: thigh 0.45, knee 0.3, ankle 0.22.
        reach = min(1.0, t * body_length / max(1e-6, leg_length))
        typical = hip_width * (0.45 - 0.23 * reach)
        garment_half = (1 - t) * top_half + t * end_half
        body_half = float(np.clip(scale * garment_half, typical, 1.5 * typical))
        garment_mid = top + t * axis
        pairs += [
            (garment_mid, body_mid),
            (garment_mid + garment_across * garment_half, body_mid + body_across * body_half),
        ]
        if t > 0:
            pairs.append((garment_mid - garment_across * garment_half, body_mid - body_across * body_half))
    return pairs


def _leg_top(points: dict[str, np.ndarray], side: str) -> np.ndarray:
    """The middle of the garment's leg at crotch height: between the waist corner's x and the crotch."""
    return np.array([(points[f"waist_{side}"][0] + points["crotch"][0]) / 2, points["crotch"][1]])


def _leg_lengths(
    points: dict[str, np.ndarray], frame: BodyFrame, side: str, crotch: np.ndarray
) -> tuple[float, float, np.ndarray]:
    """One leg's garment length (its axis, in garment pixels), the body leg's length from crotch height
    to the ankle (photo pixels), and that body leg as a ``(3, 2)`` polyline (start, knee, ankle)."""
    suffix = "l" if side == "left" else "r"
    hip, knee, ankle = (getattr(frame, f"{joint}_{suffix}") for joint in ("hip", "knee", "ankle"))
    end = (points[f"{side}_hem_outer"] + points[f"{side}_hem_inner"]) / 2
    garment_length = max(1.0, float(np.linalg.norm(end - _leg_top(points, side))))
    # The body leg starts at crotch height on the thigh, below the hip joint.
    depth = float((crotch - hip) @ frame.down)
    start, _ = _along_polyline(np.array([hip, knee, ankle]), max(0.0, depth))
    body_leg = np.array([start, knee, ankle])
    return garment_length, float(np.sum(np.linalg.norm(np.diff(body_leg, axis=0), axis=1))), body_leg


def _skirt_pairs(
    points: dict[str, np.ndarray], frame: BodyFrame, scale: float, waist: np.ndarray, hip_width: float
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Garment-to-body pairs for a skirt's hem: straight down the body for the skirt's scaled length,
    at least as wide as the hips."""
    pairs = []
    for side, sign in (("left", -1.0), ("right", 1.0)):
        hem = points[f"{side}_hem_outer"]
        below = scale * float(hem[1] - (points["waist_left"][1] + points["waist_right"][1]) / 2)
        half = max(scale * abs(float(hem[0] - points["crotch"][0])), 1.1 * hip_width)
        pairs.append((hem, waist + frame.down * below + frame.across * sign * half))
    return pairs
