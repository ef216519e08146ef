"""Garment categories in the classical pipeline: the shape's category (``tryon.vision.garments``) against
the requested one, and whether the person photo shows the body part it is worn on."""

from __future__ import annotations

import numpy as np

from ....errors import NoPersonFound, TryOnError
from ....vision.garments import GarmentUndecidable
from ....vision.mediapipe_keypoints import POSE_LANDMARKS
from .types import BodyPose, Category, GarmentLandmarks

# mediapipe Pose indices each category must see: shoulders and hips for tops; hips and knees for
# trousers (legs that leave the frame below the knees are dressed to its edge); shoulders, hips and
# knees for dresses.
REQUIRED_PARTS: dict[Category, tuple[str, ...]] = {
    Category.UPPER_BODY: ("shoulder", "hip"),
    Category.LOWER_BODY: ("hip", "knee"),
    Category.DRESSES: ("shoulder", "hip", "knee"),
}
REQUIRED_POINTS: dict[Category, dict[str, tuple[int, ...]]] = {
    category: {f"{part}s": (POSE_LANDMARKS[f"left_{part}"], POSE_LANDMARKS[f"right_{part}"]) for part in parts}
    for category, parts in REQUIRED_PARTS.items()
}


class BodyPartNotVisible(NoPersonFound):
    """The person photo shows a person, but not the body part the garment is worn on."""


class CategoryMismatch(TryOnError):
    """The requested category cannot be worn as the garment photo's shape says it must be."""


def garment_length_ratio(landmarks: GarmentLandmarks) -> float:
    """Shoulder-to-hem length of a flat top or dress over its width at the chest (the wider of the
    shoulder span and the armpit span): about 1.2-1.6 for tops, 2 and more for dresses."""
    shoulders_y = (landmarks.left_shoulder[1] + landmarks.right_shoulder[1]) / 2
    hem_y = (landmarks.left_hem[1] + landmarks.right_hem[1]) / 2
    chest = max(
        landmarks.right_shoulder[0] - landmarks.left_shoulder[0],
        landmarks.right_armpit[0] - landmarks.left_armpit[0],
        1.0,
    )
    return float((hem_y - shoulders_y) / chest)


def check_body_visible(
    pose: BodyPose | None, size: tuple[int, int], category: Category, *, min_visibility: float
) -> BodyPose:
    """``pose`` if the person photo (``size`` ``(height, width)``) shows what ``category`` is worn on.

    Raises ``NoPersonFound`` when there is no pose, and ``BodyPartNotVisible`` naming the body parts
    seen with less than ``min_visibility`` or lying outside the frame (trousers on a photo cut above the
    knees), or when the person is too small or turned sideways.
    """
    if pose is None:
        raise NoPersonFound(
            "No person was found in the person photo. Use a photo of one person standing, facing the camera."
        )
    height, width = size
    missing = []
    for part, indices in REQUIRED_POINTS[category].items():
        points, visibility = pose.points[list(indices)], pose.visibility[list(indices)]
        inside = (points[:, 0] >= 0) & (points[:, 0] < width) & (points[:, 1] >= 0) & (points[:, 1] < height)
        if (visibility < min_visibility).any() or not inside.all():
            missing.append(part)
    if missing:
        needed = " and ".join(REQUIRED_POINTS[category])
        raise BodyPartNotVisible(
            f"The person's {' and '.join(missing)} are not visible in the person photo, and a "
            f"{category.value.replace('_', '-')} garment needs the {needed}. "
            f"Use a photo showing the body from the {_span(category)}."
        )
    body_width = max(
        float(np.linalg.norm(pose.points[11] - pose.points[12])),
        float(np.linalg.norm(pose.points[23] - pose.points[24])) * 1.4,
    )
    if body_width < 0.05 * width:
        raise BodyPartNotVisible(
            "The person in the person photo is too small or turned sideways. "
            "Use a photo where the person faces the camera and fills more of the frame."
        )
    return pose


def place_unseen_ankles(
    pose: BodyPose, size: tuple[int, int], *, min_visibility: float, shin: float = 0.9
) -> BodyPose:
    """``pose`` with each ankle seen with less than ``min_visibility`` put where the leg goes.

    A photo cropped at mid-shin leaves the ankles out of the frame; mediapipe still predicts them, below
    the frame, and such a prediction is kept (the legs are then dressed to the frame's edge). An unseen
    ankle predicted inside the frame (hidden, or a guess) goes ``shin`` thigh lengths below its knee,
    along the thigh's direction (knee to ankle is about 0.9 of hip to knee in the joints' positions).
    ``size`` is the photo's ``(height, width)``.
    """
    points = pose.points.copy()
    for hip, knee, ankle in ((23, 25, 27), (24, 26, 28)):
        if pose.visibility[ankle] >= min_visibility or points[ankle][1] >= size[0]:
            continue
        points[ankle] = points[knee] + shin * (points[knee] - points[hip])
    return BodyPose(points=points, visibility=pose.visibility)


def _span(category: Category) -> str:
    return {
        Category.UPPER_BODY: "shoulders to below the hips",
        Category.LOWER_BODY: "waist to below the knees",
        Category.DRESSES: "shoulders to below the knees",
    }[category]


def resolve_category(requested: Category, detected: Category, reason: str = "") -> tuple[Category, str]:
    """The category to dress in, and a note saying why.

    ``AUTO`` takes the ``detected`` one; a shape that decided nothing (``detected`` is ``AUTO``, and
    ``reason`` says why) raises ``GarmentUndecidable``. An explicit request wins, except that trousers
    cannot be worn as a top or the other way round (their landmarks differ): ``CategoryMismatch``. A
    top may be worn as a dress and a dress as a top (the hem is then fitted to the requested length).
    """
    if requested is Category.AUTO:
        if detected is Category.AUTO:
            raise GarmentUndecidable(reason)
        return detected, f"category auto -> {detected.value}"
    if detected is Category.AUTO:
        if requested is Category.LOWER_BODY:
            raise CategoryMismatch(
                "The garment photo shows no legs or waistband, so it cannot be worn as lower_body. "
                "Send a product photo of the whole garment, laid flat."
            )
        return requested, f"category {requested.value} (as requested; the garment's shape decides nothing)"
    if (requested is Category.LOWER_BODY) != (detected is Category.LOWER_BODY):
        raise CategoryMismatch(
            f"The garment photo looks like a {detected.value.replace('_', '-')} garment, but category "
            f"{requested.value} was requested. Send category auto, or a matching garment photo."
        )
    if requested is detected:
        return requested, f"category {requested.value} (as requested; the garment's shape agrees)"
    return requested, f"category {requested.value} (as requested; the garment's shape says {detected.value})"
