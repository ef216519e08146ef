import numpy as np
import pytest

from tryon.engines.fashn_vton.pose_map import draw_pose_map, empty_pose_map
from tryon.vision.keypoints import Keypoints, load_keypoints

from .golden_images import POSE, assert_png_matches, read_json, read_png


def test_golden_pose_map():
    pose = read_json(POSE / "pose_input.json")
    pose_map = draw_pose_map(load_keypoints(POSE / "pose_input.json"), pose["H"], pose["W"])
    assert_png_matches(pose_map, read_png(POSE / "pose_map.png"))


def test_golden_flat_lay_pose_map():
    size = read_json(POSE / "pose_map_flat_lay.json")
    assert_png_matches(empty_pose_map(size["H"], size["W"]), read_png(POSE / "pose_map_flat_lay.png"))


def test_unseen_body_points_are_not_drawn():
    pose = read_json(POSE / "pose_input.json")
    keypoints = load_keypoints(pose)
    unseen = [point for point, row in enumerate(pose["subset"][0]) if row == -1]
    assert unseen and not keypoints.body_seen[unseen].any()
    # As the reference keeps them: the candidate's coordinates, marked unseen in the subset.
    assert np.array_equal(keypoints.body[unseen], np.asarray(pose["candidate"])[unseen])
    assert keypoints.to_reference()["subset"] == pose["subset"]
    sent = Keypoints.from_array(keypoints.to_array())
    assert np.array_equal(sent.body, keypoints.body) and np.array_equal(sent.body_visible, keypoints.body_visible)

    # The reference's candidate still holds coordinates for them: drawing them would change the map.
    seen_anyway = load_keypoints({**pose, "subset": [list(range(18))]})
    assert not np.array_equal(draw_pose_map(seen_anyway, 864, 576), draw_pose_map(keypoints, 864, 576))


def test_reference_json_round_trip():
    keypoints = load_keypoints(POSE / "pose_input.json")
    again = load_keypoints(keypoints.to_reference())
    for name in ("body", "hands", "face"):
        assert np.array_equal(getattr(again, name), getattr(keypoints, name))


def test_pose_map_parts():
    keypoints = load_keypoints(POSE / "pose_input.json")
    nothing = Keypoints.none_seen()
    body_only = Keypoints(body=keypoints.body, hands=nothing.hands, face=nothing.face, body_visible=keypoints.body_visible)
    full, body = draw_pose_map(keypoints, 864, 576), draw_pose_map(body_only, 864, 576)
    assert full.dtype == np.uint8 and full.shape == (864, 576)
    # Hands add their 240 joints and face points their 200 discs on top of the body.
    assert (full == 240).sum() > (body == 240).sum()
    assert (full == 200).sum() > (body == 200).sum()
    assert body.max() <= 255 and set(np.unique(body)) >= {0, 12}  # the first limb: 60 % of 20


def test_a_pose_without_hands_or_face_draws_the_body_alone():
    pose = read_json(POSE / "pose_input.json")
    without = load_keypoints({**pose, "hands": [], "faces": []})
    assert np.all(without.hands == -1) and np.all(without.face == -1)
    nothing = Keypoints.none_seen()
    body = load_keypoints(pose)
    body_only = Keypoints(body=body.body, hands=nothing.hands, face=nothing.face, body_visible=body.body_visible)
    assert np.array_equal(draw_pose_map(without, 864, 576), draw_pose_map(body_only, 864, 576))


def test_keypoints_shapes_are_checked():
    with pytest.raises(ValueError, match="hands"):
        Keypoints(body=np.zeros((18, 2)), hands=np.zeros((21, 2)), face=np.zeros((68, 2)))
