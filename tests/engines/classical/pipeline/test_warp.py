import numpy as np
import pytest

from tryon.errors import GarmentNotFound
from tryon.engines.classical.pipeline import prepare_garment
from tryon.engines.classical.pipeline.landmarks import garment_landmarks
from tryon.engines.classical.pipeline.pipeline import WAIST_UP
from tryon.engines.classical.pipeline.segmentation import cut_out_garment
from tryon.engines.classical.pipeline.warp import body_frame, warp_garment
from tryon.engines.classical.pipeline.warp_lower import warp_lower_body

from .conftest import PERSONS, UPPER_GARMENTS


@pytest.fixture(scope="module")
def prepared(garments):
    cutouts = {name: cut_out_garment(photo) for name, photo in garments.items()}
    return {name: (cutout, garment_landmarks(cutout)) for name, cutout in cutouts.items()}


@pytest.mark.parametrize("name", UPPER_GARMENTS)
def test_garment_landmarks_lie_in_order(prepared, name):
    cutout, marks = prepared[name]
    height, width = cutout.mask.shape
    x = {key: value[0] for key, value in vars(marks).items()}
    y = {key: value[1] for key, value in vars(marks).items()}

    assert x["left_shoulder"] < x["neck"] < x["right_shoulder"]
    assert x["left_hem"] < x["neck"] < x["right_hem"]
    assert y["neck"] < y["left_shoulder"] < y["left_armpit"] < y["left_hem"]
    assert y["neck"] < y["right_shoulder"] < y["right_armpit"] < y["right_hem"]
    # Sleeve ends are beyond the torso's sides; the torso is a good share of the garment's width.
    assert x["left_sleeve_end"] < x["left_hem"] and x["right_sleeve_end"] > x["right_hem"]
    assert x["right_hem"] - x["left_hem"] > 0.4 * width
    # Every landmark is on (or at the edge of) the garment.
    for key, (px, py) in vars(marks).items():
        row, col = min(height - 1, round(py)), min(width - 1, round(px))
        near = cutout.mask[max(0, row - 6) : row + 7, max(0, col - 6) : col + 7]
        assert near.any(), key


def test_long_and_short_sleeves_are_told_apart(prepared):
    def sleeve_length(name):
        _, marks = prepared[name]
        shoulder, end = np.array(marks.left_shoulder), np.array(marks.left_sleeve_end)
        torso = marks.left_hem[1] - marks.left_shoulder[1]
        return np.linalg.norm(end - shoulder) / torso

    assert sleeve_length("tshirt_white.jpg") < 0.6 < sleeve_length("shirt_oxford_blue.jpg")


def test_garment_landmarks_read_opencv_5_convexity_defects(prepared, monkeypatch):
    """OpenCV 5 returns convexity defects as (N, 4) where OpenCV 4 gave (N, 1, 4); the landmarks
    must not depend on which one is installed (the pinned mediapipe brings 4, newer images 5)."""
    import cv2

    opencv_4 = cv2.convexityDefects

    def opencv_5(contour, hull):
        defects = opencv_4(contour, hull)
        return None if defects is None else defects.reshape(-1, 4)

    monkeypatch.setattr(cv2, "convexityDefects", opencv_5)
    cutout, marks = prepared["shirt_oxford_blue.jpg"]

    assert vars(garment_landmarks(cutout)).keys() == vars(marks).keys()
    for key, value in vars(garment_landmarks(cutout)).items():
        np.testing.assert_allclose(value, vars(marks)[key], err_msg=key)


def test_lower_body_garment_is_rejected(jeans):
    with pytest.raises(GarmentNotFound, match="upper-body"):
        garment_landmarks(cut_out_garment(jeans))


@pytest.mark.parametrize("name", UPPER_GARMENTS)
def test_warped_garment_covers_the_torso_and_stays_near_the_body(prepared, poses, silhouettes, persons, name):
    cutout, marks = prepared[name]
    person = "studio_man_hoodie.png"
    pose, body = poses[person], silhouettes[person]
    warped = warp_garment(cutout, marks, pose, persons[person].shape[:2], body=body)

    assert warped.rgb.shape == persons[person].shape and warped.rgb.dtype == np.uint8
    assert warped.alpha.shape == body.shape and 0 <= warped.alpha.min() and warped.alpha.max() <= 1
    frame = body_frame(pose)
    # The quadrilateral between shoulders and hips, shrunk towards its middle, is covered.
    corners = np.array([frame.shoulder_l, frame.shoulder_r, frame.hip_r, frame.hip_l])
    middle = corners.mean(axis=0)
    for t in np.linspace(0.0, 1.0, 9):
        for a, b in zip(corners, np.roll(corners, -1, axis=0)):
            x, y = middle + 0.8 * (a + t * (b - a) - middle)
            assert warped.alpha[round(y), round(x)] > 0.9
    # Nothing is drawn far from the person.
    far = ~_grown(body, round(0.1 * frame.shoulder_width))
    assert warped.alpha[far].max() < 0.05


def test_sleeves_follow_the_arms(prepared, poses, silhouettes, persons):
    cutout, marks = prepared["shirt_oxford_blue.jpg"]
    person = "indoor_man_sweater.jpg"
    pose = poses[person]
    warped = warp_garment(cutout, marks, pose, persons[person].shape[:2], body=silhouettes[person])
    frame = body_frame(pose)
    for elbow in (frame.elbow_l, frame.elbow_r):
        x, y = np.round(elbow).astype(int)
        assert warped.sleeve_alpha[y, x] > 0.9


def _grown(mask, radius):
    import cv2

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)


@pytest.mark.parametrize("name", PERSONS)
def test_both_legs_of_full_length_jeans_end_at_the_ankles(jeans, poses, persons, name):
    prepared = prepare_garment(jeans)
    pose = poses[name]
    warped = warp_lower_body(prepared.cutout, prepared.landmarks, pose, persons[name].shape[:2], waist_up=WAIST_UP)
    frame = body_frame(pose)
    hems = []
    for ankle in (frame.ankle_l, frame.ankle_r):
        column = warped.alpha[:, round(ankle[0]) - 5 : round(ankle[0]) + 6].max(axis=1) > 0.5
        hems.append(int(np.flatnonzero(column)[-1]))
    # One pair: the hems at the same height (not one leg short), at the ankles.
    assert abs(hems[0] - hems[1]) < 0.1 * frame.hip_width + abs(frame.ankle_l[1] - frame.ankle_r[1])
    for hem, ankle in zip(hems, (frame.ankle_l, frame.ankle_r)):
        assert hem > ankle[1] - 0.3 * frame.hip_width
