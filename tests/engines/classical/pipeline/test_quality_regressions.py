"""Regressions seen on the contact sheet: holes in a tee's torso, old clothes left in the clothing zone."""

import cv2
import numpy as np
import pytest

from tryon.engines.classical.pipeline import Category, prepare_garment, run_tryon
from tryon.engines.classical.pipeline.inpainting import capsule, sample_skin_tone, skin_mask
from tryon.vision.masks import fill_holes
from tryon.engines.classical.pipeline.pipeline import HEM_LENGTH, WAIST_UP, _posed_person
from tryon.engines.classical.pipeline.segmentation import cut_out_garment, person_mask
from tryon.engines.classical.pipeline.warp import body_frame, warp_garment
from tryon.engines.classical.pipeline.warp_lower import warp_lower_body

from .conftest import PERSONS

@pytest.fixture(scope="module")
def tee(garments):
    return prepare_garment(garments["tshirt_white.jpg"])


@pytest.fixture(scope="module")
def prepared_jeans(jeans):
    return prepare_garment(jeans)


def _top_zone(person, pose, body):
    """The top's zone from geometry alone: torso and upper arms, less visible skin."""
    frame = body_frame(pose)
    zone = np.zeros(body.shape, np.uint8)
    torso = np.array([frame.shoulder_l, frame.shoulder_r, frame.hip_r, frame.hip_l])
    cv2.fillConvexPoly(zone, np.round(torso).astype(np.int32), 1)
    for shoulder, elbow in ((frame.shoulder_l, frame.elbow_l), (frame.shoulder_r, frame.elbow_r)):
        capsule(zone, shoulder, elbow, 0.12 * frame.shoulder_width, 0.1 * frame.shoulder_width)
    skin = skin_mask(person, sample_skin_tone(person, pose), chroma_tolerance=8.0)
    return zone.astype(bool) & body & ~skin


def _unchanged_share(person, result, zone):
    """Share of ``zone`` whose colour did not visibly change (old clothing left in place)."""
    before = cv2.cvtColor(person, cv2.COLOR_RGB2LAB).astype(np.float32)
    after = cv2.cvtColor(result, cv2.COLOR_RGB2LAB).astype(np.float32)
    return float((np.linalg.norm(after - before, axis=2)[zone] < 8).mean())


@pytest.mark.parametrize("person_name", PERSONS)
def test_tee_covers_its_torso_without_holes(persons, garments, poses, silhouettes, tee, analyzer, person_name):
    person, pose = persons[person_name], poses[person_name]
    result = run_tryon(person, tee, analyzer).image
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
    # Inside the tee's outline (a hole in it counts; arms hanging in front of its sides, cut out of the
    # torso part, and its neck opening do not).
    inside = inner & ~skin & ~opening.astype(bool) & fill_holes(torso.astype(bool))
    # A white tee: everything inside its torso is light and nearly grey (no skin, background or old garment).
    light = result.min(axis=2) > 150
    assert light[inside].mean() > 0.97


@pytest.mark.parametrize("person_name", PERSONS)
def test_old_top_does_not_survive_under_the_tee(persons, poses, silhouettes, tee, analyzer, person_name):
    person, pose = persons[person_name], poses[person_name]
    result = run_tryon(person, tee, analyzer).image
    zone = _top_zone(person, pose, silhouettes[person_name])
    assert _unchanged_share(person, result, zone) < 0.03


@pytest.mark.parametrize("person_name", PERSONS)
def test_old_trousers_do_not_survive_beside_or_between_the_new_jeans(
    persons, poses, silhouettes, prepared_jeans, analyzer, person_name
):
    person, pose = persons[person_name], poses[person_name]
    result = run_tryon(person, prepared_jeans, analyzer).image
    frame = body_frame(pose)
    before = cv2.cvtColor(person, cv2.COLOR_RGB2LAB).astype(np.float32)
    # The old trousers' colour, on the middle of the thighs.
    samples = []
    for hip, knee in ((frame.hip_l, frame.knee_l), (frame.hip_r, frame.knee_r)):
        x, y = np.round(hip + 0.5 * (knee - hip)).astype(int)
        samples.append(before[y - 10 : y + 10, x - 6 : x + 6].reshape(-1, 3))
    trousers_colour = np.median(np.concatenate(samples), axis=0)
    old_trousers = np.linalg.norm((before - trousers_colour) * [0.5, 1.0, 1.0], axis=2) < 12
    # The legs' box, from below the top's hem to above the shoes, where the new jeans do not lie.
    ys, xs = np.mgrid[: person.shape[0], : person.shape[1]]
    top = frame.hip_mid[1] + 0.25 * frame.torso_length
    bottom = min(frame.ankle_l[1], frame.ankle_r[1]) - 0.1 * frame.hip_width
    left = min(frame.hip_l[0], frame.knee_l[0], frame.ankle_l[0]) - 0.6 * frame.hip_width
    right = max(frame.hip_r[0], frame.knee_r[0], frame.ankle_r[0]) + 0.6 * frame.hip_width
    legs = silhouettes[person_name] & (ys > top) & (ys < bottom) & (xs > left) & (xs < right)
    warped = warp_lower_body(prepared_jeans.cutout, prepared_jeans.landmarks, pose, person.shape[:2], waist_up=WAIST_UP)
    uncovered = legs & old_trousers & (warped.alpha < 0.1)
    assert uncovered.sum() > 1000
    # Inside the new jeans their own colour may match the old; beside and between them it must not.
    unchanged = np.linalg.norm(cv2.cvtColor(result, cv2.COLOR_RGB2LAB).astype(np.float32) - before, axis=2) < 8
    assert unchanged[uncovered].mean() < 0.03
