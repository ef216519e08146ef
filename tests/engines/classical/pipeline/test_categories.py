import numpy as np
import pytest

from tryon.errors import NoPersonFound
from tryon.engines.classical.pipeline import (
    BodyPartNotVisible,
    Category,
    CategoryMismatch,
    prepare_garment,
    run_tryon,
)
from tryon.engines.classical.pipeline.categories import check_body_visible, garment_length_ratio, place_unseen_ankles
from tryon.engines.classical.pipeline.landmarks import garment_landmarks, lower_body_landmarks
from tryon.engines.classical.pipeline.segmentation import cut_out_garment
from tryon.engines.classical.pipeline.types import BodyPose, GarmentCutout
from tryon.engines.classical.pipeline.warp import body_frame
from tryon.vision.garments import GarmentUndecidable, classify_flat_lay

from .conftest import UPPER_GARMENTS


@pytest.fixture(scope="module")
def prepared_jeans(jeans):
    return prepare_garment(jeans)


def test_auto_picks_lower_body_for_the_jeans(prepared_jeans):
    assert prepared_jeans.category is Category.LOWER_BODY
    assert prepared_jeans.landmarks.has_legs
    assert "two legs" in prepared_jeans.reason


@pytest.mark.parametrize("name", UPPER_GARMENTS)
def test_auto_picks_upper_body_for_the_tops(garments, name):
    cutout = cut_out_garment(garments[name])
    assert classify_flat_lay(cutout.mask).category == "upper_body"
    assert classify_flat_lay(cutout.mask, garment_length_ratio(garment_landmarks(cutout))).category == "upper_body"


def _cutout(mask):
    return GarmentCutout(rgb=np.zeros((*mask.shape, 3), np.uint8), alpha=mask.astype(np.float32), mask=mask)


def test_a_long_one_piece_is_a_dress_and_a_flared_one_without_sleeves_a_skirt():
    import cv2

    dress = np.zeros((700, 400), np.uint8)
    outline = [(150, 20), (180, 40), (220, 40), (250, 20), (330, 60), (390, 160), (330, 190), (300, 150),
               (290, 300), (380, 680), (20, 680), (110, 300), (100, 150), (70, 190), (10, 160), (70, 60)]
    cv2.fillPoly(dress, [np.array(outline, np.int32)], 1)
    mask = dress.astype(bool)
    assert classify_flat_lay(mask, garment_length_ratio(garment_landmarks(_cutout(mask)))).category == "dresses"

    skirt = np.zeros((400, 420), np.uint8)
    cv2.fillPoly(skirt, [np.array([(110, 20), (310, 20), (400, 380), (20, 380)], np.int32)], 1)
    assert classify_flat_lay(skirt.astype(bool)).category == "lower_body"
    marks = lower_body_landmarks(_cutout(skirt.astype(bool)))
    assert not marks.has_legs


def test_a_folded_garment_fails_under_auto_naming_the_category_field_and_dresses_as_a_top_on_request(persons, analyzer):
    folded = np.full((600, 600, 3), 235, np.uint8)
    folded[150:450, 120:480] = (40, 60, 140)  # a folded shirt: a plain rectangle, no cut to read
    prepared = prepare_garment(folded)
    assert prepared.category is Category.AUTO
    with pytest.raises(GarmentUndecidable, match="Send the category field"):
        run_tryon(persons["studio_man_hoodie.png"], prepared, analyzer)
    result = run_tryon(persons["studio_man_hoodie.png"], prepared, analyzer, category=Category.UPPER_BODY)
    assert result.category is Category.UPPER_BODY and "decides nothing" in result.notes[0]


def test_jeans_landmarks_lie_in_order(prepared_jeans):
    m = prepared_jeans.landmarks
    assert m.waist_left[0] < m.crotch[0] < m.waist_right[0]
    assert m.waist_left[1] < m.crotch[1] < m.left_hem_outer[1]
    assert m.left_hem_outer[0] < m.left_hem_inner[0] < m.crotch[0] < m.right_hem_inner[0] < m.right_hem_outer[0]


def test_jeans_on_a_person_change_the_legs_and_keep_face_and_background(
    persons, prepared_jeans, analyzer, poses, silhouettes
):
    name = "studio_man_hoodie.png"
    person = persons[name]
    result = run_tryon(person, prepared_jeans, analyzer)
    assert result.category is Category.LOWER_BODY
    assert result.notes[0] == "category auto -> lower_body (two legs, no sleeves)"
    frame = body_frame(poses[name])
    # The thigh changed to the jeans' blue; the chest (the hoodie) did not change.
    for hip, knee in ((frame.hip_l, frame.knee_l), (frame.hip_r, frame.knee_r)):
        x, y = np.round(hip + 0.5 * (knee - hip)).astype(int)
        before, after = person[y - 8 : y + 8, x - 8 : x + 8], result.image[y - 8 : y + 8, x - 8 : x + 8]
        assert np.abs(after.astype(float) - before).mean() > 20
        red, green, blue = np.median(after.reshape(-1, 3), axis=0)
        assert blue > red
    x, y = np.round(frame.shoulder_mid + 0.4 * (frame.hip_mid - frame.shoulder_mid)).astype(int)
    assert np.array_equal(result.image[y - 20 : y + 20, x - 20 : x + 20], person[y - 20 : y + 20, x - 20 : x + 20])
    points = poses[name].points
    face = (slice(round(points[2][1]) - 10, round(points[10][1])), slice(round(points[8][0]) + 5, round(points[7][0]) - 5))
    assert np.array_equal(result.image[face], person[face])
    far = ~_grown(silhouettes[name], round(0.6 * frame.hip_width))
    assert np.array_equal(result.image[far], person[far])


