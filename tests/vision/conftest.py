"""The test photos (``tests/data``, MIT, see its README's notice), their wearers' keypoints as the
FASHN engine adapts them (mediapipe stand-ins for DWPose), and silhouettes."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from tests.conftest import DATA_DIR
from tryon.vision.body import BodyPoints

PERSONS = ("studio_man_hoodie.png", "studio_woman_jacket.png", "indoor_man_sweater.jpg")
TOPS = ("shirt_oxford_blue.jpg", "tshirt_white.jpg", "sweatshirt_grey.jpg")


def load_rgb(name: str) -> np.ndarray:
    path = DATA_DIR / name
    assert path.is_file(), f"test photo not found: {path} (set TRYON_TEST_DATA)"
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


@dataclass(frozen=True)
class Worn:
    """A person photo as a worn garment photo: pixels, the wearer's points, silhouette (``HxW`` bool)."""

    image: np.ndarray
    body: BodyPoints
    silhouette: np.ndarray

    def crop_rows(self, top: int, bottom: int) -> "Worn":
        """The rows ``top:bottom``, with the points a whole-body detector would give there: those
        inside the crop (a waist-down photo shows no shoulders; mediapipe's face-based detector
        finds nobody on it, DWPose's YOLOX does)."""
        image = np.ascontiguousarray(self.image[top:bottom])
        shift = np.array([0.0, float(top)])
        inside = lambda p: top <= p[1] < bottom  # noqa: E731
        points = {name: p - shift for name, p in self.body.points.items() if inside(p)}
        face = np.array([p - shift for p in self.body.face if inside(p)]).reshape(-1, 2)
        hands = tuple(h[[inside(p) for p in h]] - shift for h in self.body.hands)
        body = BodyPoints(size=image.shape[:2], points=points, face=face, hands=tuple(h for h in hands if len(h)))
        return Worn(image, body, np.ascontiguousarray(self.silhouette[top:bottom]))


@pytest.fixture(scope="session")
def worn() -> dict[str, Worn]:
    from tryon.vision.keypoints import body_points
    from tryon.vision.mediapipe_keypoints import MediapipeKeypoints
    from tryon.models.selfie_segmenter import SelfieSegmenter

    segmenter = SelfieSegmenter()
    found = {}
    with MediapipeKeypoints() as estimate:
        for name in PERSONS:
            image = load_rgb(f"persons/{name}")
            body = body_points(estimate(image), *image.shape[:2])
            found[name] = Worn(image, body, segmenter.segment_batch(image[None])[0] > 0.5)
    return found
