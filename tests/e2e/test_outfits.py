"""Whole outfits (``bottom_image``) through `bentoml serve` on both engines: the bottoms and the top in
one job, progress over both passes, the notes, and the refusals: a category that names no top is a 400
naming the fields, a garment that is not what its field says fails the job naming the field. The FASHN
engine runs its test models (random weights: its pictures are noise, so its top's pass finds nobody in
the bottoms' picture; the path is what is tested)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from tests.photo_server import PhotoServer

from .helpers import decode_result, poll_until_finished

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def photos(data_dir: Path) -> dict[str, bytes]:
    return {
        "person": (data_dir / "persons" / "studio_man_hoodie.png").read_bytes(),
        "shirt": (data_dir / "garments" / "shirt_oxford_blue.jpg").read_bytes(),
        "jeans": (data_dir / "garments" / "jeans_blue.jpg").read_bytes(),
    }


@pytest.fixture(scope="module")
def classical(service):
    health = requests.get(f"{service.url}/health", timeout=10).json()
    assert health["engine"] == "classical", health
    return service


def submit_outfit(url: str, person: bytes, top: bytes, bottom: bytes, **fields) -> requests.Response:
    return requests.post(
        f"{url}/api/tryon",
        files={
            "person_image": ("person.png", person),
            "clothing_image": ("top.jpg", top),
            "bottom_image": ("bottoms.jpg", bottom),
        },
        data={name: str(value) for name, value in fields.items()},
        timeout=30,
    )


def outfit_job(url: str, person: bytes, top: bytes, bottom: bytes, **fields):
    response = submit_outfit(url, person, top, bottom, **fields)
    assert response.status_code == 202, response.text
    return poll_until_finished(url, response.json()["job_id"], timeout=300)


def assert_progress_spans_both_passes(states: list[tuple[str, str | None, int]]) -> None:
    progress = [percent for status, _, percent in states if status != "failed"]  # a failed body has none
    assert progress == sorted(progress), states
    steps = {step for _, step, _ in states if step}
    assert steps <= {"segmentation", "pose", "warp", "inpainting", "blend", "done"}, steps


def test_classical_outfit_dresses_the_bottoms_then_the_top(classical, photos, tmp_path: Path) -> None:
    log = outfit_job(classical.url, photos["person"], photos["shirt"], photos["jeans"])
    job = log.final
    assert job["status"] == "completed", job
    assert_progress_spans_both_passes(log.states)
    assert job["category"] == "upper_body"
    notes = job["notes"]
    assert notes[0].startswith("outfit: two passes, the bottoms (bottom_image) first"), notes
    assert any(note.startswith("bottoms: category auto -> lower_body") for note in notes), notes
    assert any(note.startswith("top: category auto -> upper_body") for note in notes), notes
    picture = decode_result(job)
    person = np.asarray(Image.open(io.BytesIO(photos["person"])).convert("RGB"))
    assert picture.shape == person.shape
    height = picture.shape[0]
    # Both the torso (the top) and the legs (the bottoms) changed from the person photo.
    torso, legs = slice(int(0.25 * height), int(0.45 * height)), slice(int(0.6 * height), int(0.85 * height))
    changed = np.abs(picture.astype(int) - person.astype(int)).sum(axis=2) > 40
    assert changed[torso].mean() > 0.05 and changed[legs].mean() > 0.05
    Image.fromarray(picture).save(tmp_path / "outfit.png")  # for a person to look at


def test_fashn_outfit_dresses_the_top_over_the_bottoms_picture(fashn_service, photos) -> None:
    """At the photo's own size (result_size original, the default) the bottoms' pass paints the test
    model's noise only near the legs: the top's pass finds the person above them and the outfit completes."""
    log = outfit_job(fashn_service.url, photos["person"], photos["shirt"], photos["jeans"], steps=1)
    job = log.final
    assert job["status"] == "completed", job
    person = np.asarray(Image.open(io.BytesIO(photos["person"])).convert("RGB"))
    assert decode_result(job).shape == person.shape
    assert sum("result at the person photo's size" in note for note in job["notes"]) == 2, job["notes"]  # each pass
    assert_progress_spans_both_passes(log.states)


def test_fashn_outfit_at_the_models_size_feeds_the_top_the_bottoms_noise(fashn_service, photos) -> None:
    """With result_size model the test model's random weights paint noise over the whole picture: the
    top's pass, fed the bottoms' picture as its person photo, finds nobody there, and says so (with a
    real model it finds the person)."""
    log = outfit_job(fashn_service.url, photos["person"], photos["shirt"], photos["jeans"], steps=1, result_size="model")
    job = log.final
    assert job["status"] == "failed", job
    assert job["detail"]["error"].startswith(
        "The top (clothing_image) could not be dressed over the bottoms' picture: No person was found in person_image"
    ), job["detail"]
    assert_progress_spans_both_passes(log.states)
    assert any(status == "processing" and 0 < percent <= 50 for status, _, percent in log.states), log.states


def test_fashn_a_top_sent_as_the_bottoms_fails_the_job_naming_bottom_image(fashn_service, photos) -> None:
    job = outfit_job(fashn_service.url, photos["person"], photos["shirt"], photos["shirt"], steps=1).final
    assert job["status"] == "failed", job
    assert job["detail"]["error"].startswith("bottom_image shows a top (category upper_body, decided from the photo)")


@pytest.mark.parametrize("category", ["dresses", "lower_body"])
def test_a_category_that_names_no_top_is_a_400_naming_the_fields(classical, photos, category) -> None:
    response = submit_outfit(classical.url, photos["person"], photos["shirt"], photos["jeans"], category=category)
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert detail.startswith(f"category {category} cannot be combined with bottom_image"), detail


def test_an_outfit_by_url_in_a_json_body_fetches_the_bottoms_once(classical, data_dir: Path) -> None:
    assert classical.env["TRYON_IMAGE_URL_ALLOW_PRIVATE"] == "true"  # the photo server is on loopback
    server = PhotoServer(data_dir)
    try:
        body = {
            "person_image_url": server.url("files/persons/studio_man_hoodie.png"),
            "clothing_image_url": server.url("files/garments/shirt_oxford_blue.jpg"),
            "bottom_image_url": server.url("files/garments/jeans_blue.jpg"),
        }
        response = requests.post(f"{classical.url}/api/tryon", json=body, timeout=60)
        assert response.status_code == 202, response.text
        job = poll_until_finished(classical.url, response.json()["job_id"], timeout=300).final
        assert job["status"] == "completed" and job["notes"][0].startswith("outfit: two passes"), job
        assert server.requests.count("/files/garments/jeans_blue.jpg") == 1
        refused = requests.post(f"{classical.url}/api/tryon", json={**body, "category": "dresses"}, timeout=60)
        assert refused.status_code == 400 and "bottom_image" in refused.json()["detail"], refused.text
    finally:
        server.close()


def test_a_bottom_image_that_is_no_image_is_a_400_naming_it(classical, photos) -> None:
    response = submit_outfit(classical.url, photos["person"], photos["shirt"], b"plain text, not a photo\n" * 8)
    assert response.status_code == 400, response.text
    assert "bottom_image" in response.json()["detail"], response.text


def test_a_top_sent_as_the_bottoms_fails_the_job_naming_bottom_image(classical, photos) -> None:
    job = outfit_job(classical.url, photos["person"], photos["shirt"], photos["shirt"]).final
    assert job["status"] == "failed", job
    assert job["detail"]["error"].startswith("bottom_image shows a top (category upper_body, decided from the photo)")


def test_trousers_sent_as_the_top_fail_the_job_naming_clothing_image(classical, photos) -> None:
    job = outfit_job(classical.url, photos["person"], photos["jeans"], photos["jeans"]).final
    assert job["status"] == "failed", job
    assert job["detail"]["error"].startswith("clothing_image shows trousers, shorts or a skirt"), job["detail"]


def test_the_readmes_outfit_command_writes_the_result(classical, tmp_path: Path) -> None:
    """The README's ``tryon run ... --bottom ...`` line, as written, from a copy of the clone's examples."""
    readme = (REPO / "README.md").read_text()
    (command,) = [line for line in readme.splitlines() if line.startswith(".venv/bin/tryon run") and "--bottom" in line]
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    run = subprocess.run(
        ["bash", "-c", command.replace(".venv/bin/", f"{Path(sys.executable).parent}/")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={**os.environ, "TRYON_SERVER": classical.url},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "outfit.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "[##########] 100% done" in run.stderr.splitlines()


def test_demo_page_sends_the_bottoms_photo(classical, browser, data_dir: Path) -> None:
    page = browser.new_page()
    page.goto(f"{classical.url}/demo")
    page.set_input_files("#person-input", str(data_dir / "persons" / "studio_man_hoodie.png"))
    page.set_input_files("#garment-input", str(data_dir / "garments" / "shirt_oxford_blue.jpg"))
    page.set_input_files("#bottom-input", str(data_dir / "garments" / "jeans_blue.jpg"))
    page.click("#submit")
    page.wait_for_selector("body[data-state='completed']", timeout=90_000)
    job = requests.get(f"{classical.url}/api/tryon/{page.evaluate('document.body.dataset.jobId')}", timeout=10).json()
    assert job["notes"][0].startswith("outfit: two passes"), job["notes"]
    page.close()