def test_trousers_on_a_head_and_shoulders_photo_fail_with_a_reason(persons, prepared_jeans, analyzer, poses):
    name = "studio_woman_jacket.png"
    hips_y = int(poses[name].points[[23, 24], 1].max())
    crop = np.ascontiguousarray(persons[name][: hips_y + 40])
    with pytest.raises(BodyPartNotVisible, match=r"knees.*lower-body garment needs the hips and knees"):
        run_tryon(crop, prepared_jeans, analyzer)


@pytest.mark.parametrize("name", ["studio_man_hoodie.png", "studio_woman_jacket.png"])  # trousers unlike the jeans
def test_trousers_on_a_photo_cropped_at_mid_shin_are_dressed_to_the_frame_edge(
    persons, jeans, prepared_jeans, analyzer, poses, name
):
    points = poses[name].points
    mid_shin = round((points[[25, 26], 1].mean() + points[[27, 28], 1].mean()) / 2)
    crop = np.ascontiguousarray(persons[name][:mid_shin])
    result = run_tryon(crop, prepared_jeans, analyzer)
    assert result.category is Category.LOWER_BODY
    # The bottom rows of each shin, where it leaves the frame, show the new dark blue jeans.
    for knee, ankle in ((25, 27), (26, 28)):
        x = round((points[knee][0] + points[ankle][0]) / 2)
        before = crop[-12:, x - 10 : x + 10].reshape(-1, 3).astype(float)
        after = result.image[-12:, x - 10 : x + 10].reshape(-1, 3).astype(float)
        red, green, blue = np.median(after, axis=0)
        assert np.abs(after - before).mean() > 15
        assert blue > red + 15 and blue < 150


def test_body_part_not_visible_is_a_no_person_found(poses):
    pose = poses["studio_man_hoodie.png"]
    assert issubclass(BodyPartNotVisible, NoPersonFound)
    with pytest.raises(BodyPartNotVisible, match="knees"):
        check_body_visible(pose, (900, 768), Category.LOWER_BODY, min_visibility=0.5)  # knees below the frame
    assert check_body_visible(pose, (1000, 768), Category.LOWER_BODY, min_visibility=0.5) is pose  # ankles below
    assert check_body_visible(pose, (1376, 768), Category.LOWER_BODY, min_visibility=0.5) is pose


def test_unseen_ankles_inside_the_frame_are_placed_along_the_leg(poses):
    pose = poses["studio_man_hoodie.png"]
    hidden = BodyPose(points=pose.points, visibility=np.where(np.arange(33) == 27, 0.1, pose.visibility))
    placed = place_unseen_ankles(hidden, (1376, 768), min_visibility=0.5)
    knee, hip = pose.points[25], pose.points[23]
    assert np.allclose(placed.points[27], knee + 0.9 * (knee - hip))
    assert np.array_equal(placed.points[28], pose.points[28])  # seen: kept
    below = place_unseen_ankles(hidden, (1000, 768), min_visibility=0.5)  # predicted below the frame: kept
    assert np.array_equal(below.points, pose.points)


def test_explicit_category_wins_but_trousers_cannot_be_a_top(persons, jeans, prepared_jeans, analyzer):
    with pytest.raises(CategoryMismatch, match="lower-body garment, but category upper_body"):
        run_tryon(persons["studio_man_hoodie.png"], prepared_jeans, analyzer, category=Category.UPPER_BODY)
    result = run_tryon(persons["studio_man_hoodie.png"], prepared_jeans, analyzer, category="lower_body")
    assert result.category is Category.LOWER_BODY and "as requested" in result.notes[0]


def test_of_two_people_the_posed_one_is_kept(poses):
    from tryon.engines.classical.pipeline.pipeline import _posed_person

    pose = poses["studio_man_hoodie.png"]
    frame = body_frame(pose)
    silhouette = np.zeros((1376, 768), bool)
    top, bottom = np.round([frame.shoulder_mid[1], frame.hip_mid[1]]).astype(int)
    left, right = np.round(sorted([frame.shoulder_l[0], frame.shoulder_r[0]])).astype(int)
    silhouette[top:bottom, left:right] = True  # the posed person
    silhouette[100:400, 20:120] = True  # someone else, smaller
    silhouette[10:14, 700:704] = True  # a speck
    body, people = _posed_person(silhouette, pose)
    assert people == 2
    assert body[top:bottom, left:right].all() and not body[100:400, 20:120].any() and body[10:14, 700:704].all()


def _grown(mask, radius):
    import cv2

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)
