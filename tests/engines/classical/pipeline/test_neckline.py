"""The garment's inside is not pasted, and the old garment's hood or collar does not survive at the neck."""

import cv2
import numpy as np
import pytest

from tryon.engines.classical.pipeline import prepare_garment, run_tryon
from tryon.engines.classical.pipeline.segmentation import cut_out_garment
from tryon.engines.classical.pipeline.landmarks import garment_landmarks
from tryon.engines.classical.pipeline.neckline import neck_opening

from .conftest import PERSONS


@pytest.fixture(scope="module")
def prepared(garments):
    return {name: prepare_garment(garments[name]) for name in ("tshirt_white.jpg", "shirt_oxford_blue.jpg")}


def test_the_shirts_label_lies_in_its_neck_opening(garments):
    cutout = cut_out_garment(garments["shirt_oxford_blue.jpg"])
    landmarks = garment_landmarks(cutout)
    opening = neck_opening(cutout, landmarks)
    span = landmarks.right_shoulder[0] - landmarks.left_shoulder[0]
    x, top = landmarks.neck
    lab = cv2.cvtColor(cutout.rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    # The label: the white patch on the inner back of the collar, far lighter than the blue fabric.
    near_neck = np.zeros(cutout.mask.shape, bool)
    near_neck[round(top) : round(top + 0.25 * span), round(x - 0.15 * span) : round(x + 0.15 * span)] = True
    label = near_neck & cutout.mask & (lab[..., 0] > 225) & (np.abs(lab[..., 2] - 128) < 6)
    assert label.sum() > 500
    assert opening[label].mean() > 0.95
    # The opening ends at the front of the collar: the chest and the shoulders stay.
    assert not opening[round(top + 0.3 * span) :].any()
    assert opening.sum() < 0.05 * cutout.mask.sum()


def _cheeks_lab(person, pose):
    """Median OpenCV Lab of the cheeks (below the outer eye corners, beside the nose)."""
    lab = cv2.cvtColor(person, cv2.COLOR_RGB2LAB).astype(np.float32)
    radius = max(2, round(0.15 * float(np.linalg.norm(pose.points[7] - pose.points[8]))))
    samples = []
    for outer in (3, 6):
        x, y = np.round(0.5 * pose.points[outer] + 0.5 * pose.points[0] + (0, radius)).astype(int)
        samples.append(lab[y - radius : y + radius, x - radius : x + radius].reshape(-1, 3))
    return np.median(np.concatenate(samples), axis=0)


@pytest.mark.parametrize("person_name", PERSONS)
@pytest.mark.parametrize("garment_name", ["tshirt_white.jpg", "shirt_oxford_blue.jpg"])
def test_the_neck_opening_shows_the_neck_not_the_garments_inside(
    persons, poses, analyzer, prepared, person_name, garment_name
):
    person, pose = persons[person_name], poses[person_name]
    result = run_tryon(person, prepared[garment_name], analyzer).image
    points = pose.points.astype(float)
    shoulders = points[[11, 12]].mean(axis=0)
    unit = float(np.linalg.norm(points[11] - points[12]))
    # The front of the neck just above the shoulder line: above a crew neck's front, inside a shirt's
    # open collar.
    column = (
        slice(round(shoulders[1] - 0.2 * unit), round(shoulders[1] - 0.05 * unit)),
        slice(round(shoulders[0] - 0.06 * unit), round(shoulders[0] + 0.06 * unit)),
    )
    lab = cv2.cvtColor(result[column], cv2.COLOR_RGB2LAB).astype(np.float32).reshape(-1, 3)
    skin = _cheeks_lab(person, pose)
    chroma = np.hypot(lab[:, 1] - skin[1], lab[:, 2] - skin[2])
    # Skin (the person's own or painted) in warm, saturated colour: not white or blue cloth, nor a label.
    assert (chroma < 10).mean() > 0.8


def test_the_old_hood_does_not_survive_at_the_neck(persons, poses, silhouettes, analyzer, prepared):
    name = "studio_man_hoodie.png"
    person, pose = persons[name], poses[name]
    result = run_tryon(person, prepared["tshirt_white.jpg"], analyzer).image
    points = pose.points.astype(float)
    eyes, mouth, shoulders = points[[2, 5]].mean(axis=0), points[[9, 10]].mean(axis=0), points[[11, 12]].mean(axis=0)
    unit = float(np.linalg.norm(points[11] - points[12]))
    lab = cv2.cvtColor(person, cv2.COLOR_RGB2LAB).astype(np.float32)
    ys, xs = np.mgrid[: person.shape[0], : person.shape[1]]
    chin = mouth[1] + 0.9 * float(np.linalg.norm(mouth - eyes))
    around_neck = (ys > chin) & (ys < shoulders[1] - 0.05 * unit) & (np.abs(xs - shoulders[0]) < 0.45 * unit)
    # The hood: less red than the skin (beige cloth), not the dark beard.
    hood = around_neck & silhouettes[name] & (lab[..., 1] < _cheeks_lab(person, pose)[1] - 4) & (lab[..., 0] >= 110)
    assert hood.sum() > 3000
    after = cv2.cvtColor(result, cv2.COLOR_RGB2LAB).astype(np.float32)
    unchanged = np.linalg.norm(after - lab, axis=2) < 6
    assert unchanged[hood].mean() < 0.02
