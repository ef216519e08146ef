"""The garment classifier on flat-lay and worn photos of each kind.

Real photos (the shared ones, MIT): three tops (shirt, t-shirt, half-zip sweatshirt) and jeans laid
flat; three people in a hoodie, a jacket over a top with jeans, a sweater with jeans, worn. No photo
with a usable licence shows a flat dress, skirt, shorts, leggings or jumpsuit, nor a worn dress: those
are drawn as cut-out masks (or a drawn figure) with the proportions of the garment.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tryon.vision.body import BodyPoints
from tryon.vision.cutout import flat_lay_mask
from tryon.vision.garments import GarmentUndecidable, classify_flat_lay, classify_worn, has_two_legs

from .conftest import PERSONS, TOPS, load_rgb


def drawn(outline: list[tuple[int, int]], size: tuple[int, int] = (800, 600)) -> np.ndarray:
    """``HxW`` bool: a garment's cut-out drawn from its ``(x, y)`` outline."""
    mask = np.zeros(size, np.uint8)
    cv2.fillPoly(mask, [np.array(outline, np.int32)], 1)
    return mask.astype(bool)


# Outlines (x, y) of flat garments, with their usual proportions.
DRESS = [(150, 20), (180, 40), (220, 40), (250, 20), (330, 60), (390, 160), (330, 190), (300, 150),
         (290, 300), (380, 680), (20, 680), (110, 300), (100, 150), (70, 190), (10, 160), (70, 60)]  # fmt: skip
SKIRT = [(110, 20), (310, 20), (400, 380), (20, 380)]
SHORTS = [(100, 40), (400, 40), (440, 300), (300, 300), (250, 150), (200, 300), (60, 300)]
LEGGINGS = [(220, 20), (380, 20), (395, 200), (385, 760), (335, 760), (302, 220), (298, 220),
            (265, 760), (215, 760), (205, 200)]  # fmt: skip
JUMPSUIT = [(230, 20), (260, 20), (270, 60), (330, 60), (340, 20), (370, 20), (380, 120), (370, 420),
            (390, 780), (320, 780), (300, 460), (280, 780), (210, 780), (230, 420), (220, 120)]  # fmt: skip
JACKET = [(230, 60), (270, 80), (330, 80), (370, 60), (480, 100), (560, 400), (500, 420), (440, 220),
          (440, 480), (160, 480), (160, 220), (100, 420), (40, 400), (120, 100)]  # fmt: skip


@pytest.mark.parametrize("name", TOPS)
def test_flat_tops_are_upper_body(name):
    found = flat_lay_mask(load_rgb(f"garments/{name}"))
    assert classify_flat_lay(found.mask).category == "upper_body"


def test_flat_jeans_are_lower_body():
    found = flat_lay_mask(load_rgb("garments/jeans_blue.jpg"))
    shape = classify_flat_lay(found.mask)
    assert shape.category == "lower_body" and "two legs" in shape.reason


@pytest.mark.parametrize(
    "outline, category, reason",
    [
        (DRESS, "dresses", "one piece"),
        (SKIRT, "lower_body", "waistband"),
        (SHORTS, "lower_body", "two legs"),
        (LEGGINGS, "lower_body", "two legs"),
        (JUMPSUIT, "dresses", "jumpsuit"),
        (JACKET, "upper_body", "sleeves"),
    ],
    ids=["dress", "skirt", "shorts", "leggings", "jumpsuit", "jacket"],
)
def test_drawn_flat_garments(outline, category, reason):
    shape = classify_flat_lay(drawn(outline))
    assert shape.category == category and reason in shape.reason, shape


def test_the_landmarks_length_wins_over_the_masks():
    assert classify_flat_lay(drawn(DRESS), length_ratio=1.3).category == "upper_body"
    assert classify_flat_lay(drawn(JACKET), length_ratio=2.4).category == "dresses"
    assert has_two_legs(drawn(LEGGINGS)) and has_two_legs(drawn(JUMPSUIT)) and not has_two_legs(drawn(SKIRT))


