"""Inpainting step: repaint the old garment's zone where the new garment will not cover it.

Body zones come from the pose (in the photo's pixels) and the person's own skin colour, sampled from
the face: a pixel already showing skin is never repainted, hands are found by skin colour near the
wrists, and bare arms, neck and legs are repainted in that skin colour with the photo's broad shading.
The zone itself is found in ``clothing.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ....vision.masks import box_slices, fill_holes, mask_bounds
from .types import BodyPose, Category, Mask, RGBImage
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
    def looks_like_skin(self) -> bool:
        """Skin of any tone is a warm colour (hue between red and yellow) with some saturation.

        Pose models happily find a "face" above the collar of a garment's product shot; the colour
        there (background, fabric) is what tells such a photo from a person's.
        """
        a, b = float(self.lab[1]) - 128, float(self.lab[2]) - 128
        return np.hypot(a, b) >= 5 and 5 <= np.degrees(np.arctan2(b, a)) <= 100

    @property
    def rgb(self) -> np.ndarray:
        """``(3,)`` float32 RGB in 0..255."""
        pixel = np.clip(self.lab, 0, 255).astype(np.uint8).reshape(1, 1, 3)
        return cv2.cvtColor(pixel, cv2.COLOR_LAB2RGB).reshape(3).astype(np.float32)


@dataclass(frozen=True)
class BodyZones:
    """Where things are on the person, all ``HxW`` bool masks in the photo's pixels.

    ``protected``: face, head and hair, hands, and feet for garments reaching the ankles; never painted
    over. ``skin``: pixels already showing the person's skin. ``bare_skin``: where bare arms and neck
    (tops, dresses) or legs (trousers, dresses) would be, were the clothes not there. ``front_limbs``:
    limbs seen in front of the new garment where it does not cover them: for tops, the arms from below
    the shoulder (the neck shows through the garment's neck opening, and a collar covers it); for
    trousers, the arms beside the hips. ``hands``: the hands (part of ``protected``), None when unknown.
    """

    protected: Mask
    skin: Mask
    bare_skin: Mask
    front_limbs: Mask
    hands: Mask | None = None


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
    person: RGBImage,
    person_mask: Mask,
    pose: BodyPose,
    tone: SkinTone,
    category: Category,
    *,
    hand_tolerance: float = 7.0,
) -> BodyZones:
    """Face/head, hands, feet, skin and bare-limb zones of the person in ``person`` (``HxWx3`` uint8 RGB)
    for a garment of ``category`` (not ``AUTO``).

    ``person_mask`` is ``HxW`` bool, True on the person. The head is the face ellipse and everything
    above the mouth: below the mouth, a hood or collar behind the neck is left to the clothing zone.
    Each hand is the region around the hand's landmarks, beyond the wrist, whose chroma is within
    ``hand_tolerance`` of the hand's own colour (sampled on the knuckles: hands are redder than faces)
    and that is connected to those landmarks, so neither a sleeve's cuff nor trousers beside the hand
    count as hand.
    """
    frame = body_frame(pose)
    shape = person_mask.shape
    lab = cv2.cvtColor(person, cv2.COLOR_RGB2LAB)
    skin = _clean(skin_mask(person, tone) & person_mask)
    head = (_face_ellipse(pose, shape) | _above_mouth(pose, frame, shape)) & person_mask
    hands = np.zeros_like(person_mask)
    for wrist in _HANDS:
        hands |= _hand(lab, person_mask, pose, wrist, frame.shoulder_width, hand_tolerance)
    protected = head | hands
    upper = category is not Category.LOWER_BODY
    lower = category is not Category.UPPER_BODY
    neck = neck_zone(frame, pose, shape)
    bare_skin = np.zeros(shape, bool)
    if upper:
        bare_skin |= _arms_zone(frame, shape, start=0.0) | neck
    if lower:
        bare_skin |= _legs_zone(frame, shape)
        protected |= _feet(frame, shape) & person_mask
    front_limbs = _arms_zone(frame, shape, start=0.6 if upper else 0.3)
    return BodyZones(
        protected=protected, skin=skin, bare_skin=bare_skin & ~protected, front_limbs=front_limbs, hands=hands
    )


def limb_skin_tone(
    person: RGBImage, hands: Mask | None, face: SkinTone, *, min_pixels: int = 200, chroma_tolerance: float = 12.0
) -> SkinTone:
    """The colour to paint bared limbs in: halfway between the face's ``face`` tone and the hands'.

    The face is lit from the front and often lighter and yellower than arms and legs; hands are
    redder. ``hands`` (``HxW`` bool) pixels within ``chroma_tolerance`` of the face's chroma are the
    hands' samples (not a cuff or a shadow); with fewer than ``min_pixels`` of them, the face decides.
    """
    if hands is None or hands.sum() < min_pixels:
        return face
    window = box_slices(mask_bounds(hands))
    lab = cv2.cvtColor(person[window], cv2.COLOR_RGB2LAB).astype(np.float32)[hands[window]]
    near = np.hypot(lab[:, 1] - face.lab[1], lab[:, 2] - face.lab[2]) < chroma_tolerance
    if near.sum() < min_pixels:
        return face
    return SkinTone(((np.median(lab[near], axis=0) + face.lab) / 2).astype(np.float32))


def _clean(mask: Mask) -> Mask:
    """``mask`` without specks (shaded fabric can match skin here and there; skin comes in areas)."""
    return cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((5, 5), np.uint8)).astype(bool)


def fill_agnostic(
    person: RGBImage,
    region: Mask,
    *,
    bare_skin: Mask,
    tone: SkinTone,
    from_below: Mask | None = None,
    work_scale: float = 0.25,
    shading_sigma: float = 0.02,
    edge_px: float = 1.2,
) -> RGBImage:
    """Repaint ``region`` of ``person`` (``HxWx3`` uint8 RGB) so no old garment shows there.

    ``region``, ``bare_skin`` and ``from_below`` are ``HxW`` bool. Where ``region`` and ``bare_skin``
    are True (bare arms, neck, legs), the person's skin ``tone`` is painted, shaded by the photo's own
    lightness blurred over ``shading_sigma`` of the photo's height (low frequencies only, so the old
    garment's seams and prints do not show) and darkened towards the limb's edges to look round. Where
    ``from_below`` is True (an old hem longer than the new one), each column continues what lies below
    the region (the trousers, the backdrop beside them), as a long top hides what is under it. The rest
    of ``region`` is inpainted from its surroundings (usually background). All of it is computed at
    ``work_scale`` of the resolution, but for the bare limbs' outline, soft over ``edge_px`` pixels at
    full resolution. Pixels outside ``region`` are unchanged.
    """
    out = person.copy()
    if not region.any():
        return out
    top, left, bottom, right = mask_bounds(region, margin=round(8 / work_scale))
    window = box_slices((top, left, bottom, right))
    full_size = (right - left, bottom - top)
    small_size = (max(1, round(full_size[0] * work_scale)), max(1, round(full_size[1] * work_scale)))

    def small(mask: Mask) -> Mask:
        return cv2.resize(mask[window].astype(np.uint8), small_size, interpolation=cv2.INTER_AREA) > 0

    image = cv2.resize(person[window], small_size, interpolation=cv2.INTER_AREA)
    small_region, small_skin = small(region), small(bare_skin)
    hole = cv2.dilate(small_region.astype(np.uint8), np.ones((3, 3), np.uint8))
    painted = cv2.inpaint(image, hole, 3, cv2.INPAINT_TELEA).astype(np.float32)
    if from_below is not None:
        below = small(from_below) & small_region
        continued, found = _continue_from_below(image, hole.astype(bool))
        painted = np.where((below & found)[..., None], continued, painted)
    skin = _shaded_skin(image, small_region & small_skin, tone, shading_sigma * person.shape[0] * work_scale)
    painted = cv2.resize(painted, full_size, interpolation=cv2.INTER_LINEAR)
    skin = cv2.resize(skin, full_size, interpolation=cv2.INTER_LINEAR)
    # The limb's outline at full resolution, softened over a pixel or two like a photographed edge.
    weight = cv2.GaussianBlur(bare_skin[window].astype(np.float32), (0, 0), edge_px)[..., None]
    painted = painted * (1 - weight) + skin * weight
    crop_region = region[window]
    out[window][crop_region] = np.clip(painted[crop_region], 0, 255).astype(np.uint8)
    return out


def _continue_from_below(image: np.ndarray, hole: Mask) -> tuple[np.ndarray, Mask]:
    """``hxwx3`` float32: each hole pixel takes the first non-hole pixel below it in its column,
    softened across columns; and ``hxw`` bool, True where there is such a pixel."""
    height = hole.shape[0]
    rows = np.where(~hole, np.arange(height)[:, None], height)
    source = np.minimum.accumulate(rows[::-1], axis=0)[::-1]
    found = source < height
    columns = np.broadcast_to(np.arange(hole.shape[1]), hole.shape)
    continued = image[np.minimum(source, height - 1), columns].astype(np.float32)
    continued = cv2.GaussianBlur(continued, (0, 0), sigmaX=1.5, sigmaY=0.5)
    return continued, found


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


def _above_mouth(pose: BodyPose, frame: BodyFrame, shape: tuple[int, int]) -> Mask:
    """Everything above the line through the mouth, parallel to the shoulders (head, hair)."""
    up = -frame.down
    origin = pose.points[list(_MOUTH)].astype(float).mean(axis=0)
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]]
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
    zone = np.zeros(shape, bool)
    big = 4.0 * float(max(shape))
    for shoulder, elbow, wrist in (
        (frame.shoulder_l, frame.elbow_l, frame.wrist_l),
        (frame.shoulder_r, frame.elbow_r, frame.wrist_r),
    ):
        arm = np.zeros(shape, np.uint8)
        top = shoulder + start * (elbow - shoulder)
        capsule(arm, top, elbow, (0.14 - 0.03 * start) * width, 0.11 * width)
        capsule(arm, elbow, wrist, 0.11 * width, 0.08 * width)
        # Not the round cap above the joint: over the shoulder a top's fabric ends, and what it does not
        # cover there is background, not skin.
        along = (elbow - top) / max(1e-6, float(np.linalg.norm(elbow - top)))
        side = np.array([-along[1], along[0]])
        above = np.array([top + side * big, top + side * big - along * big, top - side * big - along * big, top - side * big])
        cv2.fillConvexPoly(arm, np.round(above).astype(np.int32), 0)
        zone |= arm.astype(bool)
    return zone


def _legs_zone(frame: BodyFrame, shape: tuple[int, int]) -> Mask:
    """Where bare legs would be: capsules around the bones from below the crotch to the ankles, tapering."""
    hip_width = frame.hip_width
    zone = np.zeros(shape, np.uint8)
    for hip, knee, ankle in ((frame.hip_l, frame.knee_l, frame.ankle_l), (frame.hip_r, frame.knee_r, frame.ankle_r)):
        capsule(zone, hip + 0.3 * (knee - hip), knee, 0.3 * hip_width, 0.22 * hip_width)
        capsule(zone, knee, ankle, 0.22 * hip_width, 0.15 * hip_width)
    return zone.astype(bool)


def _feet(frame: BodyFrame, shape: tuple[int, int], *, below: float = 0.1, half: float = 0.7) -> Mask:
    """Everything ``below`` hip-joint distances under each ankle, within ``half`` of them to its sides."""
    hip_width = frame.hip_width
    feet = np.zeros(shape, bool)
    for ankle in (frame.ankle_l, frame.ankle_r):
        top = max(0, round(ankle[1] + below * hip_width))
        left, right = max(0, round(ankle[0] - half * hip_width)), max(0, round(ankle[0] + half * hip_width))
        feet[top:, left:right] = True
    return feet


def neck_zone(frame: BodyFrame, pose: BodyPose, shape: tuple[int, int]) -> Mask:
    """``HxW`` bool: the neck, a capsule from the chin down past the shoulder line to where the
    deepest usual neckline (a crew neck's front) ends; a new top covers all of it but its opening."""
    points = pose.points.astype(float)
    ear_distance = float(np.linalg.norm(points[_EARS[0]] - points[_EARS[1]]))
    chin = points[_NOSE] + frame.down * 0.8 * ear_distance
    neck_base = frame.shoulder_mid + frame.down * 0.2 * frame.shoulder_width
    zone = np.zeros(shape, np.uint8)
    radius = 0.16 * frame.shoulder_width
    capsule(zone, chin, neck_base, radius, radius)
    return zone.astype(bool)


def capsule(canvas: np.ndarray, start: np.ndarray, stop: np.ndarray, r0: float, r1: float) -> None:
    """Draw a tapered capsule from ``start`` (radius ``r0``) to ``stop`` (radius ``r1``) into ``canvas``."""
    direction = stop - start
    length = float(np.linalg.norm(direction))
    normal = np.array([-direction[1], direction[0]]) / max(1e-6, length)
    polygon = np.array([start + normal * r0, stop + normal * r1, stop - normal * r1, start - normal * r0])
    cv2.fillConvexPoly(canvas, np.round(polygon).astype(np.int32), 1)
    for centre, radius in ((start, r0), (stop, r1)):
        cv2.circle(canvas, tuple(int(v) for v in np.round(centre)), max(1, round(radius)), 1, -1)
