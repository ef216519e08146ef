import numpy as np
import pytest

from tryon.errors import GarmentNotFound
from tryon.engines.classical.pipeline.segmentation import cut_out_garment, person_mask

from .conftest import UPPER_GARMENTS


@pytest.mark.parametrize("name", UPPER_GARMENTS)
def test_product_shots_are_cut_out_with_a_plausible_share(garments, name):
    photo = garments[name]
    cutout = cut_out_garment(photo)

    share = cutout.mask.sum() / (photo.shape[0] * photo.shape[1])
    assert 0.35 < share < 0.8
    # The crop is the garment's box: the garment reaches every side of it, and the photo has margin.
    mask = cutout.mask
    assert mask[0].any() and mask[-1].any() and mask[:, 0].any() and mask[:, -1].any()
    assert cutout.rgb.shape[:2] == cutout.alpha.shape == cutout.mask.shape
    assert cutout.rgb.shape[0] < photo.shape[0] and cutout.rgb.shape[1] < photo.shape[1]
    # Flat-lay tops have background in their bounding box's top corners (beside the collar).
    corner = cutout.mask.shape[0] // 20
    assert not cutout.mask[:corner, :corner].any() and not cutout.mask[:corner, -corner:].any()


def test_white_tshirt_on_light_background_keeps_its_body(garments):
    cutout = cut_out_garment(garments["tshirt_white.jpg"])
    height, width = cutout.mask.shape
    centre = cutout.mask[height // 4 : 3 * height // 4, width // 3 : 2 * width // 3]
    assert centre.mean() > 0.99  # solid: no holes where white meets light grey


def test_logo_is_kept_inside_the_garment(garments):
    cutout = cut_out_garment(garments["sweatshirt_grey.jpg"])
    assert cutout.mask.sum() == np.count_nonzero(cutout.mask)
    rows = np.flatnonzero(cutout.mask.any(axis=1))
    for row in rows[len(rows) // 5 : 4 * len(rows) // 5 : 10]:
        columns = np.flatnonzero(cutout.mask[row])
        inside = cutout.mask[row, columns[0] : columns[-1] + 1]
        # Between its outer edges a row may cross the gap under a sleeve, never a hole in the print.
        assert inside.mean() > 0.85


def test_plain_garment_on_coloured_background_is_cut_out():
    photo = np.zeros((400, 300, 3), np.uint8)
    photo[:] = (40, 150, 90)  # green backdrop
    photo[80:330, 70:230] = (200, 60, 60)  # a red "garment"
    rng = np.random.default_rng(0)
    noisy = np.clip(photo + rng.normal(0, 3, photo.shape), 0, 255).astype(np.uint8)

    cutout = cut_out_garment(noisy)

    assert abs(cutout.mask.shape[0] - 250) <= 4 and abs(cutout.mask.shape[1] - 160) <= 4
    assert cutout.mask.mean() > 0.95


def test_soft_cast_shadow_stays_background():
    import cv2

    shadow = np.zeros((400, 400), np.float32)
    shadow[115:305, 125:295] = 1.0  # offset down-right of the garment, soft-edged
    shadow = cv2.GaussianBlur(shadow, (0, 0), 8)
    photo = (np.full((400, 400, 3), 240.0) - 20.0 * shadow[..., None]).astype(np.uint8)
    photo[100:280, 110:270] = (30, 60, 160)  # the garment
    cutout = cut_out_garment(photo)
    assert cutout.mask.shape[0] <= 186 and cutout.mask.shape[1] <= 166


@pytest.mark.parametrize("fill", [0, 128, 255])
def test_blank_image_raises_garment_not_found(fill):
    with pytest.raises(GarmentNotFound, match="garment"):
        cut_out_garment(np.full((300, 300, 3), fill, np.uint8))


def test_person_mask_thresholds_probability():
    probability = np.array([[0.1, 0.6], [0.5, 0.9]], np.float32)
    assert person_mask(probability).tolist() == [[False, True], [False, True]]
