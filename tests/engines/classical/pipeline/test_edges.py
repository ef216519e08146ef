"""No light halo along the garment's edge on a darker background."""

import cv2
import numpy as np
import pytest

from tryon.engines.classical.pipeline import Category, prepare_garment, run_tryon
from tryon.engines.classical.pipeline.pipeline import HEM_LENGTH, WAIST_UP, _posed_person
from tryon.engines.classical.pipeline.warp import warp_garment
from tryon.engines.classical.pipeline.warp_lower import warp_lower_body

DARK_BACKDROP = (40, 40, 45)


def _lightness_ring_share(result: np.ndarray, garment: np.ndarray) -> float:
    """Share of the garment's outer 2 px lighter (by 8 Lab units) than both the garment 3-6 px inside
    and the picture 2-5 px outside, each averaged over a 9x9 neighbourhood."""
    lightness = cv2.cvtColor(result, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32)
    inside = cv2.distanceTransform(garment.astype(np.uint8), cv2.DIST_L2, 3)
    outside = cv2.distanceTransform((~garment).astype(np.uint8), cv2.DIST_L2, 3)
    edge = garment & (inside <= 2)
    kernel = np.ones((9, 9), np.float32)

    def mean_over(band: np.ndarray) -> np.ndarray:
        weights = band.astype(np.float32)
        return cv2.filter2D(lightness * weights, -1, kernel) / np.maximum(cv2.filter2D(weights, -1, kernel), 1e-3)

    inner = mean_over(garment & (inside > 3) & (inside <= 6))
    outer = mean_over(~garment & (outside > 2) & (outside <= 5))
    lighter = edge & (lightness > inner + 8) & (lightness > outer + 8)
    return float(lighter.sum() / max(1, edge.sum()))


@pytest.mark.parametrize("garment_name", ["jeans_blue.jpg", "sweatshirt_grey.jpg"])
def test_no_light_ring_along_the_garment_on_a_dark_background(
    persons, garments, jeans, silhouettes, analyzer, garment_name
):
    # A studio photo on a dark backdrop, and garments photographed on a light one.
    person = persons["studio_man_hoodie.png"].copy()
    person[~silhouettes["studio_man_hoodie.png"]] = DARK_BACKDROP
    prepared = prepare_garment(jeans if garment_name == "jeans_blue.jpg" else garments[garment_name])
    result = run_tryon(person, prepared, analyzer).image
    pose = analyzer.estimate_pose(person)
    if prepared.category is Category.LOWER_BODY:
        warped = warp_lower_body(prepared.cutout, prepared.landmarks, pose, person.shape[:2], waist_up=WAIST_UP)
    else:
        body, _ = _posed_person(analyzer.segment_person(person) > 0.5, pose)
        hem_length = HEM_LENGTH[Category.UPPER_BODY]
        warped = warp_garment(prepared.cutout, prepared.landmarks, pose, person.shape[:2], body=body, hem_length=hem_length)
    # Scattered lighter pixels are the garment's own seams and fades; a halo is most of the edge.
    assert _lightness_ring_share(result, warped.alpha > 0.5) < 0.15
