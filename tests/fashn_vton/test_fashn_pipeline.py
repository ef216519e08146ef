"""FashnVtonPipeline end to end against pipeline-tiny (the full 864x576 canvas, patch 48, keypoints given)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from tryon.engines.fashn_vton.inputs import PRE_RESIZE_SIDE, InvalidTryOnRequest, TryOnRequest, garment_input, person_input
from tryon.engines.fashn_vton.pipeline import FashnVtonPipeline, starting_noise
from tryon.vision.agnostic import FashnLabel, clothing_agnostic_image, masked_garment_image
from tryon.vision.canvas import pre_resize
from tryon.vision.keypoints import Keypoints, load_keypoints

from .golden_images import assert_png_matches
from .golden_models import PIPELINE_PIXEL_SHARE, PIPELINE_TINY, case_config, case_model, read_rgb

CALL = case_config(PIPELINE_TINY)["call"]
SETTINGS = {
    "num_steps": CALL["num_timesteps"],
    "guidance_scale": CALL["guidance_scale"],
    "skip_cfg_last_n_steps": CALL["skip_cfg_last_n_steps"],
}


@pytest.fixture(scope="module")
def pipeline() -> FashnVtonPipeline:
    return FashnVtonPipeline(case_model(PIPELINE_TINY))


@pytest.fixture(scope="module")
def golden_request() -> TryOnRequest:
    assert CALL["segmentation_free"]
    return TryOnRequest(
        person_image=read_rgb(PIPELINE_TINY / "person.png"),
        garment_image=read_rgb(PIPELINE_TINY / "garment.png"),
        category=CALL["category"],
        person_keypoints=load_keypoints(PIPELINE_TINY / "person_pose.json"),
        garment_photo_type=CALL["garment_photo_type"],
        seed=CALL["seed"],
    )


def test_pipeline_reproduces_the_reference_picture(pipeline, golden_request):
    progress = []
    output = pipeline(golden_request, **SETTINGS, callback=lambda done, total: progress.append(done))
    assert len(output.images) == 1
    assert output.images[0].dtype == np.uint8
    assert_png_matches(output.images[0], read_rgb(PIPELINE_TINY / "result.png"), pixel_share=PIPELINE_PIXEL_SHARE)
    assert progress == list(range(1, SETTINGS["num_steps"] + 1))


def test_each_request_draws_its_own_noise(golden_request):
    """An int seed gives what torch.manual_seed(seed); torch.randn(...) gives, whatever else is in the batch."""
    torch.manual_seed(CALL["seed"])
    expected = torch.randn((1, 3, 864, 576))
    other = dataclasses.replace(golden_request, seed=torch.Generator().manual_seed(7))
    batch = starting_noise([other.seed, golden_request.seed], 864, 576)
    assert torch.equal(batch[1:], expected)
    assert torch.equal(batch[:1], torch.randn((1, 3, 864, 576), generator=torch.Generator().manual_seed(7)))


@pytest.mark.e2e  # slow (10-60 s on 2 cores): left to the full run
def test_a_request_gives_the_same_picture_in_a_batch_as_alone(pipeline, golden_request):
    """Same noise and conditioning per row; CPU float32 matmuls differ by about 1e-6 between batch sizes, so
    a rare pixel may differ by one grey level (the PNG bar)."""
    other = dataclasses.replace(golden_request, seed=7, category="one-pieces")
    batch = pipeline([golden_request, other], **SETTINGS).images
    alone = [pipeline(request, **SETTINGS).images[0] for request in (golden_request, other)]
    assert_png_matches(batch[0], alone[0])
    assert_png_matches(batch[1], alone[1])
    assert (batch[0] != batch[1]).mean() > 0.5


def test_masked_mode_conditions_on_the_clothing_agnostic_person(pipeline, golden_request):
    person = pre_resize(golden_request.person_image, PRE_RESIZE_SIDE)
    parse = np.zeros(person.shape[:2], np.uint8)
    parse[300:600, 200:500] = FashnLabel.TOP
    request = dataclasses.replace(golden_request, masked=True, person_parse=parse)
    assert np.array_equal(person_input(request, person), clothing_agnostic_image(person, parse, "tops"))
    masked = pipeline(request, **SETTINGS).images[0]
    maskless = pipeline(golden_request, **SETTINGS).images[0]
    assert masked.shape == maskless.shape
    assert not np.array_equal(masked, maskless)


def test_a_garment_worn_by_a_model_is_cut_out_and_posed(pipeline, golden_request):
    garment = pre_resize(golden_request.garment_image, PRE_RESIZE_SIDE)
    parse = np.zeros(garment.shape[:2], np.uint8)
    parse[200:700, 200:800] = FashnLabel.TOP
    worn = dataclasses.replace(
        golden_request,
        garment_photo_type="model",
        garment_keypoints=load_keypoints(PIPELINE_TINY / "person_pose.json"),
        garment_parse=parse,
    )
    cut_out = garment_input(worn, garment)
    assert np.array_equal(cut_out, masked_garment_image(garment, parse, "tops"))
    assert (cut_out[0, 0] == 127).all() and np.array_equal(cut_out[300, 300], garment[300, 300])
    posed = pipeline(worn, **SETTINGS).images[0]
    unposed = pipeline(dataclasses.replace(worn, garment_keypoints=Keypoints.none_seen()), **SETTINGS).images[0]
    assert not np.array_equal(posed, unposed)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"category": "hats"}, "request 0: category must be one of tops, bottoms, one-pieces, got 'hats'"),
        ({"garment_photo_type": "mannequin"}, "garment_photo_type must be one of flat-lay, model"),
        ({"garment_photo_type": "model"}, "needs garment_keypoints and garment_parse"),
        ({"masked": True}, "the masked mode needs person_parse"),
        ({"person_keypoints": {"candidate": []}}, "person_keypoints must be Keypoints.*got dict"),
        ({"person_image": np.zeros((8, 8), np.uint8)}, r"person_image must be an HxWx3 uint8 RGB array.*\(8, 8\)"),
        ({"garment_image": np.zeros((8, 8, 3), np.float32)}, "garment_image must be.*float32"),
    ],
)
def test_bad_requests_are_refused_by_field(pipeline, golden_request, change, message):
    with pytest.raises(InvalidTryOnRequest, match=message):
        pipeline(dataclasses.replace(golden_request, **change), **SETTINGS)


def test_a_parse_map_of_another_size_is_refused(pipeline, golden_request):
    parse = np.zeros(golden_request.person_image.shape[:2], np.uint8)  # the photo's size, not the pre-resized
    with pytest.raises(InvalidTryOnRequest, match=r"person_parse has shape \(1100, 700\).*\(864, 549\)"):
        pipeline(dataclasses.replace(golden_request, masked=True, person_parse=parse), **SETTINGS)


def test_bad_sampling_settings_are_refused(pipeline, golden_request):
    with pytest.raises(InvalidTryOnRequest, match="num_steps must be at least 1, got 0"):
        pipeline(golden_request, num_steps=0)
    with pytest.raises(InvalidTryOnRequest, match="skip_cfg_last_n_steps must be 0 or more, got -1"):
        pipeline(golden_request, skip_cfg_last_n_steps=-1)
    with pytest.raises(InvalidTryOnRequest, match="no requests"):
        pipeline([])
