"""Inpainting step: find the old upper-body garment and repaint what the new one will not cover.

Body zones come from the pose (in the photo's pixels) and the person's own skin colour, sampled from
the face: a pixel already showing skin is never repainted, hands are found by skin colour near the
wrists, and bare arms and neck are repainted in that skin colour with the photo's broad shading.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .masks import box_slices, fill_holes, mask_bounds
from .types import BodyPose, Mask, RGBImage
from .warp import BodyFrame, body_frame

# mediapipe Pose face indices.
_NOSE, _EYES, _EYES_OUTER, _EARS, _MOUTH = 0, (2, 5), (3, 6), (7, 8), (9, 10)
# Hand points per wrist index: wrist, pinky, index, thumb.
_HANDS = {15: (15, 17, 19, 21), 16: (16, 18, 20, 22)}


@dataclass(frozen=True)
class SkinTone:
    """The person's skin colour: ``lab`` ``(3,)`` float32, OpenCV 8-bit Lab (L, a, b in 0..255)."""

    lab: np.ndarray

    @property
    def rgb(self) -> np.ndarray:
        """``(3,)`` float32 RGB in 0..255."""
        pixel = np.clip(self.lab, 0, 255).astype(np.uint8).reshape(1, 1, 3)
        return cv2.cvtColor(pixel, cv2.COLOR_LAB2RGB).reshape(3).astype(np.float32)


@dataclass(frozen=True)
class BodyZones:
    """Where things are on the person, all ``HxW`` bool masks in the photo's pixels.

    ``protected``: face, head and hair, hands; never painted over. ``skin``: pixels already showing the
    person's skin. ``bare_skin``: where bare arms and neck would be, were the clothes not there.
    ``front_limbs``: the part of ``bare_skin`` seen in front of a garment's torso (the neck, and the
    arms from below the shoulder), where no sleeve covers it.
    """

    protected: Mask
    skin: Mask
    bare_skin: Mask
    front_limbs: Mask


def sample_skin_tone(person: RGBImage, pose: BodyPose) -> SkinTone:
    """The skin colour of the face: forehead and upper cheeks, skipping beard, brows and highlights.

    ``person`` is ``HxWx3`` uint8 RGB; ``pose`` must have face landmarks in the photo.
    """
    points = pose.points.astype(float)
    eyes = points[list(_EYES)].mean(axis=0)
    mouth = points[list(_MOUTH)].mean(axis=0)
    face_height = float(np.linalg.norm(mouth - eyes))
    radius = max(2, round(0.25 * face_height))
    centres = [eyes + (eyes - mouth) * 0.9]  # forehead
    for outer in _EYES_OUTER:  # upper cheeks, under the outer eye corners, a little inwards
        centres.append(points[outer] + (mouth - eyes) * 0.4 + (points[_NOSE] - points[outer]) * 0.2)
    lab = cv2.cvtColor(person, cv2.COLOR_RGB2LAB)
    samples = np.concatenate([_patch(lab, centre, radius) for centre in centres])
    lightness = samples[:, 0].astype(float)
    low, high = np.percentile(lightness, [25, 90])
    chosen = samples[(lightness >= low) & (lightness <= high)]
    return SkinTone(np.median(chosen if len(chosen) else samples, axis=0).astype(np.float32))


def _patch(image: np.ndarray, centre: np.ndarray, radius: int) -> np.ndarray:
    """``(N, C)`` pixels of the square of ``radius`` around ``centre``, clipped to the image."""
    x, y = round(centre[0]), round(centre[1])
    height, width = image.shape[:2]
    rows = slice(max(0, y - radius), min(height, y + radius + 1))
    cols = slice(max(0, x - radius), min(width, x + radius + 1))
    block = image[rows, cols]
    return block.reshape(-1, image.shape[2])


def skin_mask(person: RGBImage, tone: SkinTone, *, chroma_tolerance: float = 5.0) -> Mask:
    """``HxW`` bool, True where ``person`` (``HxWx3`` uint8 RGB) shows skin of this ``tone``.

    Chroma (Lab a, b) decides, within ``chroma_tolerance``; lightness may vary widely with shading,
    but not down to near-black or up to paper-white. The default is strict because beige and camel
    garments sit close to skin; skin it misses in the clothing zone is repainted as skin anyway.
    """
    lab = cv2.cvtColor(person, cv2.COLOR_RGB2LAB).astype(np.float32)
    chroma = np.hypot(lab[..., 1] - tone.lab[1], lab[..., 2] - tone.lab[2])
    lightness = lab[..., 0]
    lit = (lightness > 0.35 * tone.lab[0]) & (lightness < min(250.0, tone.lab[0] + 45))
    return (chroma < chroma_tolerance) & lit


