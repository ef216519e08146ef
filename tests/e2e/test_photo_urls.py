"""Photos by URL through ``bentoml serve``: form fields and a JSON body, fetched from a real HTTP
server on 127.0.0.1, and every way a URL can fail answered by a 400 naming its field."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image

from tests.photo_server import PhotoServer
from tryon.clients import TryOnClient

from .helpers import decode_result, poll_until_finished
from .served import GUARDED_AUTH, IMAGE_URL_TIMEOUT_SECONDS

PERSON = "files/persons/studio_man_hoodie.png"
GARMENT = "files/garments/tshirt_white.jpg"


@pytest.fixture(scope="module")
def photos(data_dir: Path) -> Iterator[PhotoServer]:
    server = PhotoServer(data_dir, slow_seconds=IMAGE_URL_TIMEOUT_SECONDS + 5)
    yield server
    server.close()


@pytest.fixture(scope="module")
def url_service(service):
    """The shared server, which may fetch photos from loopback (``SHARED_SETTINGS``)."""
    assert service.env["TRYON_IMAGE_URL_ALLOW_PRIVATE"] == "true"
    return service


def submit(service, **kwargs) -> requests.Response:
    return requests.post(f"{service.url}/api/tryon", timeout=60, **kwargs)


def completed(service, response: requests.Response) -> dict:
    assert response.status_code == 202, response.text
    log = poll_until_finished(service.url, response.json()["job_id"])
    assert log.final["status"] == "completed", log.final
    return log.final


def test_a_job_submitted_by_url_form_fields_completes_and_each_photo_is_fetched_once(
    url_service, photos: PhotoServer, data_dir: Path
) -> None:
    before = len(photos.requests)
    response = submit(url_service, data={"person_image_url": photos.url(PERSON), "clothing_image_url": photos.url(GARMENT)})
    final = completed(url_service, response)

    person = Image.open(io.BytesIO((data_dir / PERSON.removeprefix("files/")).read_bytes()))
    assert decode_result(final).shape[:2] == (person.height, person.width)
    # Fetched at submission, once: the job (and any retry of it) works from the queued bytes.
    assert sorted(photos.requests[before:]) == sorted([f"/{PERSON}", f"/{GARMENT}"])


def test_a_job_submitted_as_a_json_body_completes_with_its_other_fields(url_service, photos: PhotoServer) -> None:
    body = {
        "person_image_url": photos.url(PERSON),
        "clothing_image_url": photos.url(GARMENT),
        "category": "upper_body",
        "seed": 7,
        "webhook_url": None,
    }
    final = completed(url_service, submit(url_service, json=body))
    assert final["category"] == "upper_body"
    assert decode_result(final).ndim == 3


def test_a_file_and_a_url_may_be_mixed_across_photos(url_service, photos: PhotoServer, data_dir: Path) -> None:
    files = {"person_image": ("p.png", (data_dir / PERSON.removeprefix("files/")).read_bytes())}
    completed(url_service, submit(url_service, files=files, data={"clothing_image_url": photos.url(GARMENT)}))


FAILURES = {
    # case: (request built from the photo server, the field named, the reason)
    "bad scheme": (
        lambda p: {"json": {"person_image_url": "ftp://127.0.0.1/p.png", "clothing_image_url": p.url(GARMENT)}},
        "person_image_url", "must be an http or https URL (its scheme is ftp)",
    ),
    "times out": (
        lambda p: {"data": {"person_image_url": p.url(PERSON), "clothing_image_url": p.url("slow")}},
        "clothing_image_url", f"did not send its photo within {IMAGE_URL_TIMEOUT_SECONDS} s",
    ),
    "sends too much": (
        lambda p: {"data": {"person_image_url": p.url("endless"), "clothing_image_url": p.url(GARMENT)}},
        "person_image_url", "sends more than 20.0 MB, the limit per photo",
    ),
    "declares too much": (
        lambda p: {"json": {"person_image_url": p.url("declared-huge"), "clothing_image_url": p.url(GARMENT)}},
        "person_image_url", "sends more than 20.0 MB",
    ),
    "not an image": (
        lambda p: {"data": {"person_image_url": p.url(PERSON), "clothing_image_url": p.url("files/README.md")}},
        "clothing_image_url", "did not send an image: its bytes are not JPEG, PNG or WEBP",
    ),
    "not found": (
        lambda p: {"data": {"person_image_url": p.url("files/none.png"), "clothing_image_url": p.url(GARMENT)}},
        "person_image_url", "answered HTTP 404",
    ),
    "redirect to another host": (
        lambda p: {"data": {"person_image_url": p.url(f"redirect?to=http://localhost:{p.port}/{PERSON}"),
                            "clothing_image_url": p.url(GARMENT)}},
        "person_image_url", "redirects to another host (localhost)",
    ),
    "a file and a URL for one photo": (
        lambda p: {"files": {"person_image": ("p.png", b"\x89PNG\r\n\x1a\n")},
                   "data": {"person_image_url": p.url(PERSON), "clothing_image_url": p.url(GARMENT)}},
        "person_image", "and person_image_url are both given",
    ),
    "neither (form)": (
        lambda p: {"data": {"person_image_url": p.url(PERSON)}},
        "clothing_image", "is required (send it as a file field in multipart/form-data, or its URL as clothing_image_url)",
    ),
    "neither (JSON)": (
        lambda p: {"json": {"clothing_image_url": p.url(GARMENT), "category": "upper_body"}},
        "person_image", "is required",
    ),
    "a file in a JSON body": (
        lambda p: {"json": {"person_image": "iVBORw0KGgo=", "clothing_image_url": p.url(GARMENT)}},
        "person_image", "cannot be sent in a JSON body: give person_image_url there",
    ),
    "a bad value in a JSON body": (
        lambda p: {"json": {"person_image_url": p.url(PERSON), "clothing_image_url": p.url(GARMENT), "seed": -1}},
        "seed", "greater than or equal to 0",
    ),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_each_failure_is_a_400_naming_the_field_and_queues_nothing(url_service, photos: PhotoServer, case: str) -> None:
    request, field, reason = FAILURES[case]
    queued = requests.get(f"{url_service.url}/health", timeout=10).json()["queue"]["queued"]

    response = submit(url_service, **request(photos))

    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert re.match(rf"{field}[ :]", detail) and reason in detail, detail
    assert requests.get(f"{url_service.url}/health", timeout=10).json()["queue"]["queued"] <= queued


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "10.0.0.1", "169.254.169.254"])
def test_private_addresses_are_refused_unless_the_operator_allows_them(guarded_service, photos: PhotoServer, host: str) -> None:
    """The guarded server runs on the default settings: no photo from loopback or private addresses."""
    assert "TRYON_IMAGE_URL_ALLOW_PRIVATE" not in guarded_service.env
    before = len(photos.requests)

    response = requests.post(
        f"{guarded_service.url}/api/tryon",
        json={"person_image_url": f"http://{host}:{photos.port}/{PERSON}", "clothing_image_url": photos.url(GARMENT)},
        headers=GUARDED_AUTH,
        timeout=30,
    )

    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert detail.startswith("person_image_url ") and "only connects to public addresses" in detail, detail
    assert "TRYON_IMAGE_URL_ALLOW_PRIVATE" in detail
    assert len(photos.requests) == before  # refused before any connection


def test_the_client_and_the_cli_send_an_http_argument_as_a_url(
    url_service, photos: PhotoServer, data_dir: Path, tmp_path: Path
) -> None:
    with TryOnClient(url_service.url) as client:
        final = client.wait(client.submit(photos.url(PERSON), photos.url(GARMENT)), poll_seconds=0.1)
    assert final["status"] == "completed"

    before = len(photos.requests)
    out = tmp_path / "out.png"
    run = subprocess.run(
        [str(Path(sys.executable).with_name("tryon")), "run", photos.url(PERSON), str(data_dir / GARMENT.removeprefix("files/")),
         "-o", str(out), "--server", url_service.url, "-q"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert out.read_bytes().startswith(b"\x89PNG")
    assert photos.requests[before:] == [f"/{PERSON}"]
