"""The face, a beard and hair on the shoulders are kept pixel for pixel, outside a narrow seam."""

import cv2
import numpy as np
import pytest

from tryon.engines.classical.pipeline import prepare_garment, run_tryon

from .conftest import PERSONS, UPPER_GARMENTS

# Seam: the outer 2 px of a hair or beard region may blend with the garment's edge, and its colour
# threshold leaves a few stray pixels; at most this share of the region inside the seam may change.
SEAM_PX = 2
MAX_CHANGED_INSIDE = 0.02


@pytest.fixture(scope="module")
def results(persons, garments, jeans, analyzer):
    prepared = {name: prepare_garment(photo) for name, photo in {**garments, "jeans_blue.jpg": jeans}.items()}
    return {
        (person, garment): run_tryon(persons[person], prepared[garment], analyzer).image
        for person in PERSONS
        for garment in (*UPPER_GARMENTS, "jeans_blue.jpg")
    }


def _face_geometry(pose):
    points = pose.points.astype(float)
    eyes, mouth = points[[2, 5]].mean(axis=0), points[[9, 10]].mean(axis=0)
    return points[0], eyes, mouth, float(np.linalg.norm(mouth - eyes)), float(np.linalg.norm(points[7] - points[8]))


def _inside_seam(region):
    kernel = np.ones((2 * SEAM_PX + 1, 2 * SEAM_PX + 1), np.uint8)
    return cv2.erode(region.astype(np.uint8), kernel).astype(bool)


@pytest.mark.parametrize("person_name", PERSONS)
def test_the_face_box_is_identical_to_the_input(persons, poses, results, person_name):
    nose, eyes, mouth, face_height, ears = _face_geometry(poses[person_name])
    # From above the brows to the chin (three quarters of the eye-to-mouth distance below the mouth).
    box = (
        slice(round(eyes[1] - 0.8 * face_height), round(mouth[1] + 0.75 * face_height)),
        slice(round(nose[0] - 0.35 * ears), round(nose[0] + 0.35 * ears)),
    )
    for garment in (*UPPER_GARMENTS, "jeans_blue.jpg"):
        assert np.array_equal(results[person_name, garment][box], persons[person_name][box]), garment


def test_long_hair_on_the_shoulders_is_kept(persons, poses, silhouettes, results):
    name = "studio_woman_jacket.png"
    person, pose = persons[name], poses[name]
    nose, eyes, mouth, _, ears = _face_geometry(pose)
    shoulder_y = float(pose.points[[11, 12], 1].mean())
    unit = float(np.linalg.norm(pose.points[11] - pose.points[12]))
    lab = cv2.cvtColor(person, cv2.COLOR_RGB2LAB).astype(np.float32)
    ys, xs = np.mgrid[: person.shape[0], : person.shape[1]]
    # The hair's colours, sampled beside the face between the eyes and the mouth.
    beside_face = np.zeros(person.shape[:2], bool)
    for ear in (7, 8):
        outwards = np.sign(pose.points[ear][0] - nose[0])
        low, high = sorted([pose.points[ear][0] + 0.1 * ears * outwards, pose.points[ear][0] + 0.4 * ears * outwards])
        beside_face |= (xs > low) & (xs < high) & (ys > eyes[1]) & (ys < mouth[1])
    beside_face &= cv2.erode(silhouettes[name].astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    cv2.setRNGSeed(0)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _, _, palette = cv2.kmeans(lab[beside_face], 4, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    distance = np.linalg.norm((lab[..., None, :] - palette) * [0.5, 1.0, 1.0], axis=-1).min(axis=-1)
    # Hair of those colours hanging below the mouth beside the neck, connected to the hair beside the face.
    below = (ys > mouth[1]) & (ys < shoulder_y + 0.5 * unit) & (np.abs(xs - nose[0]) > 0.25 * unit) & silhouettes[name]
    _, labels = cv2.connectedComponents(((distance < 8) & (below | beside_face)).astype(np.uint8))
    touched = np.unique(labels[beside_face])
    hair = np.isin(labels, touched[touched > 0]) & below
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15))
    solid = cv2.morphologyEx(hair.astype(np.uint8), cv2.MORPH_CLOSE, disc)
    inside = _inside_seam(solid) & hair
    assert inside.sum() > 500
    for garment in UPPER_GARMENTS:
        changed = (results[name, garment] != person).any(axis=2)
        assert changed[inside].mean() <= MAX_CHANGED_INSIDE, garment


def test_a_beard_over_the_collar_is_kept(persons, poses, results):
    name = "studio_man_hoodie.png"
    person = persons[name]
    nose, _, mouth, face_height, ears = _face_geometry(poses[name])
    # Below the chin the beard is dark grey; the hood is beige and the neck lighter.
    band = np.zeros(person.shape[:2], bool)
    rows = slice(round(mouth[1] + 0.5 * face_height), round(mouth[1] + 1.0 * face_height))
    band[rows, round(nose[0] - 0.5 * ears) : round(nose[0] + 0.5 * ears)] = True
    dark = cv2.cvtColor(person, cv2.COLOR_RGB2LAB)[..., 0] < 110
    beard = cv2.morphologyEx((band & dark).astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    inside = _inside_seam(beard)
    assert inside.sum() > 800
    for garment in UPPER_GARMENTS:
        changed = (results[name, garment] != person).any(axis=2)
        assert changed[inside].mean() <= MAX_CHANGED_INSIDE, garment
