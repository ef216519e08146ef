"""Where the old clothes are: the cloth-agnostic zone, from colour models of the clothing grown inside the body.

Geometry from the pose says where a garment surely is (the core: the torso between the shoulders and
hips, along the arm bones; or along the leg bones) and how far an old garment may reach (collars and
hoods behind the neck, long hems, wide sleeves and trouser legs). Colour decides in between: a colour
model of the old garment, sampled in the core, is compared with one of the clothing that stays (the
trousers under a top, the top over trousers, the hair). Pixels in reach that look more like the old
garment and connect to the core join the zone. Skin, face, hair and hands never do.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .inpainting import BodyZones, SkinTone, capsule, neck_zone, skin_mask
from ....vision.masks import box_slices, mask_bounds
from .types import BodyPose, Category, Mask, RGBImage
from .warp import BodyFrame, body_frame

# A colour model is a histogram over OpenCV 8-bit Lab: coarse lightness (shading varies it), finer chroma.
_BINS = (6, 12, 12)

# Under the mouth, half ellipses (depth in eye-to-mouth distances, half width in ear distances): the
# chin, and as far as a beard may reach. Below them hair hangs only beside the neck, farther than this
# many shoulder widths from the face's axis.
_CHIN = (0.9, 0.42)
_BEARD = (1.5, 0.6)
_NECK_HALF = 0.2


@dataclass(frozen=True)
class ClothingZones:
    """``HxW`` bool masks of the person photo.

    ``replace``: the cloth-agnostic zone, True where the old garment is (repainted, then covered by the
    new garment where it lands). ``front``: other clothing seen in front of the new garment (the hem of
    a top over new trousers, a sleeve hanging beside the hips), kept on top.
    """

    replace: Mask
    front: Mask


@dataclass(frozen=True)
class _Regions:
    """Geometric priors, ``HxW`` bool: ``core`` surely shows the old garment (where not skin or
    protected), ``reach`` is as far as it may extend, ``other`` shows clothing or hair that stays,
    ``likely`` is where the old garment almost surely is (the tops of the shoulders), so a colour that
    both models explain there (dark hair, a dark sweater) counts as the old garment."""

    core: Mask
    reach: Mask
    other: Mask
    likely: Mask


def clothing_zones(
    person: RGBImage,
    person_mask: Mask,
    pose: BodyPose,
    zones: BodyZones,
    category: Category,
    *,
    work_scale: float = 0.25,
    margin: float = 2.0,
    likely_margin: float = 30.0,
    edge_px: int = 2,
    band_px: int = 8,
    waist_up: float = 0.12,
    hem_depth: float = 0.15,
) -> ClothingZones:
    """The old garment's zone for a garment of ``category``, and the clothing that stays in front.

    ``person`` is ``HxWx3`` uint8 RGB; ``person_mask`` is ``HxW`` bool, True on the person; ``zones``
    from ``body_zones``. A pixel looks like the old garment when its model gives the pixel's colour more
    probability than the other clothing's model does, and like the other clothing (kept in front of new
    trousers) when that model gives ``margin`` times the old garment's probability. Where the old
    garment is likely (the tops of the shoulders), the other clothing must be ``likely_margin`` times
    more probable to keep a pixel out of the zone (hair hanging there keeps its own colour). Colour models and the growth run at ``work_scale`` of the resolution; the
    zone is then cut to the silhouette at full resolution, grown ``edge_px`` beyond it (the segmenter's
    edge sits a pixel or two inside the real one, which left thin strips of the old garment), and never
    touches skin or protected pixels (face, hair, hands, feet). For trousers, the top stays in front:
    what looks like it down to ``hem_depth`` torso lengths below the hips (and along the arms), and what
    looks like neither garment only above the new waistband, ``waist_up`` torso lengths above the hips.
    Within ``band_px`` of the zone, pixels
    whose colour the old garment's model explains better than the backdrop just outside the silhouette
    join it too (the segmenter misses the soft edges of sleeves and trouser legs against a bright window).
    """
    frame = body_frame(pose)
    height, width = person_mask.shape
    small_size = (max(1, round(width * work_scale)), max(1, round(height * work_scale)))
    lab = cv2.cvtColor(cv2.resize(person, small_size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2LAB)
    bins = _bins(lab)

    def small(mask: Mask) -> Mask:
        return cv2.resize(mask.astype(np.uint8), small_size, interpolation=cv2.INTER_NEAREST).astype(bool)

    usable = small(person_mask & ~zones.protected & ~zones.skin)
    regions = _regions(frame, pose, (height, width), category)
    core, reach, other = small(regions.core) & usable, small(regions.reach) & usable, small(regions.other)
    own_model = _model(bins, cv2.erode(core.astype(np.uint8), np.ones((3, 3))) > 0)
    own_likelihood = own_model[bins]
    other_likelihood = _model(bins, other & small(person_mask) & ~small(zones.skin))[bins]
    favour = np.where(small(regions.likely), likely_margin, 1.0)
    looks_old = _opened(own_likelihood * favour > np.maximum(other_likelihood, 1e-3))
    looks_other = _opened(other_likelihood > margin * own_likelihood)
    front_small = np.zeros_like(core)
    if category is Category.LOWER_BODY:
        # The top seen over the hips (its hem, its sleeves) stays in front of new trousers: what looks
        # like the top, and above the hips whatever does not look like the old trousers.
        # Below the new waistband only what looks like the top stays; below the top's longest usual hem
        # only its sleeves, hanging along the arms (light patches of old jeans may match a white top).
        rows = np.arange(lab.shape[0])[:, None] / work_scale
        waistband = rows < frame.hip_mid[1] - waist_up * frame.torso_length
        hem = (rows < frame.hip_mid[1] + hem_depth * frame.torso_length) | small(zones.front_limbs)
        front_small = _connected_to(reach & looks_other & hem, other) | (reach & ~looks_old & waistband)
        # A hem is one piece: close the gaps its shaded ribbing leaves between matched pixels.
        front_small = cv2.morphologyEx(front_small.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
        front_small = front_small.astype(bool) & reach
        core &= ~front_small
    replace_small = core | _connected_to(reach & looks_old & ~front_small, core)

    def full(mask: Mask) -> Mask:
        return cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_LINEAR).astype(bool)

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * edge_px + 1, 2 * edge_px + 1))
    silhouette = cv2.dilate(person_mask.astype(np.uint8), kernel).astype(bool)
    replace = cv2.dilate(full(replace_small).astype(np.uint8), kernel).astype(bool)
    replace &= silhouette & ~zones.protected & ~zones.skin
    if category is not Category.LOWER_BODY:
        # On the neck and, below the chin unless it looks like hair, above the shoulders: what is not
        # skin, beard or hair is the old garment's collar or hood, whatever its colour (a hood's inside
        # is in shadow).
        around = _above_shoulders(frame, pose, (height, width)) & regions.reach & ~full(looks_other)
        replace |= (neck_zone(frame, pose, (height, width)) | around) & person_mask & ~zones.protected & ~zones.skin
    if category is not Category.UPPER_BODY:
        # Between the legs, below the crotch, what is not skin is the old trousers (or the backdrop
        # seen through the gap, which the silhouette leaves out), whatever its colour in the shadow there.
        between = _between_legs(frame, (height, width)) & person_mask & ~zones.protected & ~zones.skin
        replace |= between & ~full(front_small)
    replace |= _edge_leftovers(person, person_mask, replace, own_model, ~zones.protected & ~zones.skin, band_px, edge_px)
    return ClothingZones(replace=replace, front=full(front_small) & person_mask & ~replace)


def protect_head(
    person: RGBImage,
    person_mask: Mask,
    pose: BodyPose,
    zones: BodyZones,
    tone: SkinTone,
    *,
    counts: tuple[int, int, int] = (8, 16, 16),
    skin_tolerance: float = 10.0,
    margin: float = 2.0,
    reach: float = 0.9,
) -> BodyZones:
    """``zones`` with the rest of the head protected too (chin, beard, hair falling to the shoulders),
    and the neck's own skin counted as skin.

    ``body_zones`` protects the face and everything above the mouth; below it a collar or a hood may
    lie, so there the head is told by colour. Its own colours are sampled where it is protected and not
    skin (hair, beard, brows: farther than ``skin_tolerance`` in chroma from ``tone``, so shaded skin
    does not count); the old garment's on the chest. Pixels whose colour (an OpenCV Lab
    histogram of ``counts`` bins) the head's model explains ``margin`` times better than the garment's,
    connected to the protected head, join it, down to ``reach`` shoulder widths below the shoulders;
    below the chin (``_CHIN``) and a beard (``_BEARD``) only beside the neck (``_NECK_HALF``). The chin
    is where its ellipse shows skin or the head's colours.
    Neck skin is what, in the neck zone and connected to the face, shows the face's skin colours
    ``margin`` times more than the garment's. ``person`` is ``HxWx3``
    uint8 RGB, ``person_mask`` ``HxW`` bool (True on the person).
    """
    frame = body_frame(pose)
    points = pose.points.astype(float)
    eyes, mouth = points[[2, 5]].mean(axis=0), points[[9, 10]].mean(axis=0)
    unit, ears = frame.shoulder_width, float(np.linalg.norm(points[7] - points[8]))
    height, width = person_mask.shape
    bottom = min(height, round(max(frame.shoulder_l[1], frame.shoulder_r[1]) + reach * unit))
    top = max(0, round(eyes[1] - 0.5 * unit))
    left, right = max(0, round(mouth[0] - 1.2 * unit)), min(width, round(mouth[0] + 1.2 * unit))
    chest = np.zeros((height, width), np.uint8)
    chest_top, hips = frame.shoulder_mid + frame.down * 0.3 * unit, frame.hip_mid - frame.down * 0.1 * unit
    capsule(chest, chest_top, hips, 0.25 * unit, 0.25 * unit)
    if bottom <= top or right <= left or not chest.any():
        return zones
    # Every other pixel of the chest is plenty for its colour model.
    rows, cols = box_slices(mask_bounds(chest.astype(bool)))
    chest_box = (slice(rows.start, rows.stop, 2), slice(cols.start, cols.stop, 2))
    window = (slice(top, bottom), slice(left, right))
    bins = _bins(cv2.cvtColor(person[window], cv2.COLOR_RGB2LAB), counts)
    body, skin, protected = person_mask[window], zones.skin[window], zones.protected[window]
    inner = cv2.erode(body.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    skin_like = skin_mask(person[window], tone, chroma_tolerance=skin_tolerance) | skin
    head_model = _model(bins, protected & inner & ~skin_like, counts)
    chest_bins = _bins(cv2.cvtColor(person[chest_box], cv2.COLOR_RGB2LAB), counts)
    chest_samples = chest[chest_box].astype(bool) & person_mask[chest_box] & ~zones.skin[chest_box]
    garment_model = _model(chest_bins, chest_samples & ~zones.protected[chest_box], counts)
    head_like = head_model[bins] > np.maximum(margin * _widened_model(garment_model, counts)[bins], 1e-3)
    head_like = cv2.morphologyEx(head_like.astype(np.uint8), cv2.MORPH_OPEN, np.ones((5, 5), np.uint8)).astype(bool)
    face_height = float(np.linalg.norm(mouth - eyes))
    centre = (round(mouth[0] - left), round(mouth[1] - top))

    def under_mouth(depth: float, half: float) -> Mask:
        ellipse = np.zeros(body.shape, np.uint8)
        cv2.ellipse(ellipse, centre, (max(1, round(half * ears)), max(1, round(depth * face_height))), 0, 0, 180, 1, -1)
        return ellipse.astype(bool)

    chin_pixels = under_mouth(*_CHIN) & body & (skin | head_like)
    # Below the chin and a beard, hair falls beside the neck: in front of the neck is a collar or a hood.
    xs = np.arange(left, right)[None, :]
    beside_neck = np.abs(xs - mouth[0]) > _NECK_HALF * unit
    hair_like = head_like & body & ~protected & ~skin_like & (beside_neck | under_mouth(*_BEARD))
    hair = _connected_to(hair_like, protected | chin_pixels) & ~skin_like
    # The neck's own skin, often in shadow: the face's skin colours rather than the garment's.
    skin_model = _model(bins, protected & inner & skin_like & ~head_like, counts)
    skin_coloured = skin_model[bins] > np.maximum(margin * garment_model[bins], 1e-3)
    neck = neck_zone(frame, pose, (height, width))[window] & body & ~protected & skin_coloured
    added = np.zeros((height, width), bool)
    added[window] = (hair | chin_pixels) & ~protected
    neck_skin = np.zeros((height, width), bool)
    neck_skin[window] = _connected_to(neck, protected | chin_pixels) & ~protected & ~hair
    return BodyZones(
        protected=zones.protected | added,
        skin=zones.skin | neck_skin,
        bare_skin=zones.bare_skin & ~added,
        front_limbs=zones.front_limbs,
        hands=zones.hands,
    )


def _between_legs(frame: BodyFrame, shape: tuple[int, int], *, crotch: float = 0.25) -> Mask:
    """``HxW`` bool: the polygon from the crotch (``crotch`` torso lengths below the hips' middle) down
    the two legs' bones, through knees to ankles."""
    top = frame.hip_mid + frame.down * crotch * frame.torso_length
    polygon = np.array([top, frame.knee_r, frame.ankle_r, frame.ankle_l, frame.knee_l])
    between = np.zeros(shape, np.uint8)
    cv2.fillPoly(between, [np.round(polygon).astype(np.int32)], 1)
    return between.astype(bool)


def _above_shoulders(frame: BodyFrame, pose: BodyPose, shape: tuple[int, int], *, chin: float = 0.9) -> Mask:
    """``HxW`` bool: between the line through the chin (``chin`` eye-to-mouth distances below the
    mouth; hair hangs beside the face above it) and the line through the shoulder joints."""
    eyes, mouth = pose.points[[2, 5]].astype(float).mean(axis=0), pose.points[[9, 10]].astype(float).mean(axis=0)
    chin_point = mouth + frame.down * chin * float(np.linalg.norm(mouth - eyes))
    # The band's ends lie far beyond the photo along the shoulder line.
    far = frame.across * 4.0 * float(max(shape))
    chin_point = frame.shoulder_mid + frame.down * float((chin_point - frame.shoulder_mid) @ frame.down)
    polygon = np.array([chin_point - far, chin_point + far, frame.shoulder_mid + far, frame.shoulder_mid - far])
    band = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(band, np.round(polygon).astype(np.int32), 1)
    return band.astype(bool)


def _widened_model(model: np.ndarray, counts: tuple[int, int, int]) -> np.ndarray:
    """A colour model (flattened histogram of ``counts`` bins) spread to the neighbouring bins of each
    channel and normalised again, so colours near a garment's count as the garment's (knit and ribbing
    vary it)."""
    cube = model.reshape(counts)
    spread = cube.copy()
    for axis in range(3):
        spread[(slice(None),) * axis + (slice(1, None),)] += cube[(slice(None),) * axis + (slice(None, -1),)]
        spread[(slice(None),) * axis + (slice(None, -1),)] += cube[(slice(None),) * axis + (slice(1, None),)]
    return (spread / max(float(spread.sum()), 1e-9)).ravel()


def _edge_leftovers(
    person: RGBImage,
    person_mask: Mask,
    replace: Mask,
    own_model: np.ndarray,
    allowed: Mask,
    band_px: int,
    seam_px: int,
) -> Mask:
    """``HxW`` bool: pixels within ``band_px`` of ``replace`` that look like the old garment (its colour
    model ``own_model``) more than like the backdrop in a ring just outside ``person_mask``, at most
    ``seam_px`` outside ``person_mask``."""
    if not replace.any() or not own_model.any():
        return np.zeros_like(replace)
    window = box_slices(mask_bounds(replace, margin=4 * band_px))
    zone, body = replace[window].astype(np.uint8), person_mask[window].astype(np.uint8)

    def grown(mask: np.ndarray, radius: int) -> np.ndarray:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        return cv2.dilate(mask, kernel).astype(bool)

    # Never further out than the seam the zone itself may take beyond the silhouette: the backdrop stays.
    band = grown(zone, band_px) & ~zone.astype(bool) & allowed[window] & grown(body, seam_px)
    ring = grown(body, 3 * band_px) & ~grown(body, band_px + 2)
    if not band.any() or not ring.any():
        return np.zeros_like(replace)
    bins = _bins(cv2.cvtColor(person[window], cv2.COLOR_RGB2LAB))
    backdrop = _model(bins, ring)
    # The old garment's own colours, and its edge blended with the backdrop, which neither model explains.
    own, behind = own_model[bins], backdrop[bins]
    looks_old = band & ((own > np.maximum(behind, 1e-3)) | (behind < 2e-3))
    out = np.zeros_like(replace)
    out[window] = _connected_to(looks_old, zone.astype(bool)) & ~zone.astype(bool)
    return out


def _bins(lab: np.ndarray, counts: tuple[int, int, int] = _BINS) -> np.ndarray:
    """``hxw`` int: each pixel's colour bin (an index into a flattened histogram of ``counts`` bins)."""
    index = np.zeros(lab.shape[:2], np.int32)
    for channel, count in enumerate(counts):
        index = index * count + (lab[..., channel].astype(np.int32) * count >> 8)
    return index


def _model(bins: np.ndarray, samples: Mask, counts: tuple[int, int, int] = _BINS) -> np.ndarray:
    """A colour model: the normalised histogram (sums to 1) of the ``samples`` pixels' ``bins``, lightly
    smoothed across neighbouring lightness bins (shading); all zero without samples."""
    histogram = np.bincount(bins[samples], minlength=int(np.prod(counts))).astype(np.float32)
    if not histogram.any():
        return histogram
    exact = histogram.reshape(counts)
    shaded = exact.copy()
    shaded[1:] += 0.5 * exact[:-1]
    shaded[:-1] += 0.5 * exact[1:]
    return (shaded / shaded.sum()).ravel()


def _opened(mask: Mask) -> Mask:
    """``mask`` without specks and one-pixel bridges (a 3x3 opening)."""
    return cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(bool)


def _connected_to(candidates: Mask, seeds: Mask) -> Mask:
    """The 8-connected regions of ``candidates | seeds`` that contain a seed pixel."""
    _, labels = cv2.connectedComponents((candidates | seeds).astype(np.uint8), connectivity=8)
    touched = np.unique(labels[seeds])
    return np.isin(labels, touched[touched > 0])


def _regions(frame: BodyFrame, pose: BodyPose, shape: tuple[int, int], category: Category) -> _Regions:
    """The geometric priors of ``category``: dresses replace both what a top and trousers would."""
    if category is Category.UPPER_BODY:
        return _upper_regions(frame, pose, shape)
    if category is Category.LOWER_BODY:
        return _lower_regions(frame, shape)
    upper, lower = _upper_regions(frame, pose, shape), _lower_regions(frame, shape)
    return _Regions(
        core=upper.core | lower.core,
        reach=upper.reach | lower.reach,
        other=upper.other & ~lower.reach,
        likely=upper.likely,
    )


def _upper_regions(frame: BodyFrame, pose: BodyPose, shape: tuple[int, int]) -> _Regions:
    """Core: the torso between shoulder joints and hips, the arm bones. Reach: up around the neck (hoods,
    collars), half a torso below the hips (long hems), wide around the arms. Other: thighs, hair."""
    unit, length = frame.shoulder_width, frame.torso_length
    hip_half = max(0.9 * float(np.linalg.norm(frame.hip_r - frame.hip_l)), 0.45 * unit)
    up, across = -frame.down, frame.across

    def torso(out: float, top: float, bottom: float) -> np.ndarray:
        return np.array([
            frame.shoulder_l - across * out * unit + up * top * unit,
            frame.shoulder_r + across * out * unit + up * top * unit,
            frame.hip_mid + across * (hip_half + out * unit) - up * bottom * length,
            frame.hip_mid - across * (hip_half + out * unit) - up * bottom * length,
        ])

    core, reach, other = (np.zeros(shape, np.uint8) for _ in range(3))
    cv2.fillConvexPoly(core, np.round(torso(0.0, 0.0, -0.05)).astype(np.int32), 1)
    cv2.fillConvexPoly(reach, np.round(torso(0.35, 0.6, 0.55)).astype(np.int32), 1)
    for shoulder, elbow, wrist in (
        (frame.shoulder_l, frame.elbow_l, frame.wrist_l),
        (frame.shoulder_r, frame.elbow_r, frame.wrist_r),
    ):
        capsule(core, shoulder, elbow, 0.1 * unit, 0.08 * unit)
        capsule(core, elbow, elbow + 0.85 * (wrist - elbow), 0.08 * unit, 0.06 * unit)
        capsule(reach, shoulder, elbow, 0.3 * unit, 0.25 * unit)
        capsule(reach, elbow, wrist, 0.25 * unit, 0.2 * unit)
    for hip, knee in ((frame.hip_l, frame.knee_l), (frame.hip_r, frame.knee_r)):
        capsule(other, hip + 0.35 * (knee - hip), hip + 0.9 * (knee - hip), 0.12 * unit, 0.1 * unit)
    # Hair: the top of the head, above the eyes.
    eyes = pose.points[[2, 5]].astype(float).mean(axis=0)
    capsule(other, eyes + up * 0.25 * unit, eyes + up * 0.35 * unit, 0.35 * unit, 0.3 * unit)
    # The tops of the shoulders: from each joint inwards to beside the neck and up over the outline.
    likely = np.zeros(shape, np.uint8)
    for shoulder, sign in ((frame.shoulder_l, -1.0), (frame.shoulder_r, 1.0)):
        inner = frame.shoulder_mid + across * sign * 0.22 * unit
        capsule(likely, inner - up * 0.05 * unit, shoulder + across * sign * 0.05 * unit, 0.2 * unit, 0.2 * unit)
    return _Regions(
        core=core.astype(bool),
        reach=reach.astype(bool),
        other=other.astype(bool) & ~core.astype(bool),
        likely=likely.astype(bool) & ~core.astype(bool),
    )


def _lower_regions(frame: BodyFrame, shape: tuple[int, int]) -> _Regions:
    """Core: along the leg bones below the top's hem (a third of the way to the knees). Reach: from
    above the waist to the ankles,
    wide around the legs (loose trousers, skirts). Other: the chest (the top, whose hem stays in front)."""
    hip_width = frame.hip_width
    length = frame.torso_length
    core, reach, other = (np.zeros(shape, np.uint8) for _ in range(3))
    waist = frame.hip_mid - frame.down * 0.3 * length
    for sign, hip, knee, ankle in ((-1, frame.hip_l, frame.knee_l, frame.ankle_l), (1, frame.hip_r, frame.knee_r, frame.ankle_r)):
        capsule(core, hip + 0.3 * (knee - hip), knee, 0.3 * hip_width, 0.2 * hip_width)
        capsule(core, knee, knee + 0.85 * (ankle - knee), 0.2 * hip_width, 0.15 * hip_width)
        capsule(reach, hip, knee, 0.9 * hip_width, 0.8 * hip_width)
        capsule(reach, knee, ankle, 0.8 * hip_width, 0.6 * hip_width)
        capsule(reach, waist + frame.across * sign * 0.5 * hip_width, hip, 0.6 * hip_width, 0.9 * hip_width)
    chest_top = frame.shoulder_mid + frame.down * 0.15 * length
    capsule(other, chest_top, frame.shoulder_mid + frame.down * 0.7 * length, 0.3 * frame.shoulder_width, 0.3 * frame.shoulder_width)
    return _Regions(
        core=core.astype(bool), reach=reach.astype(bool), other=other.astype(bool), likely=np.zeros(shape, bool)
    )
