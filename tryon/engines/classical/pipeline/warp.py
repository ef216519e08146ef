"""Warp step: fit a flat garment onto the person's body with thin-plate splines.

The torso and each sleeve are warped as separate layers, each with its own spline: a flat sleeve lies
at a different angle than the arm it goes on, and one spline for the whole garment would have to fold.
The sleeves are drawn over the torso, as an arm at the side is seen in front of the body.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ....vision.masks import box_slices
from ....vision.mediapipe_keypoints import POSE_LANDMARKS
from .landmarks import garment_landmarks
from .types import BodyPose, GarmentCutout, GarmentLandmarks, Mask, WarpedGarment

__all__ = ["garment_landmarks", "warp_garment", "BodyFrame", "body_frame"]

# mediapipe Pose indices, the person's own right side first (seen on the image's left when facing us).
_JOINTS = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
_RIGHT = {joint: POSE_LANDMARKS[f"right_{joint}"] for joint in _JOINTS}
_LEFT = {joint: POSE_LANDMARKS[f"left_{joint}"] for joint in _JOINTS}


@dataclass(frozen=True)
class BodyFrame:
    """The body points the garment is fitted to, ``(2,)`` float ``(x, y)`` photo pixels each.

    Sides are as seen in the photo: ``*_l`` is the image's left (the person's right when facing us).
    ``shoulder_width`` is the distance between the shoulder joints, the unit of all body proportions.
    """

    shoulder_l: np.ndarray
    shoulder_r: np.ndarray
    elbow_l: np.ndarray
    elbow_r: np.ndarray
    wrist_l: np.ndarray
    wrist_r: np.ndarray
    hip_l: np.ndarray
    hip_r: np.ndarray
    knee_l: np.ndarray
    knee_r: np.ndarray
    ankle_l: np.ndarray
    ankle_r: np.ndarray

    @property
    def torso_length(self) -> float:
        """Distance from the shoulders' middle to the hips' middle, the unit of lengths along the body."""
        return float(np.linalg.norm(self.hip_mid - self.shoulder_mid))

    @property
    def hip_width(self) -> float:
        """Distance between the hip joints, at least 0.3 shoulder widths (the unit of leg proportions)."""
        return max(float(np.linalg.norm(self.hip_r - self.hip_l)), 0.3 * self.shoulder_width)

    @property
    def shoulder_width(self) -> float:
        return float(np.linalg.norm(self.shoulder_r - self.shoulder_l))

    @property
    def shoulder_mid(self) -> np.ndarray:
        return (self.shoulder_l + self.shoulder_r) / 2.0

    @property
    def hip_mid(self) -> np.ndarray:
        return (self.hip_l + self.hip_r) / 2.0

    @property
    def down(self) -> np.ndarray:
        """Unit vector along the torso, from the shoulders' middle to the hips' middle."""
        axis = self.hip_mid - self.shoulder_mid
        return axis / max(1e-6, float(np.linalg.norm(axis)))

    @property
    def across(self) -> np.ndarray:
        """Unit vector across the torso, towards the image's right."""
        down = self.down
        return np.array([down[1], -down[0]])


def body_frame(pose: BodyPose) -> BodyFrame:
    """The body points of ``pose``, with sides assigned by where the shoulders are in the photo."""
    points = pose.points.astype(float)
    right_is_left = points[_RIGHT["shoulder"], 0] <= points[_LEFT["shoulder"], 0]
    image_left, image_right = (_RIGHT, _LEFT) if right_is_left else (_LEFT, _RIGHT)
    return BodyFrame(
        **{f"{part}_l": points[index] for part, index in image_left.items()},
        **{f"{part}_r": points[index] for part, index in image_right.items()},
    )


