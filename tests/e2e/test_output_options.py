"""#26's output fields through `bentoml serve`: several pictures per job (`num_samples`), JPEG and WebP
(`output_format`, `output_quality`), on both engines, the task endpoint and the CLI; bad values are 400s
naming the field. Runs on the suite's shared servers (`service`: classical; `fashn_service`)."""

from __future__ import annotations

import base64
import io
import sys
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image


from .helpers import poll_until_finished
from .served import ServedService
from .test_fashn_vton import submit_with
from .test_tryon_flow import task_status

pytestmark = pytest.mark.e2e

TRYON = Path(sys.executable).with_name("tryon")
SIGNATURES = {"png": b"\x89PNG\r\n\x1a\n", "jpeg": b"\xff\xd8\xff", "webp": b"RIFF"}


def completed(url: str, person: bytes, garment: bytes, **fields) -> dict:
    submitted = submit_with(url, person, garment, **fields)
    assert submitted.status_code == 202, submitted.text
    final = poll_until_finished(url, submitted.json()["job_id"], timeout=300).final
    assert final["status"] == "completed", final
    return final


def picture(entry: dict, output_format: str) -> Image.Image:
    data = base64.b64decode(entry["result_b64"])
    assert data.startswith(SIGNATURES[output_format]), data[:12]
    image = Image.open(io.BytesIO(data))
    assert image.format == output_format.upper()
    return image


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"num_samples": 0}, "num_samples"),
        ({"num_samples": 5}, "num_samples"),
        ({"num_samples": "two"}, "num_samples"),
        ({"output_format": "gif"}, "output_format"),
        ({"output_format": "jpeg", "output_quality": 0}, "output_quality"),
        ({"output_format": "webp", "output_quality": 101}, "output_quality"),
        ({"output_format": "jpeg", "output_quality": "high"}, "output_quality"),
        ({"output_quality": 80}, "output_quality"),  # png is lossless: refused, not ignored
    ],
)
def test_bad_output_values_are_a_400_naming_the_field(service: ServedService, person_bytes, garment_bytes, fields, field) -> None:
    refused = submit_with(service.url, person_bytes, garment_bytes, **fields)
    assert refused.status_code == 400, refused.text
    assert field in refused.json()["detail"], refused.json()


def test_classical_jpeg_with_num_samples_answers_one_picture_and_says_so(service, person_bytes, garment_bytes) -> None:
    final = completed(service.url, person_bytes, garment_bytes, num_samples=3, output_format="jpeg", output_quality=70)

    first = picture(final, "jpeg")
    assert first.size == Image.open(io.BytesIO(person_bytes)).size == (final["width"], final["height"])
    assert "results" not in final  # one picture
    assert "num_samples is not an option of the classical engine; it was ignored" in final["notes"]


def test_webp_and_the_default_answer_keep_their_shape(service, person_bytes, garment_bytes) -> None:
    webp = completed(service.url, person_bytes, garment_bytes, output_format="webp")
    assert picture(webp, "webp").size == (webp["width"], webp["height"]) and "results" not in webp
    default = completed(service.url, person_bytes, garment_bytes)
    assert picture(default, "png") and "results" not in default  # the two-field request's answer as before
    assert len(base64.b64decode(webp["result_b64"])) < len(base64.b64decode(default["result_b64"])) / 3


def test_fashn_samples_several_pictures_from_consecutive_seeds(fashn_service, person_bytes, garment_bytes) -> None:
    fields = {"seed": 7, "steps": 2, "garment_photo_type": "flat-lay", "output_format": "webp", "output_quality": 95}
    final = completed(fashn_service.url, person_bytes, garment_bytes, num_samples=3, **fields)

    assert [entry["seed"] for entry in final["results"]] == [7, 8, 9] and final["seed"] == 7
    assert final["results"][0]["result_b64"] == final["result_b64"]
    pictures = [np.asarray(picture(entry, "webp").convert("RGB")) for entry in final["results"]]
    assert all(array.shape == (final["height"], final["width"], 3) for array in pictures)
    assert not np.array_equal(pictures[0], pictures[1]) and not np.array_equal(pictures[1], pictures[2])
    # One sampling run per row, under the row's own request id.
    log = fashn_service.log(200_000)
    job = final["job_id"]
    assert all(f"sampling {row}: 2 steps" in log for row in (job, f"{job}#1", f"{job}#2"))


def test_the_task_endpoint_answers_in_the_output_format(service, person_bytes, garment_bytes) -> None:
    files = {"person_image": ("p.png", person_bytes), "clothing_image": ("c.jpg", garment_bytes)}
    answer = requests.post(f"{service.url}/tryon", files=files, data={"output_format": "jpeg", "output_quality": "85"}, timeout=300)
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["content-type"] == "image/jpeg" and answer.content.startswith(SIGNATURES["jpeg"])
    assert Image.open(io.BytesIO(answer.content)).size == Image.open(io.BytesIO(person_bytes)).size
    png = requests.post(f"{service.url}/tryon", files=files, timeout=300)
    assert png.headers["content-type"] == "image/png" and png.content.startswith(SIGNATURES["png"])
    refused = requests.post(f"{service.url}/tryon", files=files, data={"output_quality": "80"}, timeout=60)
    assert refused.status_code == 400 and "output_quality" in refused.text
    # Submitted as a task, its answer is kept by BentoML's task store and read back the same.
    task_id = requests.post(f"{service.url}/tryon/submit", files=files, data={"output_format": "webp"}, timeout=30).json()["task_id"]
    deadline = time.monotonic() + 120
    while task_status(service.url, task_id) == "in_progress":
        assert time.monotonic() < deadline, "the task never finished"
        time.sleep(0.1)
    kept = requests.get(f"{service.url}/tryon/get", params={"task_id": task_id}, timeout=30)
    assert kept.status_code == 200 and kept.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(kept.content)).format == "WEBP"


def test_cli_output_suffix_picks_the_format_and_num_samples_writes_each(fashn_service, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.jpg"
    person, garment = data_dir / "persons" / "studio_man_hoodie.png", data_dir / "garments" / "shirt_oxford_blue.jpg"
    run = subprocess.run(
        [str(TRYON), "run", str(person), str(garment), "-o", str(out), "--server", fashn_service.url,
         "--num-samples", "2", "--quality", "80", "-q"],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    for path in (out, tmp_path / "result-2.jpg"):
        assert path.read_bytes().startswith(SIGNATURES["jpeg"]), path
        assert f"wrote {path}" in run.stderr
    assert out.read_bytes() != (tmp_path / "result-2.jpg").read_bytes()
