"""The FASHN engine's garment preparation with the runner in-process (test models: the tiny try-on
model and the tiny Segment Anything masker; mediapipe stands in for DWPose): photo type by the
person detector, the category decided for ``auto``, worn garments masked (SAM or geometric)."""

from __future__ import annotations

import asyncio
import inspect

import numpy as np
import pytest

from tests.models.conftest import temporary_model_store
from tests.vision.conftest import load_rgb
from tryon.engines.base import Category
from tryon.engines.fashn_vton.engine import GARMENT_CATEGORY_OF_CATEGORY, FashnVtonEngine
from tryon.engines.fashn_vton.options import FashnVtonOptions
from tryon.engines.fashn_vton.runner import GEOMETRIC_MASK, SEGMENT_ANYTHING, FashnVtonRunner
from tryon.images import ImageLimits
from tryon.vision.agnostic import FashnLabel
from tryon.vision.garments import GarmentUndecidable


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    from model_store_scripts.make_test_models import make_test_models

    patch = pytest.MonkeyPatch()
    patch.setenv("TRYON_ENGINE", "fashn-vton")
    with temporary_model_store(tmp_path_factory.mktemp("bentoml")):
        make_test_models(["fashn-vton", "tryon-garment-masker"])
        try:
            yield FashnVtonRunner()
        finally:
            patch.undo()


def in_process(runner: FashnVtonRunner):
    """``runner_api`` over the runner object, its async APIs run to completion."""

    def runner_api(service, name):
        def call(*args):
            answer = getattr(runner, name)(*args)
            return asyncio.run(answer) if inspect.iscoroutine(answer) else answer

        return call

    return runner_api


@pytest.fixture(scope="module")
def engine(runner) -> FashnVtonEngine:
    engine = FashnVtonEngine(in_process(runner), limits=ImageLimits())
    engine._garment_masker = in_process(runner)(FashnVtonRunner, "describe")()["steps"]["garment_mask"]
    return engine


AUTO = FashnVtonOptions(seed=1)


def test_the_runner_masks_with_segment_anything_and_lists_every_models_licence(runner):
    described = asyncio.run(runner.describe())
    assert described["steps"]["garment_mask"] == SEGMENT_ANYTHING
    models = {model["name"]: model for model in described["models"]}
    assert set(models) == {"fashn-vton", "mediapipe-pose", "mediapipe-selfie-segmentation", "tryon-garment-masker"}
    assert all(model["commercial_use"] for model in models.values())
    assert models["tryon-garment-masker"]["license"] == "apache-2.0" and models["tryon-garment-masker"]["test_model"]
    image = load_rgb("persons/studio_woman_jacket.png")
    mask = asyncio.run(runner.mask_garment(image, np.array([[380.0, 500.0, 1.0], [380.0, 150.0, 0.0]])))
    assert mask.shape == image.shape[:2] and mask.dtype == bool


@pytest.mark.parametrize(
    "photo, category",
    [("garments/jeans_blue.jpg", Category.LOWER_BODY), ("garments/shirt_oxford_blue.jpg", Category.UPPER_BODY),
     ("garments/sweatshirt_grey.jpg", Category.UPPER_BODY), ("garments/tshirt_white.jpg", Category.UPPER_BODY)],
)  # fmt: skip
def test_flat_lays_stay_flat_lay_and_get_their_category(engine, photo, category):
    prepared = engine.prepare_garment(load_rgb(photo), Category.AUTO, AUTO)
    assert prepared.photo_type == "flat-lay" and prepared.parse is None
    assert prepared.category is category
    assert prepared.notes[0] == "garment photo type: flat-lay (the person detector found nobody in it)"
    assert prepared.notes[1].startswith(f"category auto -> {category.value} (")


def _worn_checks(prepared, masker: str) -> None:
    assert prepared.photo_type == "model" and prepared.category is Category.UPPER_BODY
    assert prepared.notes[0] == "garment photo type: model (the person detector found a person in it)"
    assert prepared.notes[-1] == f"worn garment masked by {masker}"
    assert not any("unmasked" in note for note in prepared.notes)
    parse = prepared.parse
    assert parse.shape == prepared.image.shape[:2] and set(np.unique(parse)) <= {FashnLabel.BACKGROUND, FashnLabel.TOP}
    assert 0 < np.mean(parse == FashnLabel.TOP) < 0.5  # never the whole photo


def test_a_person_wearing_a_jacket_is_a_model_photo_masked_geometrically(engine, monkeypatch):
    monkeypatch.setattr(engine, "_garment_masker", GEOMETRIC_MASK)
    photo = load_rgb("persons/studio_woman_jacket.png")
    prepared = engine.prepare_garment(photo, Category.UPPER_BODY, AUTO)
    _worn_checks(prepared, GEOMETRIC_MASK)
    keypoints = prepared.keypoints
    height, width = prepared.image.shape[:2]
    chest = (keypoints.body[1] * 0.6 + keypoints.body[[8, 11]].mean(axis=0) * 0.4) * [width, height]
    nose = keypoints.body[0] * [width, height]
    assert prepared.parse[round(chest[1]), round(chest[0])] == FashnLabel.TOP
    assert prepared.parse[round(nose[1]), round(nose[0])] == FashnLabel.BACKGROUND


def test_a_person_wearing_a_jacket_is_a_model_photo_masked_by_segment_anything(engine):
    prepared = engine.prepare_garment(load_rgb("persons/studio_woman_jacket.png"), Category.UPPER_BODY, AUTO)
    _worn_checks(prepared, SEGMENT_ANYTHING)


def test_a_whole_outfit_under_auto_fails_naming_the_category_field(engine):
    with pytest.raises(GarmentUndecidable, match="Send the category field"):
        engine.prepare_garment(load_rgb("persons/studio_man_hoodie.png"), Category.AUTO, AUTO)


def test_a_worn_top_under_auto_is_upper_body(engine):
    photo = load_rgb("persons/studio_man_hoodie.png")
    prepared = engine.prepare_garment(np.ascontiguousarray(photo[:820]), Category.AUTO, AUTO)
    assert prepared.photo_type == "model" and prepared.category is Category.UPPER_BODY
    assert "worn: the photo shows the wearer from the shoulders to the hips" in prepared.notes[1]


def test_service_categories_map_to_the_models():
    assert {category.value: garment.value for category, garment in GARMENT_CATEGORY_OF_CATEGORY.items()} == {
        "upper_body": "tops", "lower_body": "bottoms", "dresses": "one-pieces",
    }  # fmt: skip
    assert Category.AUTO not in GARMENT_CATEGORY_OF_CATEGORY