def warp_garment(
    cutout: GarmentCutout,
    landmarks: GarmentLandmarks,
    pose: BodyPose,
    size: tuple[int, int],
    *,
    body: Mask | None = None,
    shoulder_out: float = 0.12,
    shoulder_up: float = 0.06,
    fit: float = 0.5,
    hem_length: tuple[float, float] = (0.95, 1.2),
    long_sleeve: float = 0.8,
    clip_margin: float = 0.05,
    grid_step: int = 8,
) -> WarpedGarment:
    """Fit the garment onto the person in ``pose``, in a photo of ``size`` ``(height, width)``.

    The garment keeps its own proportions, scaled so its shoulders reach the person's (the joints moved
    ``shoulder_out`` and ``shoulder_up`` shoulder widths outwards and up, to the outside of the
    shoulder), and rotated with the shoulder slope. Its armpits and hem corners are pulled ``fit`` of
    the way (0: not at all, 1: fully) towards the person's chest and hip widths and follow the torso's
    lean. The hem keeps the garment's own length, bounded to ``hem_length`` (lower, upper) torso lengths
    below the shoulder joints (a boxy tee would otherwise reach mid-thigh; a dress passes wider bounds).
    Each sleeve follows its arm from the shoulder through elbow and wrist, for the sleeve's own
    scaled length; a sleeve at least ``long_sleeve`` of the arm's length ends at the wrist.

    ``body`` (``HxW`` bool, True on the person), when given, clips the garment to the silhouette widened
    by ``clip_margin`` shoulder widths: a flat garment is wider than the front of the body it wraps. The
    torso part is also kept between the arms, which hang in front of it.
    Splines are evaluated every ``grid_step`` pixels and interpolated between.

    Returns ``HxW`` layers: the garment's rgb, its alpha, and the sleeves' share of that alpha.
    """
    frame = body_frame(pose)
    targets = _torso_targets(
        landmarks, frame, shoulder_out=shoulder_out, shoulder_up=shoulder_up, fit=fit, hem_length=hem_length
    )
    scale = targets.scale
    # Shrink the garment to about the size it is drawn at: remap samples, it does not average.
    shrink = min(1.0, 1.3 * scale)
    rgb, alpha, points = _rescaled(cutout, landmarks, shrink)
    torso_piece, sleeve_pieces = _split_pieces(alpha, points)

    torso_pairs = [
        (points["neck"], targets.neck),
        *(
            (points[f"{side}_{part}"], getattr(targets, f"{part}_{side}"))
            for side in ("left", "right")
            for part in ("shoulder", "armpit", "hem")
        ),
    ]
    torso = _warp_layer(torso_piece, torso_pairs, size, grid_step)
    sleeves = []
    for side in ("left", "right"):
        sleeve = _fit_sleeve(points, targets, frame, side, scale / shrink, long_sleeve=long_sleeve)
        sleeves.append((_warp_layer(sleeve_pieces[side], sleeve.pairs, size, grid_step), sleeve.outline))

    # The torso part stays between the arms (arms hang in front of it); everything stays near the body.
    body_clip = (
        _widened(body, clip_margin * frame.shoulder_width)
        if body is not None
        else np.ones(size, np.float32)
    )
    torso = torso.clipped(body_clip * _torso_band(targets, frame, size))
    layers = [torso, *(layer.clipped(body_clip) for layer, _ in sleeves)]
    return _composite(rgb, layers, size, [outline for _, outline in sleeves])


@dataclass(frozen=True)
class _TorsoTargets:
    """Where the garment's torso points go on the body, and the garment-to-photo scale."""

    scale: float
    neck: np.ndarray
    shoulder_left: np.ndarray
    shoulder_right: np.ndarray
    armpit_left: np.ndarray
    armpit_right: np.ndarray
    hem_left: np.ndarray
    hem_right: np.ndarray


