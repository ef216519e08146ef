import numpy as np
import pytest

from tryon.pipeline.inpainting import agnostic_mask, body_zones, fill_agnostic, sample_skin_tone, SkinTone
from tryon.pipeline.warp import body_frame

from .conftest import PERSONS


def _face_box(pose):
    """The box from the eyes to the mouth, between the ears: certainly face."""
    points = pose.points
    left, right = sorted([points[7][0], points[8][0]])
    top, bottom = points[2][1] - 10, points[10][1] + 5
    return slice(round(top), round(bottom)), slice(round(left) + 5, round(right) - 5)


@pytest.fixture(scope="module")
def zones(persons, poses, silhouettes):
    found = {}
    for name in PERSONS:
        tone = sample_skin_tone(persons[name], poses[name])
        found[name] = (tone, body_zones(persons[name], silhouettes[name], poses[name], tone))
    return found


@pytest.mark.parametrize("name", PERSONS)
def test_skin_tone_is_sampled_from_the_face(persons, poses, name):
    tone = sample_skin_tone(persons[name], poses[name])
    red, green, blue = tone.rgb
    assert red > green > blue  # skin, not beard, hair or background


@pytest.mark.parametrize("name", PERSONS)
def test_agnostic_mask_covers_the_torso_and_spares_face_and_background(poses, silhouettes, zones, name):
    pose, body = poses[name], silhouettes[name]
    region = agnostic_mask(body, pose, zones[name][1])
    frame = body_frame(pose)

    torso_centre = (frame.shoulder_mid + frame.hip_mid) / 2
    x, y = np.round(torso_centre).astype(int)
    radius = round(0.2 * frame.shoulder_width)
    assert region[y - radius : y + radius, x - radius : x + radius].mean() > 0.8
    assert not region[_face_box(pose)].any()
    assert not region[~body].any()
    # The hands stay as they are.
    for wrist in (15, 16):
        hand = pose.points[[wrist + 2, wrist + 4]].mean(axis=0)  # between pinky and index knuckles
        assert not region[round(hand[1]), round(hand[0])]


def test_hands_are_protected_but_not_the_cuffs(persons, poses, zones):
    name = "studio_man_hoodie.png"
    protected = zones[name][1].protected
    pose = poses[name]
    for wrist in (15, 16):
        knuckles = pose.points[[wrist + 2, wrist + 4]].mean(axis=0)
        assert protected[round(knuckles[1]), round(knuckles[0])]
        elbow = pose.points[wrist - 2]
        cuff = pose.points[wrist] + 0.12 * (elbow - pose.points[wrist])  # just up the forearm
        assert not protected[round(cuff[1]), round(cuff[0])]


def test_fill_repaints_only_the_region_and_paints_skin_on_bare_limbs():
    person = np.zeros((200, 160, 3), np.uint8)
    person[:] = (200, 200, 210)  # backdrop
    person[40:160, 50:110] = (20, 20, 30)  # a dark old sleeve
    region = np.zeros((200, 160), bool)
    region[40:160, 50:110] = True
    bare = np.zeros_like(region)
    bare[40:160, 65:95] = True  # the arm inside the sleeve
    tone = SkinTone(np.array([180.0, 145.0, 145.0], np.float32))

    filled = fill_agnostic(person, region, bare_skin=bare, tone=tone)

    assert np.array_equal(filled[~region], person[~region])
    arm = filled[60:140, 72:88].reshape(-1, 3).astype(float)
    assert np.abs(arm.mean(axis=0) - tone.rgb).max() < 30  # skin, not the dark old sleeve
    outside_arm = filled[60:140, 52:58].reshape(-1, 3).astype(float)
    assert outside_arm.mean() > 120  # the old sleeve's edges become backdrop-like, not dark fabric
