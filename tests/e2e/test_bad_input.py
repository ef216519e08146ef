"""Every bad upload gets a 400 with a readable ``detail``, and the server stays healthy."""

from __future__ import annotations

import pytest
import requests

from tests.factories import image_bytes, reads_like_a_sentence, undecodable_uploads
from tests.test_images import _png_with_declared_size


def post(url: str, files: dict, data: dict | None = None) -> requests.Response:
    return requests.post(f"{url}/api/tryon", files=files, data=data, timeout=60)


def both(person: bytes, clothing: bytes) -> dict:
    return {"person_image": ("person.jpg", person), "clothing_image": ("clothing.jpg", clothing)}


@pytest.mark.parametrize(
    ("case", "files", "detail"),
    [
        ("gif", lambda ok: both(image_bytes("GIF"), ok), r"^Unsupported image type: image/gif$"),
        ("bmp", lambda ok: both(ok, image_bytes("BMP")), r"^Unsupported image type: image/bmp$"),
        ("empty person", lambda ok: both(b"", ok), r"person_image is empty"),
        ("text as image", lambda ok: both(ok, b"just some text, honest" * 50), r"clothing_image is not an image"),
        ("truncated", lambda ok: both(image_bytes("JPEG", (600, 800))[:3000], ok), r"person_image could not be decoded.*truncated"),
        ("bomb", lambda ok: both(_png_with_declared_size(40_000, 40_000), ok), r"person_image .*limit .*megapixels"),
        ("too wide", lambda ok: both(_png_with_declared_size(100_000, 100), ok), r"person_image is 100000x100 pixels"),
        ("tiny", lambda ok: both(image_bytes("PNG", (20, 20)), ok), r"at least 64 pixels"),
        ("missing clothing", lambda ok: {"person_image": ("p.jpg", ok)}, r"clothing_image is required"),
        ("wrong field names", lambda ok: {"person": ("p.jpg", ok), "shirt": ("s.jpg", ok)}, r"person_image is required.*clothing_image is required"),
    ],
)
def test_bad_upload_is_a_400_with_a_readable_detail(service, case, files, detail) -> None:
    ok = image_bytes("JPEG", (200, 300))
    response = post(service.url, files(ok))
    assert response.status_code == 400, (case, response.text)
    body = response.json()
    assert isinstance(body["detail"], str)
    assert __import__("re").search(detail, body["detail"]), body["detail"]


@pytest.mark.parametrize("case", list(undecodable_uploads()))
def test_undecodable_upload_detail_is_a_sentence_without_internals(service, case) -> None:
    response = post(service.url, both(undecodable_uploads()[case], image_bytes("JPEG", (200, 300))))
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert detail.startswith("person_image ") and reads_like_a_sentence(detail), detail


def test_file_over_20_mb_names_field_and_limit(service) -> None:
    huge = image_bytes("PNG", (100, 100)) + b"\0" * (21 * 1024 * 1024)
    response = post(service.url, both(image_bytes("JPEG", (200, 300)), huge))
    assert response.status_code == 400
    assert response.json()["detail"].startswith("clothing_image is 21.0 MB; the limit is 20.0 MB")


def test_a_photo_file_in_a_json_body_is_a_400(service) -> None:
    """A JSON body carries the photos by URL (tests/e2e/test_photo_urls.py), not as file fields."""
    response = requests.post(f"{service.url}/api/tryon", json={"person_image": "x"}, timeout=10)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("person_image cannot be sent in a JSON body: give person_image_url")


def test_bad_uploads_queue_nothing_and_server_stays_healthy(service) -> None:
    before = requests.get(f"{service.url}/health", timeout=10).json()["queue"]
    post(service.url, both(image_bytes("GIF"), image_bytes("GIF")))
    after = requests.get(f"{service.url}/health", timeout=10)
    assert after.status_code == 200
    assert after.json()["queue"]["queued"] == before["queued"]
    assert sum(after.json()["queue"][k] for k in ("queued", "processing", "completed", "failed")) == sum(
        before[k] for k in ("queued", "processing", "completed", "failed")
    )
