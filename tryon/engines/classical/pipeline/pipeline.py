"""The try-on pipeline: a person photo and a garment photo in, the person wearing the garment out."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import cv2
import numpy as np

from ....errors import GarmentNotFound, InvalidImage, NoPersonFound
from ....vision.garments import GarmentUndecidable, classify_flat_lay
from .blend import blend_garment
from .categories import check_body_visible, garment_length_ratio, place_unseen_ankles, resolve_category
from .checks import check_dressed
from .clothing import ClothingZones, clothing_zones, protect_head
from .inpainting import BodyZones, body_zones, capsule, fill_agnostic, limb_skin_tone, sample_skin_tone
from .landmarks import garment_landmarks, lower_body_landmarks
from .neckline import without_neck_opening
from .parsed_zones import garment_mask, refine_zones
from .segmentation import cut_out_garment, person_mask
from .types import (
    BodyPose,
    Category,
    GarmentCutout,
    HumanParser,
    Mask,
    PersonAnalyzer,
    PreparedGarment,
    RGBImage,
    Step,
    StepCallback,
    TryOnResult,
    WarpedGarment,
)
from .warp import body_frame, warp_garment
from .warp_lower import warp_lower_body

# Where a hem may end, in torso lengths below the shoulder joints: tops around the hips, dresses from
# mid-thigh to the ankles.
HEM_LENGTH: dict[Category, tuple[float, float]] = {
    Category.UPPER_BODY: (0.95, 1.2),
    Category.DRESSES: (1.4, 3.0),
}

# Where trousers' waistband sits, in torso lengths above the hip joints: high enough to reach the old
# trousers' waistband under a short top (what a top does not cover must not show the old trousers).
WAIST_UP = 0.2

# The least share of the garment's zone a result must change. The shared pairs change 94-100% of it
# (94%: dark jeans over dark jeans, the most alike pair), a result that dressed nobody 0%; half leaves
# room for a garment much like the old one (docs/quality.md).
MIN_CHANGED = 0.5


def _no_step(step: Step) -> None:
    """The default ``on_step``: report nothing."""


def prepare_garment(garment: RGBImage, parser: HumanParser | None = None) -> PreparedGarment:
    """Cut the garment out of its product photo, tell its category from its shape, find its landmarks.

    ``garment`` is an ``HxWx3`` uint8 RGB product photo of a garment on a plain background. With a
    ``parser``, the clothes it finds there are the cut-out (the classical cut-out when it finds none).
    The result depends on the photo alone, so callers may cache it by the photo's content hash
    (``tryon.engines.classical.garment_cache.GarmentCache``). Raises ``GarmentNotFound`` when no garment can be separated
    from the background; a shape that decides no category is kept with category ``AUTO``.
    """
    _check_image(garment, "garment")
    cutout = _cut_out(garment, parser)
    try:
        shape = classify_flat_lay(cutout.mask)
    except GarmentUndecidable as undecided:
        # An explicit category can still dress it as a top (``resolve_category``).
        top = garment_landmarks(cutout)
        return PreparedGarment(cutout=without_neck_opening(cutout, top), landmarks=top, category=Category.AUTO, reason=str(undecided))
    if shape.category == Category.LOWER_BODY.value:
        landmarks = lower_body_landmarks(cutout)
        return PreparedGarment(cutout=cutout, landmarks=landmarks, category=Category.LOWER_BODY, reason=shape.reason)
    top = garment_landmarks(cutout)
    shape = classify_flat_lay(cutout.mask, garment_length_ratio(top))
    # What shows through the neck opening of a flat top is its inside, which a person's neck hides.
    cutout = without_neck_opening(cutout, top)
    return PreparedGarment(cutout=cutout, landmarks=top, category=Category(shape.category), reason=shape.reason)


def run_tryon(
    person: RGBImage,
    garment: PreparedGarment | Callable[[], PreparedGarment],
    analyzer: PersonAnalyzer,
    *,
    category: Category = Category.AUTO,
    on_step: StepCallback = _no_step,
    parser: HumanParser | None = None,
    min_visibility: float = 0.5,
    shading_strength: float = 0.5,
) -> TryOnResult:
    """Dress the person in ``person`` in ``garment``.

    ``person`` is an ``HxWx3`` uint8 RGB photo; ``garment`` is ``prepare_garment`` of the garment photo
    (callers cache it), or a function giving it, called within the segmentation step. ``category`` says what the garment is worn as; ``AUTO`` (the default) decides
    from the garment's shape. ``on_step`` is called with each ``Step`` as it starts, then with
    ``Step.DONE``. ``parser`` (a learned human parser) sharpens the face, hair, hands, skin and
    old-clothes zones. The body parts the category needs (shoulders and hips; hips and knees;
    shoulders, hips and knees) must be seen with at least ``min_visibility``; legs leaving the frame
    below the knees are dressed to its edge. ``shading_strength`` (0..1) is how strongly the photo's
    folds and light shade the new garment.

    Several people: the most prominent (the largest) is dressed, the others' pixels are left alone,
    and a note says so. A result that would leave the garment's zone mostly unchanged is never
    returned: ``GarmentNotApplied`` is raised instead.

    Returns the dressed person (same size as ``person``, uint8 RGB), the category used and notes on
    the decisions taken. Raises ``NoPersonFound`` when no person is found;
    ``BodyPartNotVisible`` (a ``NoPersonFound``) when the body part the garment needs is not in the
    photo; ``GarmentNotFound`` when the garment cannot be separated from its background;
    ``CategoryMismatch`` when trousers are requested as a top or the other way round; ``InvalidImage``
    when an array is not an RGB image.
    """
    _check_image(person, "person")
    category = Category(category)
    steps = _Steps(on_step)
    notes: list[str] = []

    # 1. Segmentation: the person's silhouette; the garment out of its product photo, and its category.
    with steps.step(Step.SEGMENTATION):
        garment = garment() if callable(garment) else garment
        silhouette = person_mask(analyzer.segment_person(person))
        used, note = resolve_category(category, garment.category, garment.reason)
        notes.append(f"{note} ({garment.reason})" if category is Category.AUTO else note)

    # 2. Pose: the body landmarks the garment is fitted to; the silhouette of that person only.
    with steps.step(Step.POSE):
        pose, body, people = _most_prominent_person(
            person, silhouette, analyzer.estimate_pose(person), analyzer
        )
        pose = check_body_visible(pose, person.shape[:2], used, min_visibility=min_visibility)
        pose = place_unseen_ankles(pose, person.shape[:2], min_visibility=min_visibility)
        tone = sample_skin_tone(person, pose)
        if _has_colour(person) and not tone.looks_like_skin:
            raise NoPersonFound(
                "No person was found in the person photo: where a face should be there is no skin "
                "(is it a product photo?). Send a photo of a person."
            )
        if people > 1:
            notes.append(f"{people} people found; dressed the most prominent (the largest in the photo)")

    # 3. Warp: the garment fitted onto shoulders, torso and arms, or onto hips and legs.
    with steps.step(Step.WARP):
        if used is Category.LOWER_BODY:
            warped = warp_lower_body(
                garment.cutout, garment.landmarks, pose, person.shape[:2], waist_up=WAIST_UP
            )
        else:
            warped = warp_garment(
                garment.cutout, garment.landmarks, pose, person.shape[:2], body=body, hem_length=HEM_LENGTH[used]
            )

    # 4. Inpainting: the old garment's zone repainted as what lies under or behind it, or as bare skin.
    with steps.step(Step.INPAINTING):
        zones = body_zones(person, body, pose, tone, used)
        if used is not Category.LOWER_BODY:
            zones = protect_head(person, body, pose, zones, tone)
        clothing = clothing_zones(person, body, pose, zones, used, waist_up=WAIST_UP)
        if parser is not None:
            zones, clothing = refine_zones(zones, clothing, parser.parse(person), used, body)
        below_hem = _below_line(body_frame(pose).hip_mid, body.shape) if used is Category.UPPER_BODY else None
        base = fill_agnostic(
            person,
            clothing.replace,
            bare_skin=zones.bare_skin,
            tone=limb_skin_tone(person, zones.hands, tone),
            from_below=below_hem,
        )
        keep = _kept_in_front(zones, clothing, warped, pose, used)

    # 5. Blend: the garment under face, hair, hands, bare limbs and clothing in front, over the rest.
    with steps.step(Step.BLEND):
        image = blend_garment(base, warped, keep, shading=person, shading_strength=shading_strength)
        # A result that left the garment's zone as it was would be the input photo, "completed".
        check_dressed(person, image, ((warped.alpha > 0.5) | clothing.replace) & ~keep, min_share=MIN_CHANGED)

    on_step(Step.DONE)
    return TryOnResult(image=image, category=used, notes=notes)


def _cut_out(garment: RGBImage, parser: HumanParser | None) -> GarmentCutout:
    """The parser's clothes as the cut-out when they look like one garment, else the classical cut-out."""
    clothes = garment_mask(parser.parse(garment)) if parser is not None else None
    if clothes is not None:
        try:
            return cut_out_garment(garment, clothes_mask=clothes)
        except GarmentNotFound:
            pass  # no plausible garment in the parser's labels (a garment laid flat is not a person)
    return cut_out_garment(garment)


