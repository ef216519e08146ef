"""No silent no-ops: several people in the photo, and results that would not change the garment's zone."""

import cv2
import numpy as np
import pytest

from tryon.errors import TryOnError
from tryon.engines.classical.pipeline import prepare_garment, run_tryon
from tryon.engines.classical.pipeline.checks import GarmentNotApplied, changed_share, check_dressed
from tryon.engines.classical.pipeline.warp import body_frame


@pytest.fixture(scope="module")
def tee(garments):
    return prepare_garment(garments["tshirt_white.jpg"])


def test_the_floor_check_refuses_an_unchanged_zone_and_passes_a_changed_one():
    person = np.full((100, 80, 3), (120, 90, 60), np.uint8)
    zone = np.zeros((100, 80), bool)
    zone[20:80, 20:60] = True
    with pytest.raises(GarmentNotApplied, match=r"only 0% of where it should be changed"):
        check_dressed(person, person.copy(), zone, min_share=0.5)
    half = person.copy()
    half[20:50, 20:60] = (240, 240, 240)
    assert changed_share(person, half, zone) == pytest.approx(0.5)
    with pytest.raises(GarmentNotApplied):
        check_dressed(person, half, zone, min_share=0.6)
    assert check_dressed(person, half, zone, min_share=0.4) == pytest.approx(0.5)
    slight = person.copy()
    slight[zone] += 2  # noise, not a garment
    assert changed_share(person, slight, zone) == 0.0
    assert issubclass(GarmentNotApplied, TryOnError)  # a failed job with its message as the reason


def _side_by_side(left: np.ndarray, right: np.ndarray, right_scale: float, scale: float) -> tuple[np.ndarray, int]:
    """``left`` beside ``right`` scaled by ``right_scale`` (standing on the same floor), all scaled by
    ``scale``; and the column where the right photo starts."""
    small = cv2.resize(right, None, fx=right_scale, fy=right_scale, interpolation=cv2.INTER_AREA)
    canvas = np.empty((left.shape[0], left.shape[1] + small.shape[1], 3), np.uint8)
    canvas[:] = right[5, 5]
    canvas[:, : left.shape[1]] = left
    canvas[left.shape[0] - small.shape[0] :, left.shape[1] :] = small
    return cv2.resize(canvas, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), round(left.shape[1] * scale)


def test_of_two_people_the_most_prominent_is_dressed_and_the_other_left_alone(persons, poses, analyzer, tee):
    # The pose model follows the smaller woman in this pair; the larger man is the one to dress.
    photo, split = _side_by_side(persons["studio_man_hoodie.png"], persons["studio_woman_jacket.png"], 0.8, 0.6)
    result = run_tryon(photo, tee, analyzer)
    assert any("2 people found; dressed the most prominent" in note for note in result.notes)
    frame = body_frame(poses["studio_man_hoodie.png"])
    x, y = np.round(0.6 * (frame.shoulder_mid + 0.5 * (frame.hip_mid - frame.shoulder_mid))).astype(int)
    chest = result.image[y - 15 : y + 15, x - 15 : x + 15]
    assert chest.min(axis=2).mean() > 200  # the man's chest shows the white tee, not the beige hoodie
    assert np.array_equal(result.image[:, split:], photo[:, split:])  # the woman is untouched


class _NobodySegmented:
    """The real pose, but a segmenter that sees nobody: the garment is fitted onto an empty silhouette."""

    def __init__(self, analyzer):
        self._analyzer = analyzer

    def segment_person(self, person):
        return np.zeros(person.shape[:2], np.float32)

    def estimate_pose(self, person):
        return self._analyzer.estimate_pose(person)


def test_a_result_that_dresses_nobody_fails_with_a_reason_instead_of_completing(persons, analyzer, tee):
    with pytest.raises(GarmentNotApplied, match="could not be put on the person"):
        run_tryon(persons["studio_woman_jacket.png"], tee, _NobodySegmented(analyzer))
