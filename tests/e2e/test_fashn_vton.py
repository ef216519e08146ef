"""The FASHN VTON engine end to end: its tiny test model in a temporary model store, `bentoml serve`
with TRYON_ENGINE=fashn-vton, jobs over HTTP.

The test model has random weights, so the pictures are noise; what is tested is the path: the
store, the runner's batched sampling and progress, the options, the answer, /health, start-up errors.
"""

from __future__ import annotations

import re

import pytest
import requests

from tryon.engines.fashn_vton.inputs import CANVAS_HEIGHT, CANVAS_WIDTH, PRE_RESIZE_SIDE
from tryon.vision.canvas import pre_resize, resize_pad
from tryon.images import ImageLimits, decode_image

from .helpers import decode_result, poll_until_finished, submit
from .served import ServedService

STEPS = ["segmentation", "pose", "warp", "inpainting", "blend", "done"]


def submit_with(url: str, person: bytes, garment: bytes, **fields) -> requests.Response:
    return requests.post(
        f"{url}/api/tryon",
        files={"person_image": ("person.png", person), "clothing_image": ("clothing.jpg", garment)},
        data={name: str(value) for name, value in fields.items()},
        timeout=30,
    )


def photo_size(person_bytes: bytes) -> tuple[int, int]:
    """(width, height) of the person photo as the service decodes it: what the engine returns by default."""
    height, width = decode_image("person_image", person_bytes, ImageLimits()).shape[:2]
    return width, height


def model_size(person_bytes: bytes) -> tuple[int, int]:
    """(width, height) of the person photo fitted into the model's canvas: the engine's ``result_size=model``."""
    canvas, padding = resize_pad(
        pre_resize(decode_image("person_image", person_bytes, ImageLimits()), PRE_RESIZE_SIDE), CANVAS_HEIGHT, CANVAS_WIDTH
    )
    return canvas.shape[1] - padding.left - padding.right, canvas.shape[0] - padding.top - padding.bottom


def test_a_job_goes_through_every_step_with_rising_sampling_progress(fashn_service, person_bytes, garment_bytes) -> None:
    poll = poll_until_finished(fashn_service.url, submit(fashn_service.url, person_bytes, garment_bytes).json()["job_id"])

    assert poll.final["status"] == "completed", poll.final
    seen = list(dict.fromkeys(step for _, step, _ in poll.states if step))
    assert seen == [step for step in STEPS if step in seen] and "inpainting" in seen, seen  # in order
    metrics = requests.get(f"{fashn_service.url}/metrics", timeout=10).text
    for step in STEPS[:-1]:  # every step was reported, however short (the service times each one)
        counted = re.search(rf'tryon_step_duration_seconds_count{{[^}}]*step="{step}"[^}}]*}} (\S+)', metrics)
        assert counted and float(counted.group(1)) >= 1, (step, counted)
    sampling = [progress for _, step, progress in poll.states if step == "inpainting"]
    assert len(set(sampling)) >= 3 and sampling == sorted(sampling) and 55 < max(sampling) < 85, sampling
    width, height = photo_size(person_bytes)  # result_size original, the default
    assert (poll.final["width"], poll.final["height"]) == (width, height) != model_size(person_bytes)
    assert decode_result(poll.final).shape == (height, width, 3)
    assert isinstance(poll.final["seed"], int) and poll.final["category"] == "upper_body"
    assert any("garment photo type" in note for note in poll.final["notes"]), poll.final["notes"]
    assert any(note.startswith(f"result at the person photo's size, {width}x{height}") for note in poll.final["notes"])


@pytest.mark.parametrize("result_size, size_of", [("original", photo_size), ("model", model_size)])
def test_the_result_size_is_the_photos_or_the_models(fashn_service, person_bytes, garment_bytes, result_size, size_of) -> None:
    fields = {"result_size": result_size, "steps": 2, "garment_photo_type": "flat-lay"}
    final = poll_until_finished(fashn_service.url, submit_with(fashn_service.url, person_bytes, garment_bytes, **fields).json()["job_id"]).final

    assert final["status"] == "completed", final
    width, height = size_of(person_bytes)
    assert (final["width"], final["height"]) == (width, height)
    assert decode_result(final).shape == (height, width, 3)