def _kept_in_front(
    zones: BodyZones, clothing: ClothingZones, warped: WarpedGarment, pose: BodyPose, used: Category
) -> Mask:
    """What stays in front of the new garment: face, hair, hands, clothing in front, bare limbs."""
    if used is Category.LOWER_BODY:
        limbs = _bare_limbs(zones.front_limbs & zones.skin, warped)
    else:
        painted = zones.front_limbs & clothing.replace & ~zones.skin
        limbs = _bare_limbs(zones.front_limbs & zones.skin, warped) | _painted_limbs_in_front(
            painted, warped, pose
        )
    return zones.protected | clothing.front | limbs


def _has_colour(image: RGBImage, *, min_chroma: float = 6.0) -> bool:
    """False for grayscale photos, whose skin cannot be told by colour (sampled, for speed)."""
    lab = cv2.cvtColor(image[::8, ::8], cv2.COLOR_RGB2LAB).astype(np.float32)
    chroma = np.hypot(lab[..., 1] - 128, lab[..., 2] - 128)
    return float(np.percentile(chroma, 95)) >= min_chroma


class _Steps:
    """Reports each step as it starts; the block under ``with steps.step(...)`` is that step's work."""

    def __init__(self, on_step: StepCallback) -> None:
        self._on_step = on_step

    @contextmanager
    def step(self, step: Step) -> Iterator[None]:
        self._on_step(step)
        yield


