"""The adapter's full-size answer: the model's picture put back onto the photo near the garment only."""

import numpy as np
import pytest

from tryon.engines.base import Category
from tryon.engines.fashn_vton.engine import at_photo_size
from tryon.engines.fashn_vton.options import FashnVtonOptions
from tryon.vision.keypoints import BODY_POINT_NAMES, NOT_SEEN, Keypoints

# A person facing the camera, normalised (x, y): the person's left is the photo's right.
BODY = {
    "nose": (0.5, 0.12), "neck": (0.5, 0.2), "right_shoulder": (0.38, 0.21), "left_shoulder": (0.62, 0.21),
    "right_elbow": (0.34, 0.36), "left_elbow": (0.66, 0.36), "right_wrist": (0.33, 0.5), "left_wrist": (0.67, 0.5),
    "right_hip": (0.43, 0.52), "left_hip": (0.57, 0.52), "right_knee": (0.43, 0.72), "left_knee": (0.57, 0.72),
    "right_ankle": (0.43, 0.92), "left_ankle": (0.57, 0.92),
}  # fmt: skip


def person_keypoints() -> Keypoints:
    unseen = Keypoints.none_seen()
    body = np.array([BODY.get(name, (NOT_SEEN, NOT_SEEN)) for name in BODY_POINT_NAMES])
    face = np.array([[0.46 + 0.08 * (i % 9) / 8, 0.08 + 0.08 * (i // 9) / 7] for i in range(68)])
    return Keypoints(body=body, hands=unseen.hands, face=face)


def test_a_picture_redrawn_everywhere_is_taken_only_near_the_garment_and_never_on_the_face():
    ys, xs = np.mgrid[0:1200, 0:800]
    photo = np.stack([ys / 8, xs / 6, (ys + xs) / 14], axis=-1).astype(np.uint8)  # smooth: scaling keeps it
    seen = photo[::2, ::2].copy()  # as the model saw it: 600x400
    picture = (seen + 50).astype(np.uint8)  # every pixel changed

    image, note = at_photo_size(photo, seen, picture, person_keypoints(), Category.UPPER_BODY)

    assert image.shape == photo.shape
    chest, face = np.s_[330:420, 380:420], np.s_[120:170, 380:420]
    knee, corner = np.s_[850:880, 440:470], np.s_[0:60, 0:60]
    assert np.abs(image[chest].astype(int) - photo[chest] - 50).max() <= 2  # the model's picture
    for kept in (face, knee, corner):
        assert np.array_equal(image[kept], photo[kept])
    assert note.startswith("result at the person photo's size, 800x1200: the model's picture (400x600)")


def test_the_result_size_option_defaults_to_the_photos():
    assert FashnVtonOptions().result_size == "original"
    assert FashnVtonOptions(result_size="model").result_size == "model"
    with pytest.raises(ValueError, match="result_size"):
        FashnVtonOptions(result_size="huge")