@pytest.mark.parametrize("mask", [np.zeros((300, 300), bool), drawn([(50, 50), (350, 50), (350, 250), (50, 250)])], ids=["empty", "folded"])
def test_no_cut_to_read_is_undecidable_and_names_the_category_field(mask):
    with pytest.raises(GarmentUndecidable, match="Send the category field: upper_body, lower_body or dresses"):
        classify_flat_lay(mask)


def _hip_and_knee_rows(body: BodyPoints) -> tuple[float, float, float]:
    shoulders = max(body.points["left_shoulder"][1], body.points["right_shoulder"][1])
    hips = max(body.points["left_hip"][1], body.points["right_hip"][1])
    knees = min(body.points["left_knee"][1], body.points["right_knee"][1])
    return shoulders, hips, knees


@pytest.mark.parametrize("name", PERSONS)
def test_worn_from_the_shoulders_to_the_hips_is_upper_body(worn, name):
    photo = worn[name]
    _, hips, knees = _hip_and_knee_rows(photo.body)
    top = photo.crop_rows(0, round(hips + 0.4 * (knees - hips)))
    shape = classify_worn(top.image, top.body, top.silhouette)
    assert shape.category == "upper_body", shape


@pytest.mark.parametrize("name", PERSONS)
def test_worn_from_the_waist_down_is_lower_body(worn, name):
    photo = worn[name]
    shoulders, hips, _ = _hip_and_knee_rows(photo.body)
    bottom = photo.crop_rows(round(hips - 0.35 * (hips - shoulders)), photo.image.shape[0])
    shape = classify_worn(bottom.image, bottom.body, bottom.silhouette)
    assert shape.category == "lower_body", shape


@pytest.mark.parametrize("name", PERSONS)
def test_a_whole_outfit_is_undecidable_and_names_the_category_field(worn, name):
    photo = worn[name]
    with pytest.raises(GarmentUndecidable, match="dressed above and below the waist.*Send the category field"):
        classify_worn(photo.image, photo.body, photo.silhouette)


def drawn_wearer(*, legs_apart: bool) -> tuple[np.ndarray, BodyPoints, np.ndarray]:
    """A figure in one red cloth from the shoulders to below the knees: a dress (closed between the
    thighs) or, legs apart, a jumpsuit. Grey background, skin-coloured head, arms and shins."""
    image = np.full((1000, 600, 3), 200, np.uint8)
    points = {
        "nose": (300, 100), "left_shoulder": (370, 200), "right_shoulder": (230, 200),
        "left_elbow": (400, 330), "right_elbow": (200, 330), "left_wrist": (410, 450), "right_wrist": (190, 450),
        "left_hip": (340, 480), "right_hip": (260, 480), "left_knee": (350, 700), "right_knee": (250, 700),
        "left_ankle": (350, 900), "right_ankle": (250, 900),
    }  # fmt: skip
    skin, red = (225, 180, 150), (200, 30, 40)
    cv2.circle(image, points["nose"], 60, skin, -1)
    for side in ("left", "right"):
        cv2.line(image, points[f"{side}_shoulder"], points[f"{side}_wrist"], skin, 40)
        cv2.line(image, points[f"{side}_knee"], points[f"{side}_ankle"], skin, 50)
    if legs_apart:
        cv2.fillPoly(image, [np.array([(230, 190), (370, 190), (380, 500), (220, 500)], np.int32)], red)
        for side in ("left", "right"):
            cv2.line(image, points[f"{side}_hip"], points[f"{side}_knee"], red, 70)
    else:
        cv2.fillPoly(image, [np.array([(230, 190), (370, 190), (400, 760), (200, 760)], np.int32)], red)
    silhouette = np.any(image != 200, axis=2)
    body = BodyPoints(size=(1000, 600), points={name: np.array(p, float) for name, p in points.items()})
    return image, body, silhouette


def test_a_drawn_dress_worn_is_dresses():
    shape = classify_worn(*drawn_wearer(legs_apart=False))
    assert shape.category == "dresses" and "closed between them" in shape.reason


def test_a_drawn_jumpsuit_worn_cannot_be_told_from_matching_separates():
    with pytest.raises(GarmentUndecidable, match="category"):
        classify_worn(*drawn_wearer(legs_apart=True))
