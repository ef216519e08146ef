"""Key points of a garment laid flat (a top or dress; trousers or a skirt), found from its cut-out mask."""

from __future__ import annotations

import cv2
import numpy as np

from ....errors import GarmentNotFound
from ....vision.masks import largest_component
from .types import GarmentCutout, GarmentLandmarks, LowerBodyLandmarks, Mask

Point = np.ndarray  # (2,) float (x, y)


def garment_landmarks(
    cutout: GarmentCutout, *, work_side: int = 256, armhole_depth: float = 0.35
) -> GarmentLandmarks:
    """Find the neck, shoulders, armpits, sleeve ends, cuff corners and hem corners of a flat top.

    ``cutout.mask`` (``hxw`` bool, True on the garment) is analysed at ``work_side`` pixels on its long
    side; points are returned in the cut-out's own pixels. The method follows the garment's outline
    rather than row-width profiles, so it holds for curved hems and for sleeves lying on the torso:

    - on each side, the deepest concavity of the outline is where sleeve and torso part: the notch under
      a short sleeve (the armpit itself) or, for a long sleeve lying on the torso, the top of the gap
      between its cuff and the hem;
    - below both concavities the row through the garment's axis is torso alone; its ends at the last
      full-width row are the hem corners (a curved hem narrows the rows below them);
    - each sleeve is cut off along the torso's side seam (above the hem corner) before its far end
      from the neck is searched, so that far end cannot drift to a hem corner;
    - shoulders are the bends of the outline between the collar and each outer cuff corner;
    - an armpit hidden under a lying sleeve is put on the side seam, ``armhole_depth`` of the way from
      the shoulder to the hem.

    Raises ``GarmentNotFound`` when no torso is found below the sleeves (trousers, skirts).
    """
    scale = min(1.0, work_side / max(cutout.mask.shape))
    mask = _resized_mask(cutout.mask, scale)
    outline = _outline(mask)
    centre_x = _centre_x(mask)
    neck = _neck(mask, centre_x)
    notches = {side: _side_notch(outline, mask, centre_x, side) for side in (-1, 1)}
    hems = _hem_corners(mask, centre_x, max(notches[-1][1], notches[1][1]))
    points: dict[str, Point] = {"neck": neck}
    for side, name in ((-1, "left"), (1, "right")):
        sleeve = _sleeve_piece(mask, hems[side], side)
        end, cuff_inner, cuff_outer = _sleeve_end(sleeve, neck, hems[side])
        shoulder = _shoulder(outline, neck, cuff_outer, hems[side], side)
        armpit = _armpit(notches[side], shoulder, hems[side], side, depth=armhole_depth)
        points |= {
            f"{name}_shoulder": shoulder,
            f"{name}_armpit": armpit,
            f"{name}_sleeve_end": end,
            f"{name}_cuff_inner": cuff_inner,
            f"{name}_cuff_outer": cuff_outer,
            f"{name}_hem": hems[side],
        }
    return GarmentLandmarks(
        **{key: (float(p[0] / scale), float(p[1] / scale)) for key, p in points.items()}
    )


def lower_body_landmarks(
    cutout: GarmentCutout, *, work_side: int = 256, waistband: float = 0.03, hem_depth: float = 0.03
) -> LowerBodyLandmarks:
    """Find the waist corners, crotch and leg openings of flat trousers (or the hem of a skirt).

    ``cutout.mask`` (``hxw`` bool, True on the garment) is analysed at ``work_side`` pixels on its long
    side; points are returned in the cut-out's own pixels. The waist corners are the ends of the row
    ``waistband`` of the height below the top; the crotch is where the garment's axis first leaves the
    garment going down; each leg opening is the band ``hem_depth`` of the height deep at the bottom of
    that leg, its ends the opening's corners. Without a gap between legs (a skirt) the crotch is the
    middle of the hem.
    """
    scale = min(1.0, work_side / max(cutout.mask.shape))
    mask = largest_component(_resized_mask(cutout.mask, scale))
    height = mask.shape[0]
    rows = np.flatnonzero(mask.any(axis=1))
    centre_x = _centre_x(mask)
    waist_row = rows[0] + round(waistband * height)
    waist_cols = np.flatnonzero(mask[waist_row])
    axis = mask[rows[0] : rows[-1] + 1, round(centre_x)]
    gap = np.flatnonzero(~axis)
    points: dict[str, Point] = {
        "waist_left": np.array([waist_cols[0], waist_row], float),
        "waist_right": np.array([waist_cols[-1], waist_row], float),
    }
    if len(gap):
        crotch = np.array([centre_x, rows[0] + gap[0]], float)
        for side, name in ((-1, "left"), (1, "right")):
            leg = largest_component(mask & (side * (np.arange(mask.shape[1]) - centre_x) > 0)[None, :])
            outer, inner = _opening(leg, centre_x, hem_depth * height)
            points |= {f"{name}_hem_outer": outer, f"{name}_hem_inner": inner}
    else:
        left, right = _opening(mask, centre_x, hem_depth * height, both_ends=True)
        crotch = np.array([centre_x, max(left[1], right[1])], float)
        points |= {"left_hem_outer": left, "right_hem_outer": right}
        points |= {"left_hem_inner": crotch, "right_hem_inner": crotch}
    points["crotch"] = crotch
    return LowerBodyLandmarks(
        **{key: (float(p[0] / scale), float(p[1] / scale)) for key, p in points.items()}
    )