def test_the_same_seed_gives_the_same_picture(fashn_service, person_bytes, garment_bytes) -> None:
    url = fashn_service.url
    fields = {"seed": 1234, "steps": 3, "guidance_scale": 2.0, "garment_photo_type": "flat-lay"}
    # One after the other: a seed reproduces its picture in a batch of the same composition
    # (docs/fashn-vton.md); rows sampled in batches of other sizes may differ by a grey level.
    finals = []
    for seed in (1234, 1234, 99):
        job_id = submit_with(url, person_bytes, garment_bytes, **{**fields, "seed": seed}).json()["job_id"]
        finals.append(poll_until_finished(url, job_id).final)
    first, again, other = finals
    assert first["status"] == again["status"] == other["status"] == "completed", [first, other]
    assert first["seed"] == again["seed"] == 1234 and other["seed"] == 99
    assert first["result_b64"] == again["result_b64"]
    assert first["result_b64"] != other["result_b64"]


def test_a_mode_sets_the_steps_and_an_explicit_steps_wins(fashn_service, person_bytes, garment_bytes) -> None:
    url = fashn_service.url
    preset = submit_with(url, person_bytes, garment_bytes, mode="performance").json()["job_id"]
    explicit = submit_with(url, person_bytes, garment_bytes, mode="quality", steps=2).json()["job_id"]
    preset, explicit = (poll_until_finished(url, job_id).final for job_id in (preset, explicit))
    assert preset["status"] == explicit["status"] == "completed", (preset, explicit)
    assert (preset["steps"], preset["mode"]) == (20, "performance")
    assert (explicit["steps"], explicit["mode"]) == (2, "quality")
    assert "2 denoising steps as sent in steps (mode quality alone would run 50)" in explicit["notes"], explicit["notes"]
    assert preset["guidance_scale"] == 1.5 and preset["garment_photo_type"] in ("flat-lay", "model")


@pytest.mark.parametrize(
    "field, value",
    [("steps", 0), ("steps", 51), ("seed", -1), ("seed", 2**63), ("guidance_scale", 0.5), ("guidance_scale", "lots"),
     ("garment_photo_type", "worn"), ("mode", "fastest"), ("result_size", "huge")],
)  # fmt: skip
def test_bad_sampling_options_are_refused_with_a_sentence(fashn_service, person_bytes, garment_bytes, field, value) -> None:
    response = submit_with(fashn_service.url, person_bytes, garment_bytes, **{field: value})
    assert response.status_code == 400, response.text
    assert response.json()["detail"].startswith(f"{field}: "), response.json()


def test_health_names_the_engine_model_licence_and_pose_source(fashn_service) -> None:
    health = requests.get(f"{fashn_service.url}/health", timeout=10).json()
    assert health["engine"] == "fashn-vton", health
    (model,) = [model for model in health["models"] if model["name"] == "fashn-vton"]
    assert model["model_tag"].startswith("fashn-vton:") and model["license"] == "apache-2.0" and model["test_model"]
    assert model["commercial_use"] is True
    assert health["engines"]["pose"].startswith("mediapipe (approximates the DWPose keypoints"), health["engines"]
    assert "fashn-vton:" in health["engines"]["inpainting"]


def test_the_api_documents_the_options_and_the_result_size(fashn_service) -> None:
    schema = requests.get(f"{fashn_service.url}/openapi.json", timeout=10).json()
    form = next(iter(schema["paths"]["/api/tryon"]["post"]["requestBody"]["content"].values()))["schema"]
    fields = schema["components"]["schemas"][form["$ref"].split("/")[-1]]["properties"]
    assert {"seed", "steps", "guidance_scale", "garment_photo_type", "mode", "result_size"} <= set(fields)
    assert "1 to 50" in fields["steps"]["description"]
    assert "549x864" in str(schema["components"]["schemas"]["JobStatusResponse"])


def test_a_configured_model_missing_from_the_store_stops_start_up(tmp_path) -> None:
    message = ServedService(tmp_path, TRYON_ENGINE="fashn-vton").start_up_error()
    assert "failed to start" in message, message[-3000:]
    assert "Model 'fashn-vton:latest' is not in the BentoML model store" in message, message[-3000:]
    assert "model_store_scripts/import_models.py fashn-vton" in message
