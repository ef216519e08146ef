"""Bared arms look like the person's own skin: the hands' and face's colour, shaded, with a photographed edge."""

import cv2
import numpy as np
import pytest

from tryon.engines.classical.pipeline import prepare_garment, run_tryon
from tryon.engines.classical.pipeline.inpainting import SkinTone, capsule, fill_agnostic


def test_a_painted_limb_is_shaded_and_has_a_soft_but_sharp_edge():
    rows, cols = np.mgrid[:400, :320]
    sleeve = (rows >= 60) & (rows < 340) & (cols >= 100) & (cols < 220)  # a dark old sleeve, evenly lit
    arm = sleeve & (cols >= 130) & (cols < 190)  # the arm inside it
    person = np.where(sleeve[..., None], np.uint8([40, 40, 50]), np.uint8([200, 200, 210]))
    tone = SkinTone(np.array([170.0, 145.0, 145.0], np.float32))
    filled = fill_agnostic(person, sleeve, bare_skin=arm, tone=tone)

    lab = cv2.cvtColor(filled, cv2.COLOR_RGB2LAB).astype(np.float32)
    middle = lab[100:300, 140:180].reshape(-1, 3)
    assert np.hypot(*(np.median(middle[:, 1:], axis=0) - tone.lab[1:])) < 4  # the skin's own colour
    # Not flat: round, darker towards its sides (low-frequency shading across the limb).
    across = cv2.GaussianBlur(lab[..., 0], (0, 0), 3)[200, 132:188]
    assert across.max() - across.min() > 8 and across.std() > 2
    # The outline: soft over a few pixels (10-90% of the step), neither a cut nor a smear.
    row = lab[200, 110:150, 0]
    low, high = np.median(lab[200, 110:120, 0]), np.median(lab[200, 140:150, 0])
    rising = (row - low) / (high - low)
    width = int(np.argmax(rising > 0.9)) - int(np.argmax(rising > 0.1))
    assert 1 <= width <= 5


@pytest.fixture(scope="module")
def tee(garments):
    return prepare_garment(garments["tshirt_white.jpg"])


@pytest.mark.parametrize("person_name", ["studio_man_hoodie.png", "indoor_man_sweater.jpg"])
def test_bared_forearms_have_the_colour_of_the_persons_hands(persons, poses, analyzer, tee, person_name):
    person, pose = persons[person_name], poses[person_name]
    result = run_tryon(person, tee, analyzer).image
    points = pose.points.astype(float)
    unit = float(np.linalg.norm(points[11] - points[12]))
    forearms, hands = np.zeros(person.shape[:2], np.uint8), np.zeros(person.shape[:2], np.uint8)
    for elbow, wrist in ((13, 15), (14, 16)):
        along = points[wrist] - points[elbow]
        capsule(forearms, points[elbow] + 0.3 * along, points[elbow] + 0.75 * along, 0.03 * unit, 0.025 * unit)
        knuckles = points[[wrist + 4, wrist + 2]].mean(axis=0)  # index and pinky
        cv2.circle(hands, tuple(int(v) for v in np.round((points[wrist] + knuckles) / 2)), round(0.03 * unit), 1, -1)
    lab = cv2.cvtColor(result, cv2.COLOR_RGB2LAB).astype(np.float32)
    arm = np.median(lab[forearms.astype(bool)], axis=0)
    hand = np.median(cv2.cvtColor(person, cv2.COLOR_RGB2LAB).astype(np.float32)[hands.astype(bool)], axis=0)
    # Forearms are about as light as the backs of the hands, and of their hue (not the face's glare).
    assert abs(arm[0] - hand[0]) < 20
    assert np.hypot(*(arm[1:] - hand[1:])) < 8
