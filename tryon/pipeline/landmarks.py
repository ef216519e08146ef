"""Key points of an upper-body garment laid flat, found from the shape of its cut-out mask."""

from __future__ import annotations

import cv2
import numpy as np

from .types import GarmentCutout, GarmentLandmarks, Mask

Point = np.ndarray  # (2,) float (x, y)


def garment_landmarks(cutout: GarmentCutout, *, work_side: int = 256) -> GarmentLandmarks:
    """Find the neck, shoulders, armpits, sleeve ends, cuff corners and hem corners of a flat top.

    ``cutout.mask`` (``hxw`` bool, True on the garment) is analysed at ``work_side`` pixels on its long
    side; points are returned in the cut-out's own pixels. The method follows the garment's outline
    rather than row-width profiles, so it holds for curved hems and sleeves hanging beside the torso:

    - shoulders are the bends of the outline between the collar and each sleeve's far end;
    - armpits are the deepest concavities of the outline on each side (the notch under a short sleeve,
      the top of the gap between a hanging sleeve and the torso);
    - hem corners are the torso's side edges where they end, measured below the armpits;
    - each sleeve is cut off the torso along shoulder-armpit-hem before its far end is searched, so the
      far end cannot drift to a hem corner.
    """
    scale = min(1.0, work_side / max(cutout.mask.shape))
    mask = _resized_mask(cutout.mask, scale)
    outline = _outline(mask)
    centre_x = _centre_x(mask)
    neck = _neck(mask, centre_x)
    armpits = {side: _armpit(outline, mask, centre_x, side) for side in (-1, 1)}
    hems = _hem_corners(mask, centre_x, min(armpits[-1][1], armpits[1][1]))
    points: dict[str, Point] = {"neck": neck}
    for side, name in ((-1, "left"), (1, "right")):
        sleeve = _sleeve_piece(mask, armpits[side], hems[side], side)
        end, cuff_inner, cuff_outer = _sleeve_end(sleeve, armpits[side], hems[side])
        shoulder = _shoulder(outline, neck, cuff_outer, armpits[side], side)
        points |= {
            f"{name}_shoulder": shoulder,
            f"{name}_armpit": armpits[side],
            f"{name}_sleeve_end": end,
            f"{name}_cuff_inner": cuff_inner,
            f"{name}_cuff_outer": cuff_outer,
            f"{name}_hem": hems[side],
        }
    return GarmentLandmarks(**{key: (float(p[0] / scale), float(p[1] / scale)) for key, p in points.items()})


def _resized_mask(mask: Mask, scale: float) -> Mask:
    if scale == 1.0:
        return mask
    size = (max(1, round(mask.shape[1] * scale)), max(1, round(mask.shape[0] * scale)))
    return cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_AREA) > 0


def _outline(mask: Mask) -> np.ndarray:
    """``(N, 2)`` int points of the largest outer contour, in order around the shape."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return max(contours, key=cv2.contourArea)[:, 0, :]


def _centre_x(mask: Mask) -> float:
    """The garment's vertical axis: the middle of its horizontal extent (garments are laid symmetric)."""
    columns = np.flatnonzero(mask.any(axis=0))
    return (columns[0] + columns[-1]) / 2.0


def _neck(mask: Mask, centre_x: float) -> Point:
    """Top of the collar on the garment's axis (the back of the neckline)."""
    half = max(1, round(0.03 * mask.shape[1]))
    band = mask[:, round(centre_x) - half : round(centre_x) + half + 1]
    rows = np.flatnonzero(band.any(axis=1))
    return np.array([centre_x, rows[0]], float)


def _armpit(outline: np.ndarray, mask: Mask, centre_x: float, side: int) -> Point:
    """The deepest concavity of the outline on one side (``side`` -1: image left, +1: image right).

    Concavities near the axis (neckline, a curved hem's notch) and at the very top are ignored. Without
    a clear concavity (sleeves pressed to the torso), the armpit is put at a typical proportion.
    """
    height, width = mask.shape
    hull = cv2.convexHull(outline, returnPoints=False)
    defects = cv2.convexityDefects(outline, np.sort(hull, axis=0))
    best, best_depth = None, 0.02 * width
    for _, _, far, depth in (defects[:, 0] if defects is not None else []):
        x, y = outline[far]
        off_axis = side * (x - centre_x) > 0.12 * width
        if off_axis and 0.15 * height < y < 0.92 * height and depth / 256.0 > best_depth:
            best, best_depth = outline[far].astype(float), depth / 256.0
    if best is None:
        top = np.flatnonzero(mask.any(axis=1))[0]
        best = np.array([centre_x + side * 0.3 * width, top + 0.35 * height])
    return best