def body_zones(
    person: RGBImage, person_mask: Mask, pose: BodyPose, tone: SkinTone, *, hand_tolerance: float = 7.0
) -> BodyZones:
    """Face/head, hands, skin and bare-limb zones of the person in ``person`` (``HxWx3`` uint8 RGB).

    ``person_mask`` is ``HxW`` bool, True on the person. Each hand is the region around the hand's
    landmarks, beyond the wrist, whose chroma is within ``hand_tolerance`` of the hand's own colour
    (sampled on the knuckles: hands are redder than faces) and that is connected to those landmarks,
    so neither a sleeve's cuff nor trousers beside the hand count as hand.
    """
    frame = body_frame(pose)
    lab = cv2.cvtColor(person, cv2.COLOR_RGB2LAB)
    skin = _clean(skin_mask(person, tone) & person_mask)
    head = (_face_ellipse(pose, person_mask.shape) | _above_collar(frame, person_mask.shape)) & person_mask
    hands = np.zeros_like(person_mask)
    for wrist in _HANDS:
        hands |= _hand(lab, person_mask, pose, wrist, frame.shoulder_width, hand_tolerance)
    shape = person_mask.shape
    neck = _neck_zone(frame, pose, shape)
    return BodyZones(
        protected=head | hands,
        skin=skin,
        bare_skin=_arms_zone(frame, shape, start=0.0) | neck,
        front_limbs=_arms_zone(frame, shape, start=0.6) | neck,
    )


def _clean(mask: Mask) -> Mask:
    """``mask`` without specks (shaded fabric can match skin here and there; skin comes in areas)."""
    return cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((5, 5), np.uint8)).astype(bool)


def agnostic_mask(
    person_mask: Mask,
    pose: BodyPose,
    zones: BodyZones,
    *,
    arm_radius: float = 0.26,
    below_hips: float = 0.08,
) -> Mask:
    """``HxW`` bool, True where the old upper-body garment may be: the region to repaint.

    The torso from above the shoulders to ``below_hips`` (of the torso's length) below the hips, and
    each arm within ``arm_radius`` shoulder widths of its bones, inside the silhouette
    (``person_mask``, True on the person); never protected pixels (face, head, hands) or skin.
    """
    frame = body_frame(pose)
    height, width = person_mask.shape
    width_unit = frame.shoulder_width
    torso_length = float(np.linalg.norm(frame.hip_mid - frame.shoulder_mid))
    half_hips = max(0.9 * float(np.linalg.norm(frame.hip_r - frame.hip_l)), 0.45 * width_unit)
    up, across = -frame.down, frame.across
    polygon = np.array([
        frame.shoulder_l - across * 0.3 * width_unit + up * 0.3 * width_unit,
        frame.shoulder_r + across * 0.3 * width_unit + up * 0.3 * width_unit,
        frame.hip_mid + across * (half_hips + 0.25 * width_unit) - up * below_hips * torso_length,
        frame.hip_mid - across * (half_hips + 0.25 * width_unit) - up * below_hips * torso_length,
    ])
    zone = np.zeros((height, width), np.uint8)
    cv2.fillConvexPoly(zone, np.round(polygon).astype(np.int32), 1)
    radius = max(1, round(arm_radius * width_unit))
    for shoulder, elbow, wrist in (
        (frame.shoulder_l, frame.elbow_l, frame.wrist_l),
        (frame.shoulder_r, frame.elbow_r, frame.wrist_r),
    ):
        cv2.polylines(zone, [np.round([shoulder, elbow, wrist]).astype(np.int32)], False, 1, 2 * radius)
    return zone.astype(bool) & person_mask & ~zones.protected & ~zones.skin


