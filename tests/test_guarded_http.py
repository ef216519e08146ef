"""The guarded fetch of photos by URL, in process, against a real HTTP server on 127.0.0.1.

The address rules themselves are the webhook guard's (tests/test_webhooks.py checks them through
``check_webhook_url``); here: that a fetch goes through them, and its size, time and redirect limits.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from starlette.datastructures import FormData
from fastapi import HTTPException

from tests.photo_server import PhotoServer
from tryon.api.photo_inputs import _json_fields
from tryon.guarded_http import FetchLimits, Guard, URLRefused, check_url, fetch

SETTING = "TRYON_IMAGE_URL_ALLOW_PRIVATE"
OPEN = Guard("person_image_url", allow_private=True, setting=SETTING)
STRICT = Guard("person_image_url", allow_private=False, setting=SETTING)
MB = 2**20


@pytest.fixture()
def photos(data_dir: Path) -> Iterator[PhotoServer]:
    server = PhotoServer(data_dir, slow_seconds=5)
    yield server
    server.close()


def test_a_photo_is_fetched_whole(photos: PhotoServer, data_dir: Path) -> None:
    photo = (data_dir / "garments" / "tshirt_white.jpg").read_bytes()
    assert fetch(photos.url("files/garments/tshirt_white.jpg"), OPEN, max_bytes=20 * MB) == photo
    assert photos.requests == ["/files/garments/tshirt_white.jpg"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_is_refused_without_the_setting_and_nothing_is_sent(photos: PhotoServer, host: str) -> None:
    with pytest.raises(URLRefused, match=rf"^person_image_url .*127\.0\.0\.1, a loopback address; .*{SETTING}"):
        fetch(f"http://{host}:{photos.port}/files/garments/tshirt_white.jpg", STRICT, max_bytes=20 * MB)
    assert photos.requests == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.1/p.jpg", "points at 10.0.0.1, a private address"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]/p.jpg", "loopback"),
        ("http://127.0.0.1:80\\@8.8.8.8/p.jpg", "backslash"),
        ("ftp://8.8.8.8/p.jpg", "must be an http or https URL \\(its scheme is ftp\\)"),
        ("file:///etc/passwd", "its scheme is file"),
    ],
)
def test_the_webhook_guard_refuses_for_the_named_field(url: str, reason: str) -> None:
    with pytest.raises(URLRefused, match=f"^person_image_url .*{reason}"):
        fetch(url, STRICT, max_bytes=MB)


def test_the_connection_goes_to_the_checked_address(photos: PhotoServer) -> None:
    """photos.test has no address in DNS: the photo arrives only through the pinned address."""
    lookups = []

    def resolve(host: str, port: int) -> list:
        lookups.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    url = f"http://photos.test:{photos.port}/files/garments/tshirt_white.jpg"
    assert fetch(url, OPEN, max_bytes=20 * MB, resolve=resolve)[:3] == b"\xff\xd8\xff"
    assert lookups == ["photos.test"]
    with pytest.raises(URLRefused, match="host photos.test resolves to 127.0.0.1, a loopback"):
        fetch(url, STRICT, max_bytes=20 * MB, resolve=resolve)
    assert len(photos.requests) == 1


def test_a_declared_length_over_the_limit_is_refused_before_the_body(photos: PhotoServer) -> None:
    with pytest.raises(URLRefused, match=r"^person_image_url sends more than 1\.0 MB, the limit per photo\.$"):
        fetch(photos.url("declared-huge"), OPEN, max_bytes=MB)


def test_a_body_without_a_length_is_cut_off_at_the_limit_as_it_arrives(photos: PhotoServer) -> None:
    started = time.monotonic()
    with pytest.raises(URLRefused, match="sends more than 1.0 MB"):
        fetch(photos.url("endless"), OPEN, max_bytes=MB)
    assert time.monotonic() - started < 5
    # What the server got out before the client hung up: the limit plus socket buffers, not more.
    time.sleep(0.2)
    assert photos.streamed < 16 * MB


def test_a_server_that_does_not_answer_is_given_up_at_the_time_limit(photos: PhotoServer) -> None:
    started = time.monotonic()
    with pytest.raises(URLRefused, match=r"^person_image_url did not send its photo within 0\.5 s\.$"):
        fetch(photos.url("slow"), OPEN, max_bytes=MB, limits=FetchLimits(timeout_seconds=0.5))
    assert time.monotonic() - started < 2


def test_a_body_that_drips_is_given_up_at_the_time_limit(photos: PhotoServer) -> None:
    started = time.monotonic()
    with pytest.raises(URLRefused, match="did not send its photo within 0.5 s"):
        fetch(photos.url("drip"), OPEN, max_bytes=MB, limits=FetchLimits(timeout_seconds=0.5))
    assert time.monotonic() - started < 2


def test_a_name_lookup_that_hangs_is_given_up_at_the_time_limit() -> None:
    def hanging(host: str, port: int) -> list:
        time.sleep(3)
        return [ipaddress.ip_address("127.0.0.1")]

    started = time.monotonic()
    with pytest.raises(URLRefused, match=r"host slow.test did not resolve within 0\.3 s"):
        fetch("http://slow.test/p.jpg", OPEN, max_bytes=MB, limits=FetchLimits(timeout_seconds=0.3), resolve=hanging)
    assert time.monotonic() - started < 1.5


def test_a_redirect_on_the_same_host_is_followed_and_checked_again(photos: PhotoServer) -> None:
    photo = fetch(photos.url("redirect?to=/files/garments/tshirt_white.jpg"), OPEN, max_bytes=20 * MB)
    assert photo[:3] == b"\xff\xd8\xff"
    assert photos.requests == ["/redirect?to=/files/garments/tshirt_white.jpg", "/files/garments/tshirt_white.jpg"]


def test_a_redirect_to_another_host_is_refused_without_following_it(photos: PhotoServer) -> None:
    elsewhere = f"http://localhost:{photos.port}/files/garments/tshirt_white.jpg"
    with pytest.raises(URLRefused, match=r"^person_image_url redirects to another host \(localhost\)"):
        fetch(photos.url(f"redirect?to={elsewhere}"), OPEN, max_bytes=MB)
    assert len(photos.requests) == 1


def test_redirects_are_bounded(photos: PhotoServer) -> None:
    url = "/files/garments/tshirt_white.jpg"
    for _ in range(3):
        url = f"/redirect?to={quote(url, safe='')}"
    with pytest.raises(URLRefused, match=r"^person_image_url redirects more than 2 times\.$"):
        fetch(photos.url(url), OPEN, max_bytes=MB, limits=FetchLimits(max_redirects=2))
    assert len(photos.requests) == 3


def test_an_error_status_is_refused_with_it(photos: PhotoServer) -> None:
    with pytest.raises(URLRefused, match=r"^person_image_url answered HTTP 404, not 200 with the photo\.$"):
        fetch(photos.url("files/garments/none.jpg"), OPEN, max_bytes=MB)


def test_a_closed_port_is_a_readable_refusal(photos: PhotoServer) -> None:
    port = photos.port
    photos.close()
    with pytest.raises(URLRefused, match=r"^person_image_url could not be fetched: the connection failed"):
        fetch(f"http://127.0.0.1:{port}/p.jpg", OPEN, max_bytes=MB)


def test_check_url_names_the_field_and_its_setting() -> None:
    with pytest.raises(URLRefused, match=r"^clothing_image_url points at 192\.168\.1\.2, a private address; .*TRYON_X\)\.$"):
        check_url("http://192.168.1.2/c.jpg", Guard("clothing_image_url", False, "TRYON_X"))


# --- The JSON body's fields as the form's ---


def test_json_values_become_the_form_text_they_stand_for() -> None:
    fields = _json_fields(b'{"seed": 42, "guidance_scale": 1.5, "flag": true, "category": "dresses", "steps": null}', set())
    assert fields == FormData([("seed", "42"), ("guidance_scale", "1.5"), ("flag", "true"), ("category", "dresses")])


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'{"person_image": "aGk="}', "person_image cannot be sent in a JSON body: give person_image_url there"),
        (b'{"seed": [1]}', "seed must be a string or a number in the JSON body, not a list."),
        (b'{"seed": {"a": 1}}', "not an object"),
        (b'["person_image_url"]', "The JSON body must be an object"),
        (b'{"seed": ', "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[" * 100_000, "not valid JSON"),
    ],
)
def test_a_json_body_that_is_no_form_is_a_400(body: bytes, detail: str) -> None:
    with pytest.raises(HTTPException) as refused:
        _json_fields(body, {"person_image"})
    assert refused.value.status_code == 400 and detail in refused.value.detail