def _torso_targets(
    landmarks: GarmentLandmarks,
    frame: BodyFrame,
    *,
    shoulder_out: float,
    shoulder_up: float,
    fit: float,
    hem_length: tuple[float, float],
) -> _TorsoTargets:
    """Body positions for the garment's neck, shoulders, armpits and hem corners."""
    width = frame.shoulder_width
    outward = (frame.shoulder_r - frame.shoulder_l) / max(1e-6, width)
    upward = np.array([outward[1], -outward[0]])
    shoulder_l = frame.shoulder_l - outward * shoulder_out * width + upward * shoulder_up * width
    shoulder_r = frame.shoulder_r + outward * shoulder_out * width + upward * shoulder_up * width
    similarity = _similarity(
        np.array(landmarks.left_shoulder), np.array(landmarks.right_shoulder), shoulder_l, shoulder_r
    )
    # Scale by shoulders and by torso width together: where a sleeve is cut into the shoulder (raglan,
    # dropped shoulders) the outline's shoulder bends sit wide and would make the garment too small.
    # A flat garment's torso is about as wide as the body's outer shoulders.
    torso_scale = float(np.linalg.norm(shoulder_r - shoulder_l)) / max(
        1e-6, landmarks.right_hem[0] - landmarks.left_hem[0]
    )
    garment_mid = (np.array(landmarks.left_shoulder) + np.array(landmarks.right_shoulder)) / 2
    similarity = _Similarity(
        float(np.sqrt(similarity.scale * torso_scale)), similarity.rotation, np.zeros(2)
    ).anchored(garment_mid, (shoulder_l + shoulder_r) / 2)
    origin = (shoulder_l + shoulder_r) / 2.0
    # Typical body proportions in shoulder-joint widths (the joints sit inside the visible outline).
    chest_half = 0.45 * width  # the armpit is a little inside the shoulder joint
    hip_half = max(0.9 * float(np.linalg.norm(frame.hip_r - frame.hip_l)), 0.45 * width)

    def on_torso(
        point: tuple[float, float], body_half: float, sign: float, depth: tuple[float, float] | None = None
    ) -> np.ndarray:
        natural = similarity(np.array(point)) - origin
        along = float(natural @ frame.down)
        if depth is not None:  # limits below the shoulder joints, in shoulder widths
            joints = float((frame.shoulder_mid - origin) @ frame.down)
            along = float(np.clip(along, joints + depth[0] * width, joints + depth[1] * width))
        half = abs(float(natural @ frame.across))
        return origin + frame.down * along + frame.across * sign * ((1 - fit) * half + fit * body_half)

    # However deep a flat garment's armhole is cut, on the body it ends near the armpit.
    armpit_depth = (0.35, 0.6)
    hem_depth = (hem_length[0] * frame.torso_length / width, hem_length[1] * frame.torso_length / width)

    return _TorsoTargets(
        scale=similarity.scale,
        neck=similarity(np.array(landmarks.neck)),
        shoulder_left=shoulder_l,
        shoulder_right=shoulder_r,
        armpit_left=on_torso(landmarks.left_armpit, chest_half, -1.0, armpit_depth),
        armpit_right=on_torso(landmarks.right_armpit, chest_half, 1.0, armpit_depth),
        hem_left=on_torso(landmarks.left_hem, hip_half, -1.0, hem_depth),
        hem_right=on_torso(landmarks.right_hem, hip_half, 1.0, hem_depth),
    )


@dataclass(frozen=True)
class _Similarity:
    """``x -> scale * R x + shift`` for ``(2,)`` points."""

    scale: float
    rotation: np.ndarray
    shift: np.ndarray

    def __call__(self, point: np.ndarray) -> np.ndarray:
        return self.scale * (self.rotation @ point) + self.shift

    def anchored(self, source: np.ndarray, target: np.ndarray) -> "_Similarity":
        """The same scale and rotation, shifted so that ``source`` goes to ``target``."""
        return _Similarity(self.scale, self.rotation, target - self.scale * (self.rotation @ source))


