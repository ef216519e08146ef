"""Hostile uploads and headers against a real server whose API key is not ASCII: each answered at
once (400 naming the field, or 401), the server staying healthy; /health without the key says little."""

from __future__ import annotations

import pytest
import requests

from ..hostile_images import HOSTILE, hostile_bytes
from .served import ServedService

KEY = "clé-ключ-🔑"
AUTH = {"Authorization": b"Bearer " + KEY.encode("utf-8")}  # as curl sends it from a UTF-8 shell
SERVED_CASES = ["progressive JPEG 8000x5000 of 10,000 scans", "lossless WEBP 6320x6320 of 38 bytes",
                "PNG with a short IDAT", "PNG 64x12000"]


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    served = ServedService(tmp_path_factory.mktemp("served-hostile"), TRYON_API_KEY=KEY, TRYON_WORKERS="1").start()
    yield served
    served.stop()


@pytest.mark.parametrize("name", SERVED_CASES)
def test_a_hostile_photo_is_refused_at_submit_from_its_header(keyed, garment_bytes, name: str) -> None:
    files = {"person_image": ("p.jpg", hostile_bytes(name)), "clothing_image": ("c.jpg", garment_bytes)}
    response = requests.post(f"{keyed.url}/api/tryon", files=files, headers=AUTH, timeout=30)
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert detail.startswith("person_image") and HOSTILE[name].refused in detail, detail
    health = requests.get(f"{keyed.url}/health", headers=AUTH, timeout=10).json()
    assert health["status"] == "ok" and health["queue"]["queued"] == 0


def test_a_photo_sent_as_text_is_answered_in_a_sentence(keyed, garment_bytes) -> None:
    response = requests.post(
        f"{keyed.url}/api/tryon", data={"person_image": "aGVsbG8="}, files={"clothing_image": ("c.jpg", garment_bytes)},
        headers=AUTH, timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("person_image must be a file upload")


@pytest.mark.parametrize(
    "authorization",
    [b"Bearer \xff\xfe", b"Bearer " + KEY.encode("utf-8")[:-1], "Bearer clé".encode("latin-1"), b"\xc3\xa9\xc3\xa9", b"Bearer "],
)
def test_any_authorization_bytes_are_answered_401(keyed, authorization: bytes) -> None:
    response = requests.get(f"{keyed.url}/api/tryon/some-job", headers={"Authorization": authorization}, timeout=10)
    assert response.status_code == 401 and "Authorization: Bearer" in response.json()["detail"]


def test_the_non_ascii_key_works(keyed) -> None:
    response = requests.get(f"{keyed.url}/api/tryon/some-job", headers=AUTH, timeout=10)
    assert response.status_code == 404 and "No try-on job" in response.json()["detail"]


def test_health_without_the_key_says_only_status_ready_and_engine(keyed) -> None:
    public = requests.get(f"{keyed.url}/health", timeout=10).json()
    assert set(public) == {"status", "ready", "engine"} and public["ready"] is True
    assert {"storage", "queue", "models", "gpu"} <= set(requests.get(f"{keyed.url}/health", headers=AUTH, timeout=10).json())
