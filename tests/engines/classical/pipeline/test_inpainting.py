import numpy as np
import pytest

from tryon.engines.classical.pipeline.clothing import clothing_zones
from tryon.engines.classical.pipeline.inpainting import body_zones, fill_agnostic, sample_skin_tone, SkinTone
from tryon.engines.classical.pipeline.types import Category
from tryon.engines.classical.pipeline.warp import body_frame

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
        found[name] = (tone, body_zones(persons[name], silhouettes[name], poses[name], tone, Category.UPPER_BODY))
    return found


@pytest.mark.parametrize("name", PERSONS)
def test_skin_tone_is_sampled_from_the_face(persons, poses, name):
    tone = sample_skin_tone(persons[name], poses[name])
    red, green, blue = tone.rgb
    assert red > green > blue  # skin, not beard, hair or background


@pytest.mark.parametrize("name", PERSONS)
def test_clothing_zone_covers_the_torso_and_spares_face_and_background(persons, poses, silhouettes, zones, name):
    pose, body = poses[name], silhouettes[name]
    region = clothing_zones(persons[name], body, pose, zones[name][1], Category.UPPER_BODY).replace
    frame = body_frame(pose)

    torso_centre = (frame.shoulder_mid + frame.hip_mid) / 2
    x, y = np.round(torso_centre).astype(int)
    radius = round(0.2 * frame.shoulder_width)
    assert region[y - radius : y + radius, x - radius : x + radius].mean() > 0.8
    assert not region[_face_box(pose)].any()
    assert not region[~_grown(body, 3)].any()  # at most a narrow seam beyond the silhouette
    # The hands stay as they are.
    for wrist in (15, 16):
        hand = pose.points[[wrist + 2, wrist + 4]].mean(axis=0)  # between pinky and index knuckles
        assert not region[round(hand[1]), round(hand[0])]


def test_old_hood_behind_the_neck_and_wide_sleeves_are_in_the_zone(persons, poses, silhouettes, zones):
    name = "studio_man_hoodie.png"
    pose, body, person = poses[name], silhouettes[name], persons[name]
    region = clothing_zones(person, body, pose, zones[name][1], Category.UPPER_BODY).replace
    frame = body_frame(pose)
    # The hood lies above the shoulder joints, beside the neck: a geometric line there left it visible.
    hood = frame.shoulder_mid - frame.down * 0.15 * frame.shoulder_width
    for side in (-1, 1):
        x, y = np.round(hood + side * 0.3 * frame.shoulder_width * frame.across).astype(int)
        assert region[y - 3 : y + 4, x - 3 : x + 4].mean() > 0.8
    # The old garment as a whole (the hoodie's pixels inside the silhouette above the hips) is covered.
    hoodie = _like(person, person[y, x]) & body
    hoodie[round(frame.hip_mid[1]) :] = False
    assert region[hoodie].mean() > 0.9


def test_trousers_zone_keeps_the_top_over_the_hips(persons, poses, silhouettes):
    name = "studio_woman_jacket.png"
    person, pose, body = persons[name], poses[name], silhouettes[name]
    tone = sample_skin_tone(person, pose)
    zones = body_zones(person, body, pose, tone, Category.LOWER_BODY)
    found = clothing_zones(person, body, pose, zones, Category.LOWER_BODY)
    frame = body_frame(pose)
    knee = np.round((frame.knee_l + frame.hip_l) / 2).astype(int)
    assert found.replace[knee[1] - 5 : knee[1] + 5, knee[0] - 5 : knee[0] + 5].all()  # the old jeans
    # The jacket's hem, beside and just above the hips, is in front, not replaced.
    x, y = np.round(
        frame.hip_l - frame.down * 0.2 * frame.torso_length - frame.across * 0.4 * frame.hip_width
    ).astype(int)
    assert person[y, x].max() < 60  # the black jacket
    assert found.front[y - 3 : y + 4, x - 3 : x + 4].mean() > 0.5
    assert not (found.replace & found.front).any()
    assert not found.replace[zones.protected].any()


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


def _grown(mask, radius):
    import cv2

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)


def _like(image, colour, tolerance=25):
    return np.abs(image.astype(int) - colour.astype(int)).max(axis=2) < tolerance
