"""The documented client flow against a real ``bentoml serve``: submit, watch the steps, get a PNG."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import requests
from PIL import Image

from tryon.engines.classical.analyzer import local_person_analyzer

from .helpers import decode_result, poll_until_finished, submit
from .served import REPO

STEP_PROGRESS = {"segmentation": 10, "pose": 25, "warp": 40, "inpainting": 55, "blend": 85, "done": 100}
PAIRS = [
    ("studio_man_hoodie.png", "shirt_oxford_blue.jpg"),
    ("indoor_man_sweater.jpg", "tshirt_white.jpg"),
]


@pytest.fixture(scope="module")
def analyzer():
    return local_person_analyzer()


@pytest.mark.parametrize(("person_name", "garment_name"), PAIRS)
def test_job_goes_through_the_documented_steps_to_a_dressed_person(
    service, data_dir: Path, analyzer, person_name: str, garment_name: str
) -> None:
    person_bytes = (data_dir / "persons" / person_name).read_bytes()
    response = submit(service.url, person_bytes, (data_dir / "garments" / garment_name).read_bytes())
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued" and re.fullmatch(r"[0-9a-f-]{36}", body["job_id"])

    log = poll_until_finished(service.url, body["job_id"])
    assert log.final_status_code == 200, log.final
    assert log.final["status"] == "completed" and log.final["progress"] == 100
    assert "result_url" not in log.final  # no S3 configured: the base64 fallback

    # What the client watched: statuses in order, and each step with its documented progress.
    statuses = [status for status, _, _ in log.states]
    assert statuses == sorted(statuses, key=["pending", "processing", "completed"].index)
    progress = [value for _, _, value in log.states]
    assert progress == sorted(progress)
    steps = [step for status, step, _ in log.states if status == "processing" and step]
    for status, step, value in log.states:
        if status == "pending":
            assert value == 0
        if status == "processing" and step:
            assert STEP_PROGRESS[step] == value
    assert len(set(steps)) >= 2, f"a 20 ms poll should see several steps, saw {log.states}"

    # The result: a PNG of the same size, torso changed, face and background kept.
    person = np.asarray(Image.open(io.BytesIO(person_bytes)).convert("RGB"))
    result = decode_result(log.final)
    assert result.shape == person.shape
    regions = body_regions(person, analyzer)
    difference = np.abs(result.astype(np.int16) - person.astype(np.int16)).mean(axis=2)
    assert difference[regions["torso"]].mean() > 25, "the garment did not replace the torso"
    assert difference[regions["background"]].mean() < 1.0
    assert psnr(result[regions["face"]], person[regions["face"]]) > 35


def test_contract_python_example_runs_unchanged(service, data_dir: Path, tmp_path: Path) -> None:
    """The polling client of docs/api.md (the contract), with only its host pointed here."""
    contract = (REPO / "docs" / "api.md").read_text()
    example = re.search(r"## A polling client in Python\s.*?```python\n(.*?)```", contract, re.S).group(1)
    example = example.replace("http://localhost:8000", service.url)
    (tmp_path / "person.jpg").write_bytes((data_dir / "persons" / "studio_woman_jacket.png").read_bytes())
    (tmp_path / "shirt.jpg").write_bytes((data_dir / "garments" / "sweatshirt_grey.jpg").read_bytes())
    run = subprocess.run(
        [sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert "completed 100" in run.stdout and "Result: base64 available" in run.stdout


def test_unknown_job_is_404(service) -> None:
    response = requests.get(f"{service.url}/api/tryon/00000000-0000-4000-8000-000000000000", timeout=10)
    assert response.status_code == 404
    assert "No try-on job" in response.json()["detail"]


def test_pipeline_failure_is_a_500_with_a_readable_reason(service, data_dir: Path) -> None:
    """A product shot has no person in it: the job fails and says so, in the documented shape."""
    no_person = (data_dir / "garments" / "tshirt_white.jpg").read_bytes()
    garment = (data_dir / "garments" / "shirt_oxford_blue.jpg").read_bytes()
    job_id = submit(service.url, no_person, garment).json()["job_id"]
    log = poll_until_finished(service.url, job_id)
    assert log.final_status_code == 500
    assert log.final["status"] == "failed" and log.final["job_id"] == job_id
    assert log.final["detail"]["job_id"] == job_id
    assert "person" in log.final["detail"]["error"].lower()
    assert "Traceback" not in log.final["detail"]["error"]


def test_bentoml_task_endpoint_runs_the_same_pipeline(service, person_bytes, garment_bytes) -> None:
    submitted = requests.post(
        f"{service.url}/tryon/submit",
        files={"person_image": ("p.png", person_bytes), "clothing_image": ("c.jpg", garment_bytes)},
        timeout=30,
    )
    assert submitted.status_code == 200, submitted.text
    task_id = submitted.json()["task_id"]
    assert submitted.json() == {"task_id": task_id, "status": "in_progress"}  # as docs/api.md shows
    early = requests.get(f"{service.url}/tryon/get", params={"task_id": task_id}, timeout=10)
    assert early.status_code == 400  # documented: ask /tryon/status first
    assert early.json() == {"error": f"task {task_id} is not completed yet"}
    # BentoML answers before it starts the task; the job exists once the task has started.
    deadline = time.monotonic() + 10
    while requests.get(f"{service.url}/api/tryon/{task_id}", timeout=10).status_code == 404:
        assert time.monotonic() < deadline, "the task never became a job"
        time.sleep(0.02)
    log = poll_until_finished(service.url, task_id)  # the task id is a job id too
    assert log.final["status"] == "completed"
    deadline = time.monotonic() + 10  # the task itself finishes once it has encoded its answer
    while (status := task_status(service.url, task_id)) == "in_progress":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status == "completed"
    image = requests.get(f"{service.url}/tryon/get", params={"task_id": task_id}, timeout=30)
    assert image.status_code == 200
    result = Image.open(io.BytesIO(image.content))
    assert result.size == Image.open(io.BytesIO(person_bytes)).size
    for route in ("status", "get"):
        unknown = requests.get(f"{service.url}/tryon/{route}", params={"task_id": "no-such-task"}, timeout=10)
        assert (unknown.status_code, unknown.json()) == (404, {"error": "task_id not found"})


def task_status(url: str, task_id: str) -> str:
    return requests.get(f"{url}/tryon/status", params={"task_id": task_id}, timeout=10).json()["status"]


def body_regions(person: np.ndarray, analyzer) -> dict[str, np.ndarray]:
    """Boolean masks of the torso core, the face box and the background far from the person."""
    height, width = person.shape[:2]
    pose = analyzer.estimate_pose(person)
    points = pose.points
    shoulders, hips = points[[11, 12]], points[[23, 24]]
    torso = np.zeros((height, width), bool)
    top = int(shoulders[:, 1].mean() + 0.25 * (hips[:, 1].mean() - shoulders[:, 1].mean()))
    bottom = int(hips[:, 1].mean() - 0.1 * (hips[:, 1].mean() - shoulders[:, 1].mean()))
    left, right = sorted(shoulders[:, 0])
    inset = 0.2 * (right - left)
    torso[top:bottom, int(left + inset) : int(right - inset)] = True

    nose, shoulder_width = points[0], abs(shoulders[0, 0] - shoulders[1, 0])
    half = int(0.22 * shoulder_width)
    face = np.zeros((height, width), bool)
    face[int(nose[1]) - half : int(nose[1]) + half // 2, int(nose[0]) - half : int(nose[0]) + half] = True

    silhouette = (analyzer.segment_person(person) > 0.1).astype(np.uint8)
    near_person = cv2.dilate(silhouette, np.ones((61, 61), np.uint8)) > 0
    return {"torso": torso, "face": face, "background": ~near_person}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def test_category_auto_decides_from_the_garment_and_records_it(service, data_dir: Path) -> None:
    person = (data_dir / "persons" / "studio_man_hoodie.png").read_bytes()
    jeans = (data_dir / "garments" / "jeans_blue.jpg").read_bytes()
    job_id = submit(service.url, person, jeans).json()["job_id"]
    final = poll_until_finished(service.url, job_id).final
    assert final["status"] == "completed" and final["category"] == "lower_body"
    assert any("lower_body" in note for note in final["notes"])


def test_requested_category_is_used_and_a_mismatch_fails_readably(service, data_dir: Path) -> None:
    person = (data_dir / "persons" / "studio_man_hoodie.png").read_bytes()
    jeans = (data_dir / "garments" / "jeans_blue.jpg").read_bytes()
    response = requests.post(
        f"{service.url}/api/tryon",
        files={"person_image": ("p.png", person), "clothing_image": ("j.jpg", jeans)},
        data={"category": "upper_body"},
        timeout=30,
    )
    final = poll_until_finished(service.url, response.json()["job_id"]).final
    assert final["status"] == "failed"
    assert "upper" in final["detail"]["error"].lower() or "top" in final["detail"]["error"].lower()


def test_unknown_category_is_a_400_listing_the_allowed_values(service, person_bytes, garment_bytes) -> None:
    response = requests.post(
        f"{service.url}/api/tryon",
        files={"person_image": ("p.png", person_bytes), "clothing_image": ("c.jpg", garment_bytes)},
        data={"category": "hats"},
        timeout=30,
    )
    assert response.status_code == 400
    detail = response.json()["detail"]
    for allowed in ("auto", "upper_body", "lower_body", "dresses"):
        assert allowed in detail