def fill_agnostic(
    person: RGBImage,
    region: Mask,
    *,
    bare_skin: Mask,
    tone: SkinTone,
    work_scale: float = 0.25,
    shading_sigma: float = 0.02,
) -> RGBImage:
    """Repaint ``region`` of ``person`` (``HxWx3`` uint8 RGB) so no old garment shows there.

    ``region`` and ``bare_skin`` are ``HxW`` bool. Where both are True (bare arms, neck), the person's
    skin ``tone`` is painted, shaded by the photo's own lightness blurred over ``shading_sigma`` of the
    photo's height (low frequencies only, so the old garment's seams and prints do not show) and
    darkened towards the limb's edges to look round. The rest of ``region`` is inpainted from its
    surroundings (usually background) at ``work_scale`` of the resolution. Pixels outside ``region``
    are unchanged.
    """
    out = person.copy()
    if not region.any():
        return out
    top, left, bottom, right = mask_bounds(region, margin=round(8 / work_scale))
    window = box_slices((top, left, bottom, right))
    crop, crop_region, crop_skin = person[window], region[window], bare_skin[window]
    full_size = (right - left, bottom - top)
    small_size = (max(1, round(full_size[0] * work_scale)), max(1, round(full_size[1] * work_scale)))
    small = cv2.resize(crop, small_size, interpolation=cv2.INTER_AREA)
    small_region = cv2.resize(crop_region.astype(np.uint8), small_size, interpolation=cv2.INTER_AREA) > 0
    small_skin = cv2.resize(crop_skin.astype(np.uint8), small_size, interpolation=cv2.INTER_AREA) > 0
    hole = cv2.dilate(small_region.astype(np.uint8), np.ones((3, 3), np.uint8))
    painted = cv2.inpaint(small, hole, 3, cv2.INPAINT_TELEA).astype(np.float32)
    skin = _shaded_skin(small, small_region & small_skin, tone, shading_sigma * person.shape[0] * work_scale)
    weight = cv2.GaussianBlur(small_skin.astype(np.float32), (0, 0), 1.0)[..., None]
    painted = painted * (1 - weight) + skin * weight
    painted = cv2.resize(painted, full_size, interpolation=cv2.INTER_LINEAR)
    out[window][crop_region] = np.clip(painted[crop_region], 0, 255).astype(np.uint8)
    return out


def _shaded_skin(image: np.ndarray, zone: Mask, tone: SkinTone, sigma: float) -> np.ndarray:
    """``hxwx3`` float32 RGB: the skin tone shaded like ``image`` (uint8 RGB) is, broadly, in ``zone``.

    Shading is the photo's blurred lightness relative to its median over the zone, limited so a dark
    old garment cannot make the skin black; a limb also darkens towards its edges.
    """
    lightness = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32)
    weights = cv2.GaussianBlur(zone.astype(np.float32), (0, 0), sigma)
    blurred = cv2.GaussianBlur(lightness * zone, (0, 0), sigma) / np.maximum(weights, 1e-3)
    reference = float(np.median(blurred[zone])) if zone.any() else 1.0
    shading = np.clip(blurred / max(reference, 1.0), 0.8, 1.15)
    depth = cv2.distanceTransform(zone.astype(np.uint8), cv2.DIST_L2, 3)
    depth_scale = max(1.0, float(np.percentile(depth[zone], 90))) if zone.any() else 1.0
    roundness = 0.82 + 0.18 * np.sqrt(np.clip(depth / depth_scale, 0, 1))
    return tone.rgb[None, None, :] * (shading * roundness)[..., None]


def _face_ellipse(pose: BodyPose, shape: tuple[int, int]) -> Mask:
    """The face from forehead to chin: an ellipse around the nose sized by the distance of the ears."""
    points = pose.points.astype(float)
    ear_distance = float(np.linalg.norm(points[_EARS[0]] - points[_EARS[1]]))
    mask = np.zeros(shape, np.uint8)
    centre = tuple(int(v) for v in np.round(points[_NOSE]))
    axes = (max(1, round(0.65 * ear_distance)), max(1, round(0.95 * ear_distance)))
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 1, thickness=-1)
    return mask.astype(bool)


def _above_collar(frame: BodyFrame, shape: tuple[int, int], *, height: float = 0.3) -> Mask:
    """Everything above the line ``height`` shoulder widths above the shoulder joints (head, hair)."""
    up = -frame.down
    offset = up * height * frame.shoulder_width
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]]
    origin = frame.shoulder_mid + offset
    return ((xs - origin[0]) * up[0] + (ys - origin[1]) * up[1]) > 0