def _opening(piece: Mask, centre_x: float, depth: float, *, both_ends: bool = False) -> tuple[Point, Point]:
    """The ends of the band ``depth`` px deep at the bottom of ``piece``: (outer, inner) relative to
    ``centre_x``, or (left, right) when ``both_ends``."""
    ys, xs = np.nonzero(piece)
    band = ys >= ys.max() - depth
    y = float(ys[band].mean())
    low, high = np.array([xs[band].min(), y], float), np.array([xs[band].max(), y], float)
    if both_ends:
        return low, high
    return (low, high) if high[0] <= centre_x else (high, low)


def _resized_mask(mask: Mask, scale: float) -> Mask:
    if scale == 1.0:
        return mask
    size = (max(1, round(mask.shape[1] * scale)), max(1, round(mask.shape[0] * scale)))
    # Threshold at half coverage: narrow gaps between a hanging sleeve and the torso must stay open.
    return cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.5


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


def _side_notch(outline: np.ndarray, mask: Mask, centre_x: float, side: int) -> Point:
    """The deepest concavity of the outline on one side (``side`` -1: image left, +1: image right).

    Concavities near the axis (neckline, a curved hem's notch) and at the very top are ignored. Without
    a clear concavity (sleeves pressed to the torso down to the hem), a point at a typical proportion
    is returned.
    """
    height, width = mask.shape
    hull = cv2.convexHull(outline, returnPoints=False)
    defects = cv2.convexityDefects(outline, np.sort(hull, axis=0))
    best, best_depth = None, 0.02 * width
    # OpenCV 4 returns (N, 1, 4) defects and OpenCV 5 (N, 4); None when there are none.
    for _, _, far, fixed_depth in defects.reshape(-1, 4) if defects is not None else []:
        x, y = outline[far]
        depth = fixed_depth / 256.0  # OpenCV gives depths in 8.8 fixed point
        if side * (x - centre_x) > 0.12 * width and 0.15 * height < y < 0.95 * height and depth > best_depth:
            best, best_depth = outline[far].astype(float), depth
    if best is None:
        top = np.flatnonzero(mask.any(axis=1))[0]
        best = np.array([centre_x + side * 0.3 * width, top + 0.4 * height])
    return best


def _hem_corners(mask: Mask, centre_x: float, below_y: float) -> dict[int, Point]:
    """Left (-1) and right (+1) ends of the torso's hem, searched in rows below ``below_y``.

    There, each row's run of garment pixels through the axis is the torso alone. The hem corner is the
    lowest row whose run still has the torso's typical width (a curved hem narrows the rows below);
    its x is the median edge over the lower rows, robust to a cuff touching the torso in a few rows.
    """
    rows = np.arange(int(below_y) + 1, mask.shape[0])
    lefts, rights = _runs_through(mask[rows], round(centre_x))
    widths = rights - lefts
    valid = widths > 0
    if valid.sum() < 3:
        raise GarmentNotFound(
            "The garment photo does not look like an upper-body garment (shirt, t-shirt, sweatshirt, "
            "jacket): no torso was found below the sleeves."
        )
    typical = float(np.median(widths[valid]))
    full = np.flatnonzero(valid & (widths >= 0.9 * typical))
    hem_row = full[-1]
    lower = full[full >= full[0] + 0.6 * (hem_row - full[0])]
    # Keep each corner on the garment in its own row (a row narrower than the median edge).
    left = np.clip(np.median(lefts[lower]), lefts[hem_row], rights[hem_row] - 1)
    right = np.clip(np.median(rights[lower]) - 1, lefts[hem_row], rights[hem_row] - 1)
    return {-1: np.array([left, rows[hem_row]], float), 1: np.array([right, rows[hem_row]], float)}