def _similarity(a0: np.ndarray, a1: np.ndarray, b0: np.ndarray, b1: np.ndarray) -> _Similarity:
    """The similarity taking ``a0`` to ``b0`` and ``a1`` to ``b1``."""
    va, vb = a1 - a0, b1 - b0
    scale = float(np.linalg.norm(vb) / max(1e-6, np.linalg.norm(va)))
    angle = np.arctan2(vb[1], vb[0]) - np.arctan2(va[1], va[0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return _Similarity(scale, rotation, b0 - scale * (rotation @ a0))


def _rescaled(
    cutout: GarmentCutout, landmarks: GarmentLandmarks, factor: float
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The cut-out's rgb and alpha resized by ``factor``, and its landmarks as scaled ``(2,)`` arrays."""
    points = {name: np.array(value) * factor for name, value in vars(landmarks).items()}
    if factor >= 1.0:
        return cutout.rgb, cutout.alpha, points
    size = (max(1, round(cutout.rgb.shape[1] * factor)), max(1, round(cutout.rgb.shape[0] * factor)))
    rgb = cv2.resize(cutout.rgb, size, interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(cutout.alpha, size, interpolation=cv2.INTER_AREA)
    return rgb, alpha, points


def _split_pieces(
    alpha: np.ndarray, points: dict[str, np.ndarray], *, overlap: float = 0.02
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Split the garment's alpha into torso and sleeves at the side seams (vertical above each hem corner).

    Each sleeve reaches ``overlap`` (of the garment's width) into the torso, so the seam is covered
    where the separately warped layers meet.
    """
    width = alpha.shape[1]
    xs = np.arange(width, dtype=np.float32)[None, :]
    left_seam, right_seam = points["left_hem"][0], points["right_hem"][0]
    reach = overlap * width
    torso = alpha * ((xs >= left_seam) & (xs <= right_seam))
    sleeves = {
        "left": alpha * (xs < left_seam + reach),
        "right": alpha * (xs > right_seam - reach),
    }
    return torso.astype(np.float32), {side: piece.astype(np.float32) for side, piece in sleeves.items()}


@dataclass(frozen=True)
class _SleeveFit:
    """Garment-to-body point pairs for one sleeve, and the sleeve's outline on the body (``(N, 2)``)."""

    pairs: list[tuple[np.ndarray, np.ndarray]]
    outline: np.ndarray


def _fit_sleeve(
    points: dict[str, np.ndarray],
    targets: _TorsoTargets,
    frame: BodyFrame,
    side: str,
    scale: float,
    *,
    long_sleeve: float,
) -> _SleeveFit:
    """Where one sleeve goes: its armhole, then cross-sections along the arm.

    The sleeve's axis runs from the armhole's middle to the opening's middle. Cross-sections at a
    third, two thirds and the end of it go to the same fractions of the sleeve's length along the arm
    (armhole middle, elbow, wrist), their edges perpendicular to the arm, outer edge away from the body.
    """
    shoulder, armpit = points[f"{side}_shoulder"], points[f"{side}_armpit"]
    end = points[f"{side}_sleeve_end"]
    inner, outer = points[f"{side}_cuff_inner"], points[f"{side}_cuff_outer"]
    body_shoulder = getattr(targets, f"shoulder_{side}")
    body_armpit = getattr(targets, f"armpit_{side}")
    suffix = "l" if side == "left" else "r"
    arm = np.array([
        (body_shoulder + body_armpit) / 2.0,
        getattr(frame, f"elbow_{suffix}"),
        getattr(frame, f"wrist_{suffix}"),
    ])
    pairs = [(shoulder, body_shoulder), (armpit, body_armpit)]
    outer_edge, inner_edge = [body_shoulder], [body_armpit]
    root = (shoulder + armpit) / 2.0
    axis = end - root
    sleeve_length = float(np.linalg.norm(axis))
    if sleeve_length < 1.0:
        return _SleeveFit(pairs, np.array([body_shoulder, body_armpit]))
    garment_across = np.array([-axis[1], axis[0]]) / sleeve_length
    if (outer - end) @ garment_across < 0:
        garment_across = -garment_across
    arm_length = float(np.sum(np.linalg.norm(np.diff(arm, axis=0), axis=1)))
    body_length = scale * sleeve_length
    if body_length >= long_sleeve * arm_length:
        body_length = arm_length
    end_half = float(np.linalg.norm(outer - inner)) / 2.0
    # The armhole of a sleeve lying along the torso is parallel to the sleeve, not across it: it only
    # says the sleeve widens towards the shoulder, so it is capped.
    root_half = min(float(np.linalg.norm(shoulder - armpit)) / 2.0, 1.5 * end_half)
    width = frame.shoulder_width
    away = frame.across * (-1.0 if side == "left" else 1.0)
    for t in (1 / 3, 2 / 3, 1.0):
        garment_mid = root + t * axis
        garment_half = (1 - t) * root_half + t * end_half
        body_mid, direction = _along_polyline(arm, t * body_length)
        body_across = np.array([-direction[1], direction[0]])
        if body_across @ away < 0:
            body_across = -body_across
        # A sleeve holds the arm (which narrows from shoulder to wrist), loosely but not like a wing.
        arm_half = width * (0.15 - 0.07 * min(1.0, t * body_length / max(1e-6, arm_length)))
        body_half = float(np.clip(scale * garment_half, 1.1 * arm_half, 1.35 * arm_half))
        body_inner, body_outer = body_mid - body_across * body_half, body_mid + body_across * body_half
        if t == 1.0:
            pairs += [(end, body_mid), (inner, body_inner), (outer, body_outer)]
        else:
            pairs += [
                (garment_mid, body_mid),
                (garment_mid - garment_across * garment_half, body_inner),
                (garment_mid + garment_across * garment_half, body_outer),
            ]
        outer_edge.append(body_outer)
        inner_edge.append(body_inner)
    return _SleeveFit(pairs, np.array(outer_edge + inner_edge[::-1]))


def _along_polyline(polyline: np.ndarray, distance: float) -> tuple[np.ndarray, np.ndarray]:
    """The point ``distance`` along ``(N, 2)`` ``polyline`` (clamped to it) and the unit direction there."""
    for start, stop in zip(polyline[:-1], polyline[1:]):
        segment = stop - start
        length = float(np.linalg.norm(segment))
        if length < 1e-6:
            continue
        direction = segment / length
        if distance <= length or stop is polyline[-1]:
            return start + direction * min(distance, length), direction
        distance -= length
    return polyline[-1], np.array([0.0, 1.0])


@dataclass(frozen=True)
class _Layer:
    """One warped piece, in the photo's window at ``(top, left)``.

    ``maps`` is ``hxwx2`` float32: the garment pixel ``(x, y)`` each photo pixel shows; ``alpha`` is
    ``hxw`` float32 in [0, 1], the piece's coverage there.
    """

    top: int
    left: int
    maps: np.ndarray
    alpha: np.ndarray

    def clipped(self, limit: np.ndarray) -> "_Layer":
        """This layer with its alpha multiplied by the photo-sized ``limit`` (float32 in [0, 1])."""
        h, w = self.alpha.shape
        window = limit[self.top : self.top + h, self.left : self.left + w]
        return _Layer(self.top, self.left, self.maps, self.alpha * window)


def _warp_layer(
    piece_alpha: np.ndarray,
    pairs: list[tuple[np.ndarray, np.ndarray]],
    size: tuple[int, int],
    grid_step: int,
) -> _Layer:
    """Warp one garment piece so each pair's garment point lands on its body point.

    The spline maps photo pixels back to garment pixels (what ``cv2.remap`` needs); it is solved once,
    evaluated every ``grid_step`` pixels over the box around the body points, and interpolated.
    """
    garment_points = np.array([g for g, _ in pairs], float)
    body_points = np.array([b for _, b in pairs], float)
    spread = float(np.ptp(body_points, axis=0).max())
    top, left, bottom, right = _box(body_points, 0.2 * spread, size)
    spline = _ThinPlateSpline.fit(body_points, garment_points)
    ys = np.arange(top, bottom + grid_step, grid_step, dtype=float)
    xs = np.arange(left, right + grid_step, grid_step, dtype=float)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    coarse = spline(grid).reshape(len(ys), len(xs), 2)
    maps = _upsample(coarse, grid_step, bottom - top, right - left)
    alpha = cv2.remap(piece_alpha, maps[..., 0], maps[..., 1], cv2.INTER_LINEAR, borderValue=0)
    return _Layer(top, left, maps, alpha)


def _box(points: np.ndarray, margin: float, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """``(top, left, bottom, right)`` around ``points`` with ``margin``, clipped to ``size``; never empty."""
    height, width = size
    left = int(np.clip(points[:, 0].min() - margin, 0, width - 1))
    right = int(np.clip(points[:, 0].max() + margin, left + 1, width))
    top = int(np.clip(points[:, 1].min() - margin, 0, height - 1))
    bottom = int(np.clip(points[:, 1].max() + margin, top + 1, height))
    return top, left, bottom, right


@dataclass(frozen=True)
class _ThinPlateSpline:
    """A 2-D thin-plate spline through control points, with a little smoothing for stability."""

    controls: np.ndarray  # (N, 2), normalised
    weights: np.ndarray  # (N + 3, 2)
    centre: np.ndarray
    unit: float

    @staticmethod
    def fit(source: np.ndarray, target: np.ndarray, smoothing: float = 1e-3) -> "_ThinPlateSpline":
        centre = source.mean(axis=0)
        unit = max(1.0, float(np.ptp(source, axis=0).max()))
        controls = (source - centre) / unit
        count = len(controls)
        affine = np.hstack([np.ones((count, 1)), controls])
        system = np.zeros((count + 3, count + 3))
        system[:count, :count] = _kernel(controls, controls) + smoothing * np.eye(count)
        system[:count, count:] = affine
        system[count:, :count] = affine.T
        values = np.vstack([target, np.zeros((3, 2))])
        weights = np.linalg.lstsq(system, values, rcond=None)[0]
        return _ThinPlateSpline(controls, weights, centre, unit)

    def __call__(self, points: np.ndarray) -> np.ndarray:
        normalised = (points - self.centre) / self.unit
        count = len(self.controls)
        affine = np.hstack([np.ones((len(points), 1)), normalised])
        return _kernel(normalised, self.controls) @ self.weights[:count] + affine @ self.weights[count:]


def _kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The thin-plate kernel ``r^2 log r^2`` between every point of ``a`` and of ``b``."""
    squared = np.sum((a[:, None, :] - b[None, :, :]) ** 2, axis=-1)
    return squared * np.log(np.maximum(squared, 1e-12))


def _upsample(coarse: np.ndarray, step: int, height: int, width: int) -> np.ndarray:
    """Bilinear interpolation of a grid sampled every ``step`` pixels to ``height x width`` float32.

    Done with two interpolation matrices, which keeps grid sample ``k`` exactly at pixel ``k * step``
    (``cv2.resize`` would shift it by up to half a cell).
    """

    def weights(length: int, samples: int) -> np.ndarray:
        position = np.arange(length) / step
        lower = np.minimum(position.astype(int), samples - 2)
        frac = position - lower
        matrix = np.zeros((length, samples))
        matrix[np.arange(length), lower] = 1 - frac
        matrix[np.arange(length), lower + 1] = frac
        return matrix

    rows, cols = weights(height, coarse.shape[0]), weights(width, coarse.shape[1])
    channels = [rows @ coarse[..., c] @ cols.T for c in range(coarse.shape[2])]
    return np.stack(channels, axis=-1).astype(np.float32)


def _widened(body: Mask, margin: float) -> np.ndarray:
    """``hxw`` float32 in [0, 1]: the body silhouette grown by ``margin`` pixels, with a soft edge.

    Computed at quarter resolution: the result is a soft limit, not an outline to follow exactly.
    """
    height, width = body.shape
    small_size = (max(1, width // 4), max(1, height // 4))
    small = cv2.resize(body.astype(np.uint8), small_size, interpolation=cv2.INTER_AREA)
    radius = max(1, round(margin / 4))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    grown = cv2.GaussianBlur(cv2.dilate(small, kernel).astype(np.float32), (0, 0), 1.0)
    return cv2.resize(grown, (width, height), interpolation=cv2.INTER_LINEAR)


def _composite(
    rgb: np.ndarray, layers: list[_Layer], size: tuple[int, int], sleeve_outlines: list[np.ndarray]
) -> WarpedGarment:
    """Draw the layers in order (torso, then sleeves) into full-size rgb, alpha and sleeve alpha.

    Each photo pixel samples the garment once, through the map of the layer that contributes most
    there; alphas combine as "over". One remap of the colour replaces one per layer. The sleeve alpha
    also counts garment inside the sleeves' outlines on the body (``(N, 2)`` polygons): where a flat
    sleeve lay on the torso, the torso layer may fill part of the sleeve.
    """
    top = min(layer.top for layer in layers)
    left = min(layer.left for layer in layers)
    bottom = max(layer.top + layer.alpha.shape[0] for layer in layers)
    right = max(layer.left + layer.alpha.shape[1] for layer in layers)
    box = (slice(top, bottom), slice(left, right))
    maps = np.full((bottom - top, right - left, 2), -1.0, np.float32)
    alpha = np.zeros((bottom - top, right - left), np.float32)
    sleeve_alpha = np.zeros_like(alpha)
    for index, layer in enumerate(layers):
        h, w = layer.alpha.shape
        window = box_slices((layer.top - top, layer.left - left, layer.top - top + h, layer.left - left + w))
        a, below = layer.alpha, alpha[window]
        wins = a >= below * (1 - a)
        maps[window][wins] = layer.maps[wins]
        alpha[window] = a + below * (1 - a)
        if index > 0:
            sleeve_alpha[window] = a + sleeve_alpha[window] * (1 - a)
    inside = np.zeros_like(alpha, np.uint8)
    for outline in sleeve_outlines:
        cv2.fillPoly(inside, [np.round(outline - (left, top)).astype(np.int32)], 1)
    sleeve_alpha = np.maximum(sleeve_alpha, alpha * inside)
    full_rgb = np.zeros((*size, 3), np.uint8)
    full_alpha = np.zeros(size, np.float32)
    full_sleeves = np.zeros(size, np.float32)
    full_rgb[box] = cv2.remap(
        rgb, maps[..., 0], maps[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    full_alpha[box], full_sleeves[box] = np.minimum(alpha, 1.0), np.minimum(sleeve_alpha, 1.0)
    return WarpedGarment(rgb=full_rgb, alpha=full_alpha, sleeve_alpha=full_sleeves)


def _torso_band(
    targets: _TorsoTargets, frame: BodyFrame, size: tuple[int, int], *, margin: float = 0.06
) -> np.ndarray:
    """``HxW`` float32 in [0, 1]: the body between the arms, from the shoulders down, soft-edged.

    Its sides run from the outer shoulders to the hem corners, ``margin`` shoulder widths further out.
    """
    width = frame.shoulder_width
    out = frame.across * margin * width
    reach = frame.down * 2.0 * width  # far past the hem: the band limits the sides only
    polygon = np.array([
        targets.shoulder_left - out - frame.down * width,
        targets.shoulder_right + out - frame.down * width,
        targets.hem_right + out + reach,
        targets.hem_left - out + reach,
    ])
    band = np.zeros(size, np.float32)
    cv2.fillConvexPoly(band, np.round(polygon).astype(np.int32), 1.0)
    return cv2.GaussianBlur(band, (0, 0), max(1.0, 0.02 * width))