def _check_image(image: RGBImage, name: str) -> None:
    """Raise ``InvalidImage`` unless ``image`` is an ``HxWx3`` uint8 array of a usable size."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise InvalidImage(
            f"The {name} photo must be an RGB image (HxWx3 uint8), got shape {shape} of {dtype}."
        )
    if min(image.shape[:2]) < 64:
        raise InvalidImage(f"The {name} photo is too small ({image.shape[1]}x{image.shape[0]} pixels).")


def _posed_person(silhouette: Mask, pose: BodyPose, *, min_share: float = 0.2) -> tuple[Mask, int]:
    """The silhouette of the person the pose belongs to, and how many people the silhouette shows.

    ``silhouette`` is ``HxW`` bool, True on people. A region counts as a person when it has at least
    ``min_share`` of the largest region's area; the posed person's region is the one under the middle
    of their shoulders and hips (the whole silhouette when no region is there).
    """
    count, labels, stats, _ = cv2.connectedComponentsWithStats(silhouette.astype(np.uint8), connectivity=8)
    if count <= 2:
        return silhouette, count - 1
    areas = stats[1:, cv2.CC_STAT_AREA]
    people = int((areas >= min_share * areas.max()).sum())
    label = _region_under(labels, pose)
    if label == 0:
        return silhouette, people
    # Keep the posed person and the small specks (a stray hand); drop the other people.
    others = (stats[labels, cv2.CC_STAT_AREA] >= min_share * areas.max()) & (labels != label) & (labels > 0)
    return silhouette & ~others, people


def _most_prominent_person(
    person: RGBImage, silhouette: Mask, pose: BodyPose | None, analyzer: PersonAnalyzer, *, margin: float = 0.1
) -> tuple[BodyPose | None, Mask, int]:
    """The pose and silhouette of the largest person in the photo, and how many people it shows.

    mediapipe Pose follows one person, not always the largest: when the person it follows is not the
    largest region of ``silhouette`` (``HxW`` bool), the pose is estimated again on the largest region's
    box, grown by ``margin`` of its height. Raises ``NoPersonFound`` when several people are seen and
    the largest cannot be posed. With one person (or no pose) this is ``_posed_person``'s answer.
    """
    body, people = _posed_person(silhouette, pose) if pose is not None else (silhouette, 1)
    if people <= 1 or pose is None:
        return pose, body, people
    _, labels, stats, _ = cv2.connectedComponentsWithStats(silhouette.astype(np.uint8), connectivity=8)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if _region_under(labels, pose) == largest:
        return pose, body, people
    left, top, width, height = (int(v) for v in stats[largest, :4])
    grow = round(margin * height)
    box = (slice(max(0, top - grow), top + height + grow), slice(max(0, left - grow), left + width + grow))
    crop_pose = analyzer.estimate_pose(np.ascontiguousarray(person[box]))
    if crop_pose is not None:
        offset = np.array([box[1].start, box[0].start], np.float32)
        shifted = BodyPose(points=crop_pose.points + offset, visibility=crop_pose.visibility)
        if _region_under(labels, shifted) == largest:
            return shifted, _posed_person(silhouette, shifted)[0], people
    raise NoPersonFound(
        f"The person photo shows {people} people and the most prominent one could not be made out. "
        "Send a photo of one person, or crop the photo to the person to dress."
    )


def _region_under(labels: np.ndarray, pose: BodyPose) -> int:
    """The label of ``labels`` (``HxW`` int, 0 for background) under the middle of the torso."""
    frame = body_frame(pose)
    x, y = np.round((frame.shoulder_mid + frame.hip_mid) / 2).astype(int)
    height, width = labels.shape
    return int(labels[min(max(y, 0), height - 1), min(max(x, 0), width - 1)])


def _painted_limbs_in_front(painted: Mask, warped: WarpedGarment, pose: BodyPose) -> Mask:
    """The painted (formerly clothed) limbs kept in front of a top: beside its torso, not inside it.

    ``painted`` (``HxW`` bool) is the limb zone repainted as skin. The limb zones are capsules around the
    bones: where an arm hangs beside the body they also reach into the torso, and kept in front there they
    cut holes into the garment's sides. So painted limbs stay in front only outside the convex hull of the
    garment's torso part, except an arm whose wrist lies well inside that hull (held in front of the body).
    """
    limbs = _bare_limbs(painted, warped)
    torso = (warped.alpha > 0.5) & (warped.sleeve_alpha < 0.5)
    if not torso.any():
        return limbs
    points = cv2.findNonZero(torso.astype(np.uint8))
    hull = np.zeros(torso.shape, np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(points), 1)
    frame = body_frame(pose)
    inset = 0.15 * frame.shoulder_width
    inside = cv2.distanceTransform(hull, cv2.DIST_L2, 3)
    height, width = torso.shape
    in_front = np.zeros(torso.shape, bool)
    for elbow, wrist in ((frame.elbow_l, frame.wrist_l), (frame.elbow_r, frame.wrist_r)):
        x, y = (int(np.clip(round(v), 0, n - 1)) for v, n in zip(wrist, (width, height)))
        if inside[y, x] > inset:
            forearm = np.zeros(torso.shape, np.uint8)
            capsule(forearm, elbow, wrist, 0.15 * frame.shoulder_width, 0.12 * frame.shoulder_width)
            in_front |= forearm.astype(bool)
    return limbs & (~hull.astype(bool) | in_front)


def _below_line(point: np.ndarray, shape: tuple[int, int]) -> Mask:
    """``HxW`` bool, True on the rows below ``point`` (``(x, y)``)."""
    below = np.zeros(shape, bool)
    below[max(0, round(point[1])) :] = True
    return below


def _bare_limbs(front_limbs: Mask, warped: WarpedGarment) -> Mask:
    """Bare limbs in front of the garment: the limb zones the sleeves do not cover.

    ``front_limbs`` should hold only pixels that show, or will show, skin: a limb zone is a guess
    around the bones, and trousers inside it must not cut into the garment.
    """
    return front_limbs & (warped.sleeve_alpha < 0.5)
