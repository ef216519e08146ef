"""The geometric garment mask and Segment Anything's prompts on the shared people's keypoints."""

from __future__ import annotations

import numpy as np
import pytest

from tryon.vision.body import BodyPoints
from tryon.vision.prompts import garment_prompts
from tryon.vision.zones import CATEGORIES, ZoneNotVisible, face_and_hands, garment_zone, geometric_garment_mask, seen_face_and_hands

from .conftest import PERSONS


def at(mask: np.ndarray, point: np.ndarray) -> bool:
    x, y = np.round(point).astype(int)
    return bool(mask[y, x])


def landmarks(body: BodyPoints) -> dict[str, np.ndarray]:
    """Places on the body: the chest, each upper arm, each thigh, each shin, the face, each hand."""
    p = body.points
    shoulders, hips = body.mid("left_shoulder", "right_shoulder"), body.mid("left_hip", "right_hip")
    places = {"chest": shoulders + 0.35 * (hips - shoulders), "face": body.face.mean(axis=0) if len(body.face) else p["nose"]}
    for side in ("left", "right"):
        places[f"{side}_upper_arm"] = p[f"{side}_shoulder"] + 0.4 * (p[f"{side}_elbow"] - p[f"{side}_shoulder"])
        places[f"{side}_thigh"] = p[f"{side}_hip"] + 0.5 * (p[f"{side}_knee"] - p[f"{side}_hip"])
        places[f"{side}_shin"] = p[f"{side}_knee"] + 0.6 * (p[f"{side}_ankle"] - p[f"{side}_knee"])
        places[f"{side}_hand"] = p[f"{side}_wrist"] + 0.3 * (p[f"{side}_wrist"] - p[f"{side}_elbow"])
    return places


COVERED = {
    "upper_body": ("chest", "left_upper_arm", "right_upper_arm"),
    "lower_body": ("left_thigh", "right_thigh", "left_shin", "right_shin"),
    "dresses": ("chest", "left_upper_arm", "right_upper_arm", "left_thigh", "right_thigh"),
}
LEFT_ALONE = {
    "upper_body": ("face", "left_hand", "right_hand", "left_shin", "right_shin"),
    "lower_body": ("face", "chest", "left_hand", "right_hand"),
    "dresses": ("face", "left_hand", "right_hand"),
}


@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("name", PERSONS)
def test_the_geometric_mask_covers_the_garment_zone_and_leaves_face_and_hands(worn, name, category):
    photo = worn[name]
    mask = geometric_garment_mask(photo.silhouette, photo.body, category)
    places = landmarks(photo.body)
    assert all(at(mask, places[place]) for place in COVERED[category]), [p for p in COVERED[category] if not at(mask, places[p])]
    assert not any(at(mask, places[place]) for place in LEFT_ALONE[category])
    assert not (mask & face_and_hands(photo.body)).any()
    assert not (mask & ~photo.silhouette).any()  # only the wearer, never the whole photo
    assert 0.02 < mask.mean() < photo.silhouette.mean()


def test_a_zone_needs_its_points():
    body = BodyPoints(size=(100, 100), points={"nose": np.array([50.0, 20.0])})
    with pytest.raises(ZoneNotVisible, match="left_shoulder"):
        garment_zone(body, "upper_body")
    with pytest.raises(ZoneNotVisible, match="left_hip"):
        garment_prompts(body, "lower_body")


@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("name", PERSONS)
def test_prompts_lie_on_the_garment_and_off_face_hands_and_the_other_garment(worn, name, category):
    photo = worn[name]
    prompts = garment_prompts(photo.body, category)
    zone, kept = garment_zone(photo.body, category), face_and_hands(photo.body)
    assert len(prompts.positive) >= 3 and len(prompts.negative) >= 3
    assert all(at(zone & photo.silhouette, point) and not at(kept, point) for point in prompts.positive)
    # Every negative point is on the face, a hand, or outside this category's zone (the other garment).
    assert all(at(kept, point) or not at(zone, point) for point in prompts.negative)
    places = landmarks(photo.body)
    assert any(at(kept, point) and np.linalg.norm(point - places["face"]) < 80 for point in prompts.negative)
    if category == "upper_body":  # the thighs under a top
        assert sum(not at(zone, point) for point in prompts.negative) >= 2
    if category == "lower_body":  # the chest above trousers
        assert any(np.linalg.norm(point - places["chest"]) < 60 for point in prompts.negative)
    height, width = photo.image.shape[:2]
    assert np.all((prompts.points >= 0) & (prompts.points < [width, height]))
    assert set(prompts.labels.tolist()) == {0, 1}


def test_the_seen_face_and_hands_are_their_points_hulls_without_the_cuff():
    hand = np.array([[60.0, 70.0], [70.0, 70.0], [70.0, 85.0], [60.0, 85.0]])
    body = BodyPoints(
        size=(100, 100),
        points={"left_elbow": np.array([65.0, 40.0]), "left_wrist": np.array([65.0, 62.0])},
        face=np.array([[40.0, 10.0], [55.0, 10.0], [48.0, 25.0]]),
        hands=(hand,),
    )
    seen = seen_face_and_hands(body)
    assert seen[75, 65] and seen[15, 48]  # inside the hand's and the face's points
    assert not seen[63, 65] and face_and_hands(body)[63, 65]  # the wrist (a cuff) is only in the grown mask
    assert seen.sum() < face_and_hands(body).sum()
    assert not seen_face_and_hands(BodyPoints(size=(100, 100), points={})).any()
