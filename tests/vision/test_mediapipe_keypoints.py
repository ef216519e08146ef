"""Keypoints from mediapipe's bundled models, on the team's person photos."""

import numpy as np
import pytest
from PIL import Image

from tryon.engines.fashn_vton.inputs import PRE_RESIZE_SIDE
from tryon.engines.fashn_vton.pose_map import draw_pose_map
from tryon.vision.canvas import pre_resize
from tryon.vision.keypoints import BODY_POINT_NAMES
from tryon.vision.mediapipe_keypoints import MediapipeKeypoints, body_points

PERSONS = ["indoor_man_sweater.jpg", "studio_man_hoodie.png", "studio_woman_jacket.png"]
POINT = {name: index for index, name in enumerate(BODY_POINT_NAMES)}
# iBUG face points used below.
JAW_RIGHT_END, JAW_LEFT_END, NOSE_TIP, UPPER_LIP_TOP = 0, 16, 30, 51
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 36, 45


@pytest.fixture(scope="module")
def mediapipe_keypoints():
    with MediapipeKeypoints() as estimate:
        yield estimate


@pytest.fixture(scope="module", params=PERSONS)
def person(request, data_dir):
    return pre_resize(np.asarray(Image.open(data_dir / "persons" / request.param).convert("RGB")), PRE_RESIZE_SIDE)


def test_body_points_are_where_a_standing_person_has_them(mediapipe_keypoints, person):
    keypoints = mediapipe_keypoints(person)
    body = {name: keypoints.body[index] for name, index in POINT.items()}

    assert keypoints.body_seen.all()
    assert np.all((keypoints.body >= 0) & (keypoints.body <= 1))
    # Facing the camera: the person's right side is on the photo's left.
    for side in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle", "eye", "ear"):
        assert body[f"right_{side}"][0] < body[f"left_{side}"][0], side
    assert body["right_eye"][0] < body["nose"][0] < body["left_eye"][0]
    assert np.allclose(body["neck"], (body["right_shoulder"] + body["left_shoulder"]) / 2)
    heights = [body[name][1] for name in ("nose", "neck", "right_hip", "right_knee", "right_ankle")]
    assert heights == sorted(heights)
    assert body["left_shoulder"][1] < body["left_hip"][1] < body["left_ankle"][1]


def test_hands_are_at_the_wrists(mediapipe_keypoints, person):
    keypoints = mediapipe_keypoints(person)
    height, width = person.shape[:2]
    pixels = np.array([width, height])
    for hand, wrist in zip(keypoints.hands, ("left_wrist", "right_wrist")):
        assert np.all(hand >= 0), wrist
        pose_wrist = keypoints.body[POINT[wrist]] * pixels
        # The hand model's wrist (point 0) is near Pose's, and the fingers lie beyond it, downwards.
        assert np.linalg.norm(hand[0] * pixels - pose_wrist) < 0.03 * height, wrist
        assert np.median(hand[1:, 1]) > hand[0, 1], wrist


def test_face_points_outline_the_face(mediapipe_keypoints, person):
    keypoints = mediapipe_keypoints(person)
    face, body = keypoints.face, keypoints.body

    assert np.all(face >= 0)
    assert face[JAW_RIGHT_END, 0] < body[POINT["nose"]][0] < face[JAW_LEFT_END, 0]
    assert face[RIGHT_EYE_OUTER, 0] < face[LEFT_EYE_OUTER, 0]
    assert face[RIGHT_EYE_OUTER, 1] < face[NOSE_TIP, 1] < face[UPPER_LIP_TOP, 1]
    nose = body[POINT["nose"]]
    assert np.linalg.norm(face[NOSE_TIP] - nose) < 0.02
    # The jaw spans about the distance between the ears.
    jaw = face[JAW_LEFT_END, 0] - face[JAW_RIGHT_END, 0]
    ears = body[POINT["left_ear"]][0] - body[POINT["right_ear"]][0]
    assert 0.7 < jaw / ears < 1.4


def test_pose_map_draws_body_hands_and_face(mediapipe_keypoints, person):
    pose_map = draw_pose_map(mediapipe_keypoints(person), *person.shape[:2])
    assert 0.02 < (pose_map > 0).mean() < 0.2
    assert {240, 200} <= set(np.unique(pose_map).tolist())  # hand joints, face points


def test_no_person_gives_no_points(mediapipe_keypoints):
    keypoints = mediapipe_keypoints(np.full((864, 576, 3), 128, np.uint8))
    assert not keypoints.body_seen.any()
    assert not draw_pose_map(keypoints, 864, 576).any()


def test_body_points_map_mediapipe_landmarks():
    landmarks = np.stack([np.arange(33) / 100, np.arange(33) / 50], axis=1)
    seen = np.ones(33, bool)
    seen[12] = False  # the right shoulder: no right shoulder, no neck

    body = body_points(landmarks, seen)

    assert np.allclose(body[POINT["nose"]], landmarks[0])
    assert np.allclose(body[POINT["left_shoulder"]], landmarks[11])
    assert np.allclose(body[POINT["right_wrist"]], landmarks[16])
    assert np.allclose(body[POINT["left_ear"]], landmarks[7])
    assert np.all(body[POINT["right_shoulder"]] == -1) and np.all(body[POINT["neck"]] == -1)
    seen[12] = True
    assert np.allclose(body_points(landmarks, seen)[POINT["neck"]], (landmarks[11] + landmarks[12]) / 2)


def test_a_grey_image_is_refused(mediapipe_keypoints):
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        mediapipe_keypoints(np.zeros((864, 576), np.uint8))
