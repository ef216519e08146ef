import cv2
import numpy as np
import pytest

from tryon.vision.composite import blend_alpha, changed_region, composite_at_photo_size

PHOTO_SIZE = (1500, 1000)  # (height, width): a photo larger than the model's picture
MODEL_SIZE = (600, 400)


def textured_photo(seed: int = 0) -> np.ndarray:
    """A ``1500x1000x3`` photo with detail at every scale (noise over gradients), as a real one has."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0 : PHOTO_SIZE[0], 0 : PHOTO_SIZE[1]]
    base = np.stack([ys * 150 / PHOTO_SIZE[0], xs * 150 / PHOTO_SIZE[1], (ys + xs) * 60 / sum(PHOTO_SIZE)], axis=-1)
    return np.clip(base + 40 + rng.integers(0, 60, (*PHOTO_SIZE, 3)), 0, 255).astype(np.uint8)


def as_the_model_saw_it(photo: np.ndarray) -> np.ndarray:
    return cv2.resize(photo, MODEL_SIZE[::-1], interpolation=cv2.INTER_AREA)


def with_garment(seen: np.ndarray, box: tuple[int, int, int, int], colour=(200, 30, 40)) -> np.ndarray:
    """``seen`` with a flat ``colour`` garment painted in ``box`` (top, left, bottom, right), as generated."""
    top, left, bottom, right = box
    generated = seen.copy()
    generated[top:bottom, left:right] = colour
    return generated


GARMENT = (200, 120, 380, 280)  # at the model's size


def photo_box(box: tuple[int, int, int, int], margin: int = 0) -> tuple[slice, slice]:
    """``box`` at the model's size as slices of the photo, grown by ``margin`` photo pixels."""
    scale = PHOTO_SIZE[0] / MODEL_SIZE[0]
    top, left, bottom, right = (round(value * scale) for value in box)
    return slice(max(0, top - margin), bottom + margin), slice(max(0, left - margin), right + margin)


def test_the_result_is_the_photos_size_and_its_own_pixels_outside_the_change():
    photo = textured_photo()
    seen = as_the_model_saw_it(photo)
    result = composite_at_photo_size(photo, seen, with_garment(seen, GARMENT))

    assert result.image.shape == photo.shape and result.image.dtype == np.uint8
    # The region grows 1.2 % of the height, the feather reaches 4 sigma of 0.6 %: 3.6 % in all.
    outside = np.ones(PHOTO_SIZE, bool)
    outside[photo_box(GARMENT, margin=int(0.036 * PHOTO_SIZE[0]) + 2)] = False
    assert np.array_equal(result.image[outside], photo[outside])
    # Inside, the garment replaces what was there (scaled up from the model's picture).
    core = result.image[photo_box(GARMENT, margin=-10)].reshape(-1, 3).astype(int)
    assert np.abs(core - [200, 30, 40]).max() <= 2
    assert 0.05 < result.changed_share < 0.3


def test_the_seam_has_no_step():
    """Where the region ends the output moves from the model's picture to the photo in small steps. The
    model's picture is 12 levels lighter than the photo everywhere (a drift under the threshold): pasted
    with a hard edge, the region's border would show a 12-level step around the garment."""
    photo = np.full((*PHOTO_SIZE, 3), 100, np.uint8)
    seen = as_the_model_saw_it(photo)
    generated = with_garment(seen + 12, GARMENT, colour=(200, 200, 200))
    image = composite_at_photo_size(photo, seen, generated).image.astype(int)

    around = np.ones(PHOTO_SIZE, bool)  # beyond the garment's own edge (its step is the picture's content)
    around[photo_box(GARMENT, margin=8)] = False
    rows, cols = np.abs(np.diff(image, axis=0)).max(axis=2), np.abs(np.diff(image, axis=1)).max(axis=2)
    step = max(rows[around[1:] & around[:-1]].max(), cols[around[:, 1:] & around[:, :-1]].max())
    assert step <= 2, f"a step of {step} levels at the seam"
    assert image[around].min() == 100 and image[around].max() >= 110  # the photo far out, the picture near


def test_changes_far_from_the_garments_zone_and_on_the_kept_parts_stay_the_photos():
    photo = textured_photo(1)
    seen = as_the_model_saw_it(photo)
    generated = with_garment(seen, GARMENT)
    generated[20:80, 20:80] = 255  # the model redrew a far corner of the background
    zone = np.zeros(MODEL_SIZE, bool)
    zone[190:390, 110:290] = True
    keep = np.zeros(MODEL_SIZE, bool)
    keep[330:400, 130:200] = True  # a hand over the garment

    region = changed_region(seen, generated, zone=zone, keep=keep)
    assert not region[20:80, 20:80].any()
    assert not region[keep].any()
    assert region[210:320, 210:270].all()

    image = composite_at_photo_size(photo, seen, generated, zone=zone, keep=keep).image
    for kept in (photo_box((0, 0, 100, 100)), photo_box((330, 130, 400, 200))):  # the corner, the hand
        assert np.array_equal(image[kept], photo[kept])


def test_an_unchanged_picture_gives_the_photo_back():
    photo = textured_photo(2)
    seen = as_the_model_saw_it(photo)
    result = composite_at_photo_size(photo, seen, seen.copy())
    assert np.array_equal(result.image, photo)
    assert result.changed_share == 0.0


def test_the_alpha_is_exactly_zero_or_one_away_from_the_edge():
    region = np.zeros(MODEL_SIZE, bool)
    region[200:400, 100:300] = True
    alpha = blend_alpha(region, PHOTO_SIZE)
    assert alpha.shape == PHOTO_SIZE and alpha.dtype == np.float32
    assert alpha[750, 500] == 1.0 and alpha[50, 50] == 0.0
    assert 0.4 < alpha[500, 500] < 0.6  # on the region's edge (row 200 at the model's size)


def test_pictures_of_different_sizes_are_refused():
    photo = textured_photo()
    with pytest.raises(ValueError, match="same size"):
        composite_at_photo_size(photo, as_the_model_saw_it(photo), np.zeros((10, 10, 3), np.uint8))
