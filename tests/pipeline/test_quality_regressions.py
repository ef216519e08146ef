"""Regressions seen on the contact sheet: holes in a tee's torso, old clothes left in the clothing zone."""

import cv2
import numpy as np
import pytest

from tryon.pipeline import Category, prepare_garment, run_tryon
from tryon.pipeline.inpainting import capsule, sample_skin_tone, skin_mask
from tryon.pipeline.pipeline import HEM_LENGTH, _posed_person
from tryon.pipeline.segmentation import cut_out_garment, person_mask
from tryon.pipeline.warp import body_frame, warp_garment

from .conftest import PERSONS

# Known, still open: on the indoor photo about 3.5% of the tee's inner torso is not white (a grey band
# along its hem and its sides under the sleeves), and about 8% of the leg zone still shows the old jeans
# (beside and between the legs). Strict, so fixing them turns these into failures that ask for the mark
# to be removed.
_OPEN = pytest.mark.xfail(strict=True, reason="known open defect on the indoor photo, see module comment")
PERSONS_OPEN = [pytest.param(n, marks=_OPEN) if n.startswith("indoor") else n for n in PERSONS]


@pytest.fixture(scope="module")
def tee(garments):
    return prepare_garment(garments["tshirt_white.jpg"])


@pytest.fixture(scope="module")
def prepared_jeans(jeans):
    return prepare_garment(jeans)


def _zone(person, pose, body, category):
    """The clothing zone from geometry alone: torso and arms, or legs; less face, feet and visible skin."""
    frame = body_frame(pose)
    zone = np.zeros(body.shape, np.uint8)
    if category is Category.UPPER_BODY:
        torso = np.array([frame.shoulder_l, frame.shoulder_r, frame.hip_r, frame.hip_l])
        cv2.fillConvexPoly(zone, np.round(torso).astype(np.int32), 1)
        for shoulder, elbow in ((frame.shoulder_l, frame.elbow_l), (frame.shoulder_r, frame.elbow_r)):
            capsule(zone, shoulder, elbow, 0.12 * frame.shoulder_width, 0.1 * frame.shoulder_width)
    else:
        for hip, knee, ankle in ((frame.hip_l, frame.knee_l, frame.ankle_l), (frame.hip_r, frame.knee_r, frame.ankle_r)):
            capsule(zone, hip + 0.2 * (knee - hip), knee, 0.3 * frame.hip_width, 0.22 * frame.hip_width)
            capsule(zone, knee, knee + 0.8 * (ankle - knee), 0.22 * frame.hip_width, 0.15 * frame.hip_width)
    skin = skin_mask(person, sample_skin_tone(person, pose), chroma_tolerance=8.0)
    return zone.astype(bool) & body & ~skin


def _unchanged_share(person, result, zone):
    """Share of ``zone`` whose colour did not visibly change (old clothing left in place)."""
    before = cv2.cvtColor(person, cv2.COLOR_RGB2LAB).astype(np.float32)
    after = cv2.cvtColor(result, cv2.COLOR_RGB2LAB).astype(np.float32)
    return float((np.linalg.norm(after - before, axis=2)[zone] < 8).mean())


@pytest.mark.parametrize("person_name", PERSONS_OPEN)
def test_tee_covers_its_torso_without_holes(persons, garments, poses, silhouettes, tee, analyzer, person_name):
    person, pose = persons[person_name], poses[person_name]
    result = run_tryon(person, None, analyzer, prepared_garment=tee).image
    body, _ = _posed_person(person_mask(silhouettes[person_name].astype(np.float32)), pose)
    # The whole flat tee, its neck opening included, as it is fitted.
    warped = warp_garment(
        cut_out_garment(garments["tshirt_white.jpg"]), tee.landmarks, pose, person.shape[:2], body=body,
        hem_length=HEM_LENGTH[Category.UPPER_BODY],
    )
    fitted = warp_garment(
        tee.cutout, tee.landmarks, pose, person.shape[:2], body=body, hem_length=HEM_LENGTH[Category.UPPER_BODY]
    )
    torso = ((warped.alpha > 0.5) & (warped.sleeve_alpha < 0.5)).astype(np.uint8)
    # The neck opening (the tee's inside, not pasted) shows the neck.
    opening = cv2.dilate(((warped.alpha > 0.5) & (fitted.alpha <= 0.5)).astype(np.uint8), np.ones((9, 9), np.uint8))
    hull = np.zeros_like(torso)
    cv2.fillConvexPoly(hull, cv2.convexHull(cv2.findNonZero(torso)), 1)
    inner = cv2.erode(hull, np.ones((25, 25), np.uint8)).astype(bool)  # clear of its own edge shading
    skin = skin_mask(person, sample_skin_tone(person, pose), chroma_tolerance=8.0)  # hands in front
    inside = inner & ~skin & ~opening.astype(bool)
    # A white tee: everything inside its torso is light and nearly grey (no skin, background or old garment).
    light = result.min(axis=2) > 150
    assert light[inside].mean() > 0.97


@pytest.mark.parametrize("person_name", PERSONS)
def test_old_top_does_not_survive_under_the_tee(persons, poses, silhouettes, tee, analyzer, person_name):
    person, pose = persons[person_name], poses[person_name]
    result = run_tryon(person, None, analyzer, prepared_garment=tee).image
    zone = _zone(person, pose, silhouettes[person_name], Category.UPPER_BODY)
    assert _unchanged_share(person, result, zone) < 0.03


@pytest.mark.parametrize("person_name", PERSONS_OPEN)
def test_old_trousers_do_not_survive_under_jeans(persons, poses, silhouettes, prepared_jeans, analyzer, person_name):
    person, pose = persons[person_name], poses[person_name]
    result = run_tryon(person, None, analyzer, prepared_garment=prepared_jeans).image
    zone = _zone(person, pose, silhouettes[person_name], Category.LOWER_BODY)
    assert _unchanged_share(person, result, zone) < 0.03
