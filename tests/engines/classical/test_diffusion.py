"""Diffusion inpainting through the runner class on the test models: shapes, seeds, paste-back."""

from __future__ import annotations

import numpy as np
import pytest

from tests.models.conftest import TEST_SIZE, person_batch
from tryon.engines.classical.diffusion import (
    FramedInpainting,
    crop_frame,
    frame_around,
    pack_requests,
    paste_inpainted,
    unpack_requests,
)


@pytest.fixture(scope="module")
def runner(model_env: dict[str, str]):
    """The runner service class instantiated in-process: the same loading code as when served."""
    from tryon.engines.classical.runners import InpaintingRunner

    return InpaintingRunner()


def test_the_runner_loads_the_stored_pipeline_with_its_ip_adapter(runner) -> None:
    assert runner.resolution.engine == "diffusers"
    inpainter = runner.loaded
    assert inpainter.size == TEST_SIZE
    assert inpainter.has_ip_adapter
    assert (inpainter.device, str(inpainter.dtype)) == ("cpu", "torch.float32")


def test_the_runner_describes_what_it_loaded_where(runner, test_models: dict) -> None:
    description = runner.describe()
    assert description["available"] is True
    assert description["model_tag"] == str(test_models["tryon-inpainting"].tag)
    assert (description["license"], description["test_model"]) == ("apache-2.0", True)
    assert (description["device"], description["dtype"]) == ("cpu", "float32")
    assert description["cuda_available"] is False and description["gpu"] is None  # no GPU here


def test_inpaint_batch_returns_one_uint8_image_per_item(runner) -> None:
    images, masks, garments, seeds = person_batch(3)
    out = runner.loaded.inpaint_batch(images, masks, garments, seeds)
    assert out.shape == images.shape and out.dtype == np.uint8


def test_a_result_depends_on_its_seed_not_on_its_batch(runner) -> None:
    images, masks, garments, _ = person_batch(2)
    first = runner.loaded.inpaint_batch(images, masks, garments, np.array([11, 12]))
    again = runner.loaded.inpaint_batch(images, masks, garments, np.array([11, 12]))
    other = runner.loaded.inpaint_batch(images, masks, garments, np.array([13, 12]))
    alone = runner.loaded.inpaint_batch(images[1:], masks[1:], garments[1:], np.array([12]))
    np.testing.assert_array_equal(first, again)
    assert np.abs(first[0].astype(int) - other[0]).max() > 10  # another seed, another picture
    assert np.abs(first[1].astype(int) - alone[0]).max() <= 2  # batching changes rounding only


def test_pasting_back_leaves_everything_outside_the_mask_as_it_was(runner) -> None:
    images, masks, garments, seeds = person_batch(1)
    out = runner.inpaint(pack_requests(images, masks, garments, seeds))
    pasted = paste_inpainted(images[0], out[0], masks[0])
    np.testing.assert_array_equal(pasted[~masks[0]], images[0][~masks[0]])
    deep_inside = np.zeros_like(masks[0])
    deep_inside[80:180, 60:130] = True
    np.testing.assert_array_equal(pasted[deep_inside], out[0][deep_inside])


def test_inputs_of_another_size_come_back_at_their_size(runner) -> None:
    images, masks, garments, seeds = person_batch(2, size=(200, 120))
    out = runner.loaded.inpaint_batch(images, masks.astype(np.uint8) * 255, garments, seeds)
    assert out.shape == (2, 200, 120, 3)


def test_framed_inpainting_of_a_photo_changes_only_the_mask(runner) -> None:
    rng = np.random.default_rng(3)
    photo = rng.integers(0, 256, (300, 420, 3), dtype=np.uint8)
    mask = np.zeros((300, 420), bool)
    mask[120:260, 250:330] = True
    garment = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    step = FramedInpainting(runner.inpaint, size=TEST_SIZE)
    out = step.inpaint(photo, mask, garment, seed=5)
    assert out.shape == photo.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[~mask], photo[~mask])
    assert np.abs(out[mask].astype(int) - photo[mask]).mean() > 5


def test_bad_inputs_name_what_is_wrong(runner) -> None:
    images, masks, garments, seeds = person_batch(2)
    with pytest.raises(ValueError, match="masks"):
        runner.loaded.inpaint_batch(images, masks[:1], garments, seeds)
    with pytest.raises(ValueError, match="seeds"):
        runner.loaded.inpaint_batch(images, masks, garments, seeds[:1])


def test_packing_round_trips_every_field() -> None:
    images, masks, garments, _ = person_batch(3)
    garments = images[:, ::-1].copy()
    seeds = np.array([0, 2**40 + 3, 2**63 - 1], np.int64)
    packed = pack_requests(images, masks, garments, seeds)
    assert packed.shape == (3, *TEST_SIZE, 8) and packed.dtype == np.uint8
    for got, want in zip(unpack_requests(packed), (images, masks, garments, seeds)):
        np.testing.assert_array_equal(got, want)


def test_paste_feathers_inwards_only() -> None:
    original = np.zeros((40, 40, 3), np.uint8)
    inpainted = np.full((40, 40, 3), 200, np.uint8)
    mask = np.zeros((40, 40), bool)
    mask[10:30, 10:30] = True
    out = paste_inpainted(original, inpainted, mask, feather_px=4)
    assert (out[~mask] == 0).all()
    assert (out[16:24, 16:24] == 200).all()
    assert 0 < out[10, 20, 0] < 200  # the seam blends


def test_a_frame_has_the_working_aspect_and_reaches_outside_only_when_it_must() -> None:
    mask = np.zeros((300, 420), bool)
    mask[120:260, 250:330] = True
    frame = frame_around(mask, 192 / 256)
    assert abs(frame.width / frame.height - 0.75) < 0.02
    assert frame.top >= 0 and frame.top + frame.height <= 300
    wide = np.zeros((100, 400), bool)
    wide[10:90, 0:400] = True
    frame = frame_around(wide, 0.75)
    assert frame.top < 0  # taller than the photo: centred, padded
    assert crop_frame(np.zeros((100, 400, 3), np.uint8), frame).shape[:2] == (frame.height, frame.width)
