import numpy as np
import pytest

from tryon.engines.fashn_vton.inputs import CANVAS_HEIGHT, CANVAS_WIDTH, PRE_RESIZE_SIDE
from tryon.vision.canvas import Padding, pre_resize, resize_pad, unpad

from ..fashn_vton.golden_images import RESIZE, assert_png_matches, read_json, read_png

RESIZE_CASES = read_json(RESIZE / "cases.json")["cases"]


@pytest.mark.parametrize("case", RESIZE_CASES, ids=[case["in"] for case in RESIZE_CASES])
def test_golden_resize_cases(case):
    pre_resized = pre_resize(read_png(RESIZE / case["in"])[..., :3], PRE_RESIZE_SIDE)
    canvas, padding = resize_pad(pre_resized, CANVAS_HEIGHT, CANVAS_WIDTH)

    assert list(pre_resized.shape[:2]) == case["pre_resized_hw"]
    assert padding == Padding(*case["padding_ltrb"])
    assert_png_matches(canvas, read_png(RESIZE / case["out"]))


def test_pre_resize_never_enlarges():
    small = np.full((300, 200, 3), 90, np.uint8)
    assert pre_resize(small, PRE_RESIZE_SIDE) is small
    assert pre_resize(np.zeros((1000, 2000), np.uint8), PRE_RESIZE_SIDE).shape == (432, 864)


def test_unpad_gives_back_the_resized_image():
    image = np.random.default_rng(0).integers(0, 256, (864, 500, 3), dtype=np.uint8)
    canvas, padding = resize_pad(image, CANVAS_HEIGHT, CANVAS_WIDTH)

    assert canvas.shape == (864, 576, 3)
    assert padding == Padding(left=38, top=0, right=38, bottom=0)
    assert np.array_equal(unpad(canvas, padding), image)
    assert not canvas[:, :38].any() and not canvas[:, -38:].any()


def test_pose_maps_keep_their_grey_levels_when_resized_nearest_exact():
    levels = np.array([0, 26, 144, 200, 240], np.uint8)
    pose_map = levels[np.random.default_rng(1).integers(0, len(levels), (700, 400))]
    for height, width in ((864, 576), (300, 200)):
        canvas, padding = resize_pad(pose_map, height, width, nearest_exact=True)
        assert canvas.shape == (height, width)
        assert set(np.unique(canvas)) <= set(levels)
    # Area and Lanczos resampling blend neighbouring levels into new ones.
    smooth, _ = resize_pad(pose_map, 300, 200)
    assert not set(np.unique(smooth)) <= set(levels)


def test_small_images_grow_to_the_canvas():
    canvas, padding = resize_pad(np.full((100, 50, 3), 200, np.uint8), CANVAS_HEIGHT, CANVAS_WIDTH)
    assert canvas.shape == (864, 576, 3)
    assert padding == Padding(left=72, top=0, right=72, bottom=0)
    assert np.all(unpad(canvas, padding) >= 199)
