"""The two-field request (no category) through `bentoml serve` on both engines: the category decided
for the client from the garment photo, worn garments masked, undecidable photos failed naming the
``category`` field. The FASHN engine runs its test models (random weights: the pictures are noise,
what is tested is the decision and the path); the classical engine needs none."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
import requests

from .helpers import poll_until_finished, submit
from .served import REPO, ServedService

# A flat dress (the drawn outline of tests/vision/test_garments.py) and a folded garment (a plain
# rectangle: no cut to read), as product photos on a light backdrop.
DRESS = [(150, 20), (180, 40), (220, 40), (250, 20), (330, 60), (390, 160), (330, 190), (300, 150),
         (290, 300), (380, 680), (20, 680), (110, 300), (100, 150), (70, 190), (10, 160), (70, 60)]  # fmt: skip


def product_photo(outline: list[tuple[int, int]]) -> bytes:
    photo = np.full((800, 800, 3), 236, np.uint8)
    cv2.fillPoly(photo, [np.array(outline, np.int32) + [200, 60]], (150, 40, 60))
    return cv2.imencode(".png", photo)[1].tobytes()


@pytest.fixture(scope="module")
def photos(data_dir) -> dict[str, bytes]:
    return {
        "jeans": (data_dir / "garments" / "jeans_blue.jpg").read_bytes(),
        "shirt": (data_dir / "garments" / "shirt_oxford_blue.jpg").read_bytes(),
        "dress": product_photo(DRESS),
        "folded": product_photo([(100, 150), (500, 150), (500, 450), (100, 450)]),
        "worn_jacket": (data_dir / "persons" / "studio_woman_jacket.png").read_bytes(),
    }


@pytest.fixture(scope="module")
def fashn(tmp_path_factory: pytest.TempPathFactory):
    server = ServedService(tmp_path_factory.mktemp("fashn-garments"), TRYON_ENGINE="fashn-vton", TRYON_WORKERS="2")
    subprocess.run(
        [sys.executable, "model_store_scripts/make_test_models.py", "fashn-vton", "tryon-garment-masker"],
        cwd=REPO, env=server.env, check=True, capture_output=True,
    )  # fmt: skip
    yield server.start(timeout=240)
    server.stop()


@pytest.fixture(scope="module")
def classical(tmp_path_factory: pytest.TempPathFactory):
    server = ServedService(tmp_path_factory.mktemp("classical-garments"), TRYON_ENGINE="classical")
    yield server.start(timeout=240)
    server.stop()


def finished(url: str, person: bytes, garment: bytes, **fields) -> dict:
    if fields:
        response = requests.post(
            f"{url}/api/tryon",
            files={"person_image": ("person.png", person), "clothing_image": ("clothing.png", garment)},
            data={name: str(value) for name, value in fields.items()},
            timeout=30,
        )
    else:
        response = submit(url, person, garment)
    assert response.status_code == 202, response.text
    return poll_until_finished(url, response.json()["job_id"], timeout=240).final


EXPECTED = [("jeans", "lower_body"), ("shirt", "upper_body"), ("dress", "dresses")]


@pytest.mark.parametrize("garment, category", EXPECTED)
def test_fashn_two_field_requests_get_the_garments_category(fashn, photos, person_bytes, garment, category):
    job = finished(fashn.url, person_bytes, photos[garment], steps=1)
    assert job["status"] == "completed", job
    assert job["category"] == category, job["notes"]
    assert job["notes"][:2] == ["garment photo type: flat-lay (the person detector found nobody in it)", job["notes"][1]]
    assert job["notes"][1].startswith(f"category auto -> {category} ("), job["notes"]


@pytest.mark.parametrize("garment, category", EXPECTED)
def test_classical_two_field_requests_get_the_garments_category(classical, photos, person_bytes, garment, category):
    job = finished(classical.url, person_bytes, photos[garment])
    assert job["status"] == "completed", job
    assert job["category"] == category and f"category auto -> {category}" in job["notes"][0], job["notes"]


def test_fashn_a_person_photo_as_the_garment_is_a_masked_model_photo(fashn, photos, person_bytes):
    job = finished(fashn.url, person_bytes, photos["worn_jacket"], steps=1, category="upper_body")
    assert job["status"] == "completed", job
    assert job["category"] == "upper_body"
    assert job["notes"][0] == "garment photo type: model (the person detector found a person in it)", job["notes"]
    assert "worn garment masked by Segment Anything (Apache-2.0), prompted with the wearer's keypoints" in job["notes"]
    health = requests.get(f"{fashn.url}/health", timeout=10).text
    assert "unmasked" not in str(job).lower() and "unmasked" not in health.lower()


def test_fashn_health_lists_every_model_with_its_licence(fashn):
    health = requests.get(f"{fashn.url}/health", timeout=10).json()
    models = {model["name"]: model for model in health["models"]}
    assert {"fashn-vton", "tryon-garment-masker", "mediapipe-pose", "mediapipe-selfie-segmentation"} <= set(models)
    assert all(model["commercial_use"] is True and model["license"] for model in models.values())
    assert "Segment Anything" in health["engines"]["segmentation"]


@pytest.mark.parametrize("engine", ["fashn", "classical"])
def test_an_undecidable_garment_fails_naming_the_category_field(request, photos, person_bytes, engine):
    url = request.getfixturevalue(engine).url
    job = finished(url, person_bytes, photos["folded"], steps=1) if engine == "fashn" else finished(url, person_bytes, photos["folded"])
    assert job["status"] == "failed", job
    assert "Send the category field: upper_body, lower_body or dresses" in job["detail"]["error"], job["detail"]["error"]


def test_fashn_a_whole_outfit_worn_fails_naming_the_category_field(fashn, photos, person_bytes):
    job = finished(fashn.url, person_bytes, photos["worn_jacket"], steps=1)
    assert job["status"] == "failed", job
    assert "dressed above and below the waist" in job["detail"]["error"] and "category field" in job["detail"]["error"], job["detail"]["error"]
