"""The try-on pipeline: a person photo and a garment photo in, the person wearing the garment out."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

import numpy as np

from ..errors import InvalidImage, NoPersonFound
from .blend import blend_garment
from .inpainting import agnostic_mask, body_zones, fill_agnostic, sample_skin_tone
from .landmarks import garment_landmarks
from .segmentation import cut_out_garment, person_mask
from .types import (
    BodyPose,
    Mask,
    PersonAnalyzer,
    PreparedGarment,
    RGBImage,
    Step,
    StepCallback,
    TryOnResult,
    WarpedGarment,
)
from .warp import warp_garment

# mediapipe Pose indices an upper-body garment is fitted to: shoulders and hips.
_TORSO_POINTS = (11, 12, 23, 24)


def _no_step(step: Step) -> None:
    """The default ``on_step``: report nothing."""


def prepare_garment(garment: RGBImage) -> PreparedGarment:
    """Cut the garment out of its product photo and find its landmarks.

    ``garment`` is an ``HxWx3`` uint8 RGB product photo of an upper-body garment on a plain background.
    The result depends on the photo alone, so callers may cache it by the photo's content hash.
    Raises ``GarmentNotFound`` when no garment can be separated from the background.
    """
    _check_image(garment, "garment")
    cutout = cut_out_garment(garment)
    return PreparedGarment(cutout=cutout, landmarks=garment_landmarks(cutout))


def run_tryon(
    person: RGBImage,
    garment: RGBImage,
    analyzer: PersonAnalyzer,
    *,
    on_step: StepCallback = _no_step,
    prepared_garment: PreparedGarment | None = None,
    min_visibility: float = 0.5,
    shading_strength: float = 0.5,
) -> TryOnResult:
    """Dress the person in ``person`` in the upper-body garment of ``garment``.

    Both photos are ``HxWx3`` uint8 RGB. ``on_step`` is called with each ``Step`` as it starts, then
    with ``Step.DONE``. ``prepared_garment``, when given, is ``prepare_garment(garment)`` from a cache
    and the garment photo is not analysed again. Shoulders and hips must be seen with at least
    ``min_visibility``; ``shading_strength`` (0..1) is how strongly the photo's folds and light shade
    the new garment.

    Returns the dressed person (same size as ``person``, uint8 RGB) and the seconds each step took.
    Raises ``NoPersonFound`` when no person, or no upper body, is found in the person photo;
    ``GarmentNotFound`` when the garment cannot be separated from its background; ``InvalidImage``
    when an array is not an RGB image.
    """
    _check_image(person, "person")
    timer = _StepTimer(on_step)

    # 1. Segmentation: the person's silhouette; the garment out of its product photo.
    with timer.step(Step.SEGMENTATION):
        body = person_mask(analyzer.segment_person(person))
        prepared = prepared_garment if prepared_garment is not None else prepare_garment(garment)

    # 2. Pose: the body landmarks the garment is fitted to.
    with timer.step(Step.POSE):
        pose = _upper_body_pose(analyzer.estimate_pose(person), person.shape[:2], min_visibility)

    # 3. Warp: the garment fitted onto shoulders, torso and arms.
    with timer.step(Step.WARP):
        warped = warp_garment(prepared.cutout, prepared.landmarks, pose, person.shape[:2], body=body)

    # 4. Inpainting: the old garment repainted as background, or as bare skin on arms and neck.
    with timer.step(Step.INPAINTING):
        tone = sample_skin_tone(person, pose)
        zones = body_zones(person, body, pose, tone)
        region = agnostic_mask(body, pose, zones)
        base = fill_agnostic(person, region, bare_skin=zones.bare_skin, tone=tone)

    # 5. Blend: the garment under face, hair, hands and bare limbs, over everything else.
    with timer.step(Step.BLEND):
        keep = zones.protected | _bare_limbs(zones.front_limbs & (region | zones.skin), warped)
        image = blend_garment(base, warped, keep, shading=person, shading_strength=shading_strength)

    on_step(Step.DONE)
    return TryOnResult(image=image, step_seconds=timer.seconds)


class _StepTimer:
    """Reports each step as it starts and records how long it took, in seconds, by step name."""

    def __init__(self, on_step: StepCallback) -> None:
        self._on_step = on_step
        self.seconds: dict[str, float] = {}

    @contextmanager
    def step(self, step: Step) -> Iterator[None]:
        self._on_step(step)
        start = time.perf_counter()
        yield
        self.seconds[step.value] = time.perf_counter() - start


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


def _upper_body_pose(pose: BodyPose | None, size: tuple[int, int], min_visibility: float) -> BodyPose:
    """``pose`` if it shows an upper body to dress, else ``NoPersonFound`` saying what is missing."""
    if pose is None:
        raise NoPersonFound(
            "No person was found in the person photo. Use a photo of one person standing, facing the camera."
        )
    visibility = pose.visibility[list(_TORSO_POINTS)]
    height, width = size
    points = pose.points[list(_TORSO_POINTS)]
    inside = (points[:, 0] >= 0) & (points[:, 0] < width) & (points[:, 1] >= 0) & (points[:, 1] < height)
    if (visibility < min_visibility).any() or not inside.all():
        raise NoPersonFound(
            "The person's shoulders and hips are not all visible in the person photo. "
            "Use a photo showing the upper body from the shoulders to below the hips."
        )
    shoulder_width = float(np.linalg.norm(pose.points[11] - pose.points[12]))
    if shoulder_width < 0.05 * width:
        raise NoPersonFound(
            "The person in the person photo is too small or turned sideways. "
            "Use a photo where the person faces the camera and fills more of the frame."
        )
    return pose


def _bare_limbs(front_limbs: Mask, warped: WarpedGarment) -> Mask:
    """Bare arms and neck in front of the garment's torso: the limb zones the sleeves do not cover.

    ``front_limbs`` should hold only pixels that show, or will show, skin: a limb zone is a guess
    around the bones, and trousers inside it must not cut into the garment.
    """
    return front_limbs & (warped.sleeve_alpha < 0.5)