def _runs_through(rows: np.ndarray, column: int) -> tuple[np.ndarray, np.ndarray]:
    """For each mask row, first and one-past-last column of the run of True containing ``column``.

    Rows where ``column`` is False give an empty run (left == right == column).
    """
    width = rows.shape[1]
    inside = rows[:, column]
    # The run starts right after the last gap at or left of the column, and ends at the first gap right.
    left_gaps = np.where(~rows[:, : column + 1], np.arange(column + 1), -1)
    right_gaps = np.where(~rows[:, column:], np.arange(column, width), width)
    lefts = np.where(inside, left_gaps.max(axis=1) + 1, column)
    rights = np.where(inside, right_gaps.min(axis=1), column)
    return lefts.astype(float), rights.astype(float)


def _sleeve_piece(mask: Mask, hem: Point, side: int, *, margin: float = 0.02) -> Mask:
    """The sleeve on one side: the largest garment region beyond the torso's side seam.

    The side seam is taken as vertical through the hem corner; ``margin`` (of the width) keeps slivers
    of a slightly flared torso out of the sleeve.
    """
    beyond = side * (np.arange(mask.shape[1]) - hem[0]) > margin * mask.shape[1]
    return largest_component(mask & beyond)


def _sleeve_end(
    sleeve: Mask, neck: Point, hem: Point, *, depth: float = 0.06
) -> tuple[Point, Point, Point]:
    """Centre, inner corner and outer corner of the sleeve's opening.

    The opening is the band of the sleeve farthest from the neck (``depth`` of the garment's height
    deep); its two corners are the band's extreme points across the neck-to-opening direction, the
    inner one being nearer the hem corner. A garment without sleeves gets a zero-length sleeve at the
    top of its side.
    """
    ys, xs = np.nonzero(sleeve)
    if len(xs) < 10:
        return hem, hem, hem
    points = np.stack([xs, ys], axis=1).astype(float)
    distance = np.linalg.norm(points - neck, axis=1)
    far = points[distance >= distance.max() - depth * sleeve.shape[0]]
    end = far.mean(axis=0)
    direction = (end - neck) / max(1e-6, float(np.linalg.norm(end - neck)))
    across = far @ np.array([-direction[1], direction[0]])
    corners = far[np.argmin(across)], far[np.argmax(across)]
    inner, outer = sorted(corners, key=lambda p: float(np.linalg.norm(p - hem)))
    return end, inner, outer


def _shoulder(outline: np.ndarray, neck: Point, cuff_outer: Point, hem: Point, side: int) -> Point:
    """The bend of the outline between the collar and the sleeve's outer cuff corner.

    It is the outline point in the upper half, between the neck and the cuff on this side, that lies
    farthest above the straight line from the neck to the outer cuff corner.
    """
    chord = cuff_outer - neck
    normal = np.array([chord[1], -chord[0]]) / max(1e-6, float(np.linalg.norm(chord)))
    if normal[1] > 0:  # point the normal upwards (towards smaller y)
        normal = -normal
    candidates = outline[
        (side * (outline[:, 0] - neck[0]) > 0)
        & (side * (outline[:, 0] - cuff_outer[0]) <= 0)
        & (outline[:, 1] < neck[1] + 0.5 * (hem[1] - neck[1]))
    ].astype(float)
    if len(candidates) == 0:
        return np.array([hem[0], neck[1]], float)
    return candidates[int(np.argmax((candidates - neck) @ normal))]


def _armpit(
    notch: Point,
    shoulder: Point,
    hem: Point,
    side: int,
    *,
    depth: float,
) -> Point:
    """Where the sleeve's underside meets the torso: the notch when it can be one.

    A notch low down is the gap above a long sleeve's cuff, and one well beyond the shoulder is a bend
    of the sleeve itself; the armpit is then above the hem corner, ``depth`` of the way from the
    shoulder down to the hem.
    """
    length = hem[1] - shoulder[1]
    high_enough = notch[1] < shoulder[1] + 0.6 * length
    under_shoulder = side * (notch[0] - shoulder[0]) < 0.1 * length
    if high_enough and under_shoulder:
        return notch
    return np.array([hem[0], shoulder[1] + depth * length], float)
