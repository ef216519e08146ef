import numpy as np

from tryon.engines.classical.pipeline.blend import blend_garment
from tryon.engines.classical.pipeline.types import WarpedGarment


def _scene():
    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, (120, 100, 3), dtype=np.uint8)
    alpha = np.zeros((120, 100), np.float32)
    alpha[30:90, 20:80] = 1.0
    rgb = np.zeros((120, 100, 3), np.uint8)
    rgb[...] = (30, 80, 200)
    return base, WarpedGarment(rgb=rgb, alpha=alpha, sleeve_alpha=np.zeros_like(alpha))


def test_pixels_away_from_the_garment_are_unchanged():
    base, warped = _scene()
    out = blend_garment(base, warped, np.zeros((120, 100), bool), shading=base)
    assert out.dtype == np.uint8 and out.shape == base.shape
    assert np.array_equal(out[:28], base[:28]) and np.array_equal(out[:, :18], base[:, :18])
    assert np.array_equal(out[92:], base[92:]) and np.array_equal(out[:, 82:], base[:, 82:])


def test_garment_keeps_its_colour_inside():
    base, warped = _scene()
    out = blend_garment(base, warped, np.zeros((120, 100), bool), shading=None)
    assert np.array_equal(out[40:80, 30:70], warped.rgb[40:80, 30:70])


def test_kept_pixels_stay_on_top_except_a_narrow_seam():
    base, warped = _scene()
    keep = np.zeros((120, 100), bool)
    keep[40:70, 40:60] = True  # a hand in front of the garment
    out = blend_garment(base, warped, keep, shading=base, seam_px=1.0)
    assert np.array_equal(out[43:67, 43:57], base[43:67, 43:57])


def test_shading_modulates_lightness_but_not_hue():
    base, warped = _scene()
    shading = np.full((120, 100, 3), 150, np.uint8)
    shading[:, 50:] = 100  # a shadow over the right half
    out = blend_garment(base, warped, np.zeros((120, 100), bool), shading=shading, shading_strength=1.0)
    left, right = out[50:70, 30:45].reshape(-1, 3).mean(axis=0), out[50:70, 55:70].reshape(-1, 3).mean(axis=0)
    assert right.sum() < left.sum()
    assert np.argmax(left) == np.argmax(right) == 2  # still blue