def _hem_corners(mask: Mask, centre_x: float, armpit_y: float) -> dict[int, Point]:
    """Left (-1) and right (+1) ends of the torso's hem.

    Below the armpits, each row's run of garment pixels through the axis is the torso (sleeves hanging
    beside it are separate runs). The hem corner is the lowest row whose run is still near the torso's
    typical width: a curved hem narrows the run towards the bottom and must not pull the corners in.
    """
    rows = np.arange(int(armpit_y) + 1, mask.shape[0])
    lefts, rights = _runs_through(mask[rows], round(centre_x))
    widths = rights - lefts
    valid = widths > 0
    typical = float(np.median(widths[valid]))
    full = np.flatnonzero(valid & (widths >= 0.9 * typical))
    hem_row = full[-1]
    lower = full[full >= full[0] + 0.6 * (hem_row - full[0])]
    return {
        -1: np.array([np.median(lefts[lower]), rows[hem_row]], float),
        1: np.array([np.median(rights[lower]), rows[hem_row]], float),
    }


def _runs_through(rows: np.ndarray, column: int) -> tuple[np.ndarray, np.ndarray]:
    """For each mask row, first and one-past-last column of the run of True containing ``column``.

    Rows where ``column`` is False give an empty run (left == right == column).
    """
    width = rows.shape[1]
    inside = rows[:, column]
    # A gap at or left of the column is any False there; the run starts after the last such gap.
    left_gaps = np.where(~rows[:, : column + 1], np.arange(column + 1), -1)
    right_gaps = np.where(~rows[:, column:], np.arange(column, width), width)
    lefts = np.where(inside, left_gaps.max(axis=1) + 1, column)
    rights = np.where(inside, right_gaps.min(axis=1), column)
    return lefts.astype(float), rights.astype(float)


def _sleeve_piece(mask: Mask, armpit: Point, hem: Point, side: int) -> Mask:
    """The sleeve on one side: garment pixels outside the torso's side line (armpit to hem corner).

    Above the armpit, the side line continues straight up, so the shoulder cap belongs to the torso.
    """
    height, width = mask.shape
    ys, xs = np.mgrid[0:height, 0:width]
    slope = (hem[0] - armpit[0]) / max(1.0, hem[1] - armpit[1])
    side_x = armpit[0] + slope * np.clip(ys - armpit[1], 0, None)
    outside = side * (xs - side_x) > 0
    return mask & outside & (ys > np.flatnonzero(mask.any(axis=1))[0] + 0.05 * height)


def _sleeve_end(sleeve: Mask, armpit: Point, hem: Point) -> tuple[Point, Point, Point]:
    """Centre, inner corner and outer corner of the sleeve's opening.

    The opening is the part of the sleeve farthest from the armpit; its two corners are the extreme
    points across the sleeve's direction, the inner one being nearer the hem corner.
    """
    ys, xs = np.nonzero(sleeve)
    if len(xs) < 10:  # sleeveless: the opening collapses onto the armpit
        return armpit, armpit, armpit
    points = np.stack([xs, ys], axis=1).astype(float)
    distance = np.linalg.norm(points - armpit, axis=1)
    far = points[distance >= 0.85 * distance.max()]
    end = far.mean(axis=0)
    direction = (end - armpit) / max(1e-6, float(np.linalg.norm(end - armpit)))
    across = far @ np.array([-direction[1], direction[0]])
    corners = far[np.argmin(across)], far[np.argmax(across)]
    inner, outer = sorted(corners, key=lambda p: float(np.linalg.norm(p - hem)))
    return end, inner, outer


def _shoulder(outline: np.ndarray, neck: Point, cuff_outer: Point, armpit: Point, side: int) -> Point:
    """The bend of the outline between the collar and the sleeve's outer cuff corner.

    It is the outline point above the armpit, on this side of the neck, that lies farthest above the
    straight line from the neck to the outer cuff corner.
    """
    chord = cuff_outer - neck
    normal = np.array([chord[1], -chord[0]]) / max(1e-6, float(np.linalg.norm(chord)))
    if normal[1] > 0:  # point the normal upwards (towards smaller y)
        normal = -normal
    candidates = outline[
        (side * (outline[:, 0] - neck[0]) > 0)
        & (side * (outline[:, 0] - cuff_outer[0]) < 0)
        & (outline[:, 1] < armpit[1])
    ].astype(float)
    if len(candidates) == 0:
        return np.array([armpit[0], neck[1]], float)
    height_above = (candidates - neck) @ normal
    return candidates[int(np.argmax(height_above))]