def _hand(
    lab: np.ndarray, person_mask: Mask, pose: BodyPose, wrist: int, shoulder_width: float, tolerance: float
) -> Mask:
    """One hand: pixels of the hand's own colour connected to its landmarks, beyond the wrist.

    ``lab`` is the photo in OpenCV 8-bit Lab. A cuff ending at the wrist is cut off by the wrist line
    and by colour; it is not protected just for being near the hand.
    """
    points = pose.points.astype(float)
    hand_points = points[list(_HANDS[wrist])]
    centre = hand_points.mean(axis=0)
    forearm = points[wrist] - points[wrist - 2]  # from the elbow
    forearm /= max(1e-6, float(np.linalg.norm(forearm)))
    radius = 0.4 * shoulder_width
    height, width = person_mask.shape
    top, left = max(0, int(centre[1] - radius)), max(0, int(centre[0] - radius))
    bottom, right = min(height, int(centre[1] + radius) + 1), min(width, int(centre[0] + radius) + 1)
    mask = np.zeros_like(person_mask)
    if bottom - top < 3 or right - left < 3:
        return mask
    window = lab[top:bottom, left:right].astype(np.float32)
    seeds = [(round(y) - top, round(x) - left) for x, y in hand_points[1:]]  # pinky, index, thumb
    seeds = [(y, x) for y, x in seeds if 0 <= y < bottom - top and 0 <= x < right - left]
    if not seeds:
        return mask
    samples = np.concatenate(
        [window[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3].reshape(-1, 3) for y, x in seeds]
    )
    hand_colour = np.median(samples, axis=0)
    ys, xs = np.mgrid[top:bottom, left:right]
    start = points[wrist] - forearm * 0.03 * shoulder_width
    beyond = (xs - start[0]) * forearm[0] + (ys - start[1]) * forearm[1] > 0
    near = (xs - centre[0]) ** 2 + (ys - centre[1]) ** 2 < radius**2
    chroma = np.hypot(window[..., 1] - hand_colour[1], window[..., 2] - hand_colour[2])
    coloured = (chroma < tolerance) & (np.abs(window[..., 0] - hand_colour[0]) < 50)
    candidate = (coloured & beyond & near & person_mask[top:bottom, left:right]).astype(np.uint8)
    candidate = cv2.morphologyEx(candidate, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    _, labels = cv2.connectedComponents(candidate)
    touched = {labels[y, x] for y, x in seeds} - {0}
    # Highlights and shadows between the fingers leave holes; a hand has none.
    mask[top:bottom, left:right] = fill_holes(np.isin(labels, list(touched)))
    return mask


def _arms_zone(frame: BodyFrame, shape: tuple[int, int], *, start: float) -> Mask:
    """Where bare arms would be: capsules around the bones from ``start`` of the way down the upper
    arm to the wrist, tapering from shoulder to wrist."""
    width = frame.shoulder_width
    zone = np.zeros(shape, np.uint8)
    for shoulder, elbow, wrist in (
        (frame.shoulder_l, frame.elbow_l, frame.wrist_l),
        (frame.shoulder_r, frame.elbow_r, frame.wrist_r),
    ):
        top = shoulder + start * (elbow - shoulder)
        _capsule(zone, top, elbow, (0.14 - 0.03 * start) * width, 0.11 * width)
        _capsule(zone, elbow, wrist, 0.11 * width, 0.08 * width)
    return zone.astype(bool)


def _neck_zone(frame: BodyFrame, pose: BodyPose, shape: tuple[int, int]) -> Mask:
    """Where the neck is: a capsule from the chin down to a little above the shoulder line."""
    points = pose.points.astype(float)
    ear_distance = float(np.linalg.norm(points[_EARS[0]] - points[_EARS[1]]))
    chin = points[_NOSE] + frame.down * 0.8 * ear_distance
    neck_base = frame.shoulder_mid - frame.down * 0.3 * frame.shoulder_width
    zone = np.zeros(shape, np.uint8)
    radius = 0.16 * frame.shoulder_width
    _capsule(zone, chin, neck_base, radius, radius)
    return zone.astype(bool)


def _capsule(canvas: np.ndarray, start: np.ndarray, stop: np.ndarray, r0: float, r1: float) -> None:
    """Draw a tapered capsule from ``start`` (radius ``r0``) to ``stop`` (radius ``r1``) into ``canvas``."""
    direction = stop - start
    length = float(np.linalg.norm(direction))
    normal = np.array([-direction[1], direction[0]]) / max(1e-6, length)
    polygon = np.array([start + normal * r0, stop + normal * r1, stop - normal * r1, start - normal * r0])
    cv2.fillConvexPoly(canvas, np.round(polygon).astype(np.int32), 1)
    for centre, radius in ((start, r0), (stop, r1)):
        cv2.circle(canvas, tuple(int(v) for v in np.round(centre)), max(1, round(radius)), 1, -1)
