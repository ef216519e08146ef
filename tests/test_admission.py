"""The API key guards every route of the server except the probes, metrics, docs and demo page."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError
from starlette.responses import PlainTextResponse
from starlette.testclient import TestClient

from tryon.api import AdmissionControl, AdmissionPolicy
from tryon.settings import Settings

from .route_list import OPEN_ROUTES, example_path, served_routes

KEY = "route-table-key"
POLICY = AdmissionPolicy(api_key=KEY, max_queue=10, queued=lambda: 0, workers=1, max_upload_bytes=1024)
ROUTES = sorted(served_routes())


@pytest.fixture(scope="module")
def guarded() -> TestClient:
    """The admission middleware in front of an app that answers 200 to whatever reaches it."""
    return TestClient(AdmissionControl(PlainTextResponse("reached"), policy=lambda: POLICY))


def test_the_route_table_is_what_the_server_serves() -> None:
    paths = {path for _, path in ROUTES}
    # BentoML's task routes (the synchronous call included), the API, and the open ones.
    assert {"/tryon", "/tryon/submit", "/tryon/status", "/tryon/get", "/tryon/retry", "/tryon/cancel"} <= paths
    assert {("POST", "/api/tryon"), ("GET", "/api/tryon/{job_id}"), ("DELETE", "/api/tryon/{job_id}")} <= set(ROUTES)
    assert OPEN_ROUTES <= set(ROUTES), "an open route listed here is no longer served"


def test_only_the_listed_routes_are_open_without_the_key(guarded) -> None:
    reached = set()
    for method, path in ROUTES:
        response = guarded.request(method, example_path(path))
        assert response.status_code in (200, 401), (method, path)
        if response.status_code == 200:
            reached.add((method, path))
        else:
            assert response.headers["WWW-Authenticate"] == "Bearer"
    assert reached == OPEN_ROUTES


def test_every_route_is_reached_with_the_key(guarded) -> None:
    for method, path in ROUTES:
        response = guarded.request(method, example_path(path), headers={"Authorization": f"Bearer {KEY}"})
        assert response.status_code == 200, (method, path)


@pytest.mark.parametrize("path", ["/tryon", "/tryon/", "/api/tryon/", "/not-a-route", "/docsx", "/metrics/x"])
def test_paths_no_route_lists_need_the_key_too(guarded, path) -> None:
    assert guarded.post(path).status_code == 401


@pytest.mark.parametrize("path", ["/api/tryon", "/tryon", "/tryon/submit", "/tryon/retry"])
def test_every_route_that_queues_a_job_is_refused_when_the_queue_is_full(path) -> None:
    full = AdmissionPolicy(api_key=None, max_queue=3, queued=lambda: 3, workers=1, max_upload_bytes=1024)
    client = TestClient(AdmissionControl(PlainTextResponse("reached"), policy=lambda: full))

    response = client.post(path)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert response.json()["detail"] == "The queue is full (3 jobs waiting); try again in about 3 s."
    assert client.get("/api/tryon/some-job").status_code == 200  # polls are not refused


def answer_status(policy: AdmissionPolicy, authorization: bytes, path: str = "/api/tryon/some-job") -> int:
    """The status the middleware (in front of an app answering 200) gives a request carrying these
    raw header bytes, called as a server calls it: ASGI header values are bytes, never decoded."""
    scope = {
        "type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
        "headers": [(b"host", b"test"), (b"authorization", authorization)],
    }
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(AdmissionControl(PlainTextResponse("reached"), policy=lambda: policy)(scope, receive, send))
    return sent[0]["status"]


NON_ASCII_KEY = "clé-ключ-🔑"
LATIN_1_KEY = "clé-secrète"


@pytest.mark.parametrize(
    "authorization",
    [b"Bearer \xff\xfe", b"Bearer cl\xc3\xa9", b"\xff\xfe\xfd", b"Bearer " + KEY.encode() + b"\xc3\xa9",
     "Bearer ключ".encode(), b"Bearer \x00" + KEY.encode(), b"Basic " + KEY.encode()],
)
def test_any_authorization_bytes_get_a_401(authorization: bytes) -> None:
    assert answer_status(POLICY, authorization) == 401


def test_a_key_that_is_not_ascii_works_sent_as_utf8() -> None:
    policy = AdmissionPolicy(api_key=NON_ASCII_KEY, max_queue=10, queued=lambda: 0, workers=1, max_upload_bytes=1024)
    assert answer_status(policy, b"Bearer " + NON_ASCII_KEY.encode("utf-8")) == 200
    assert answer_status(policy, b"Bearer " + NON_ASCII_KEY[:-1].encode("utf-8")) == 401
    assert answer_status(policy, b"Bearer " + KEY.encode()) == 401
    assert answer_status(policy, b"Bearer \xff") == 401


def test_a_latin_1_key_works_sent_as_latin_1_or_utf8() -> None:
    """Python's http.client and browsers send Latin-1; curl and tryon.clients send UTF-8."""
    policy = AdmissionPolicy(api_key=LATIN_1_KEY, max_queue=10, queued=lambda: 0, workers=1, max_upload_bytes=1024)
    assert answer_status(policy, b"Bearer " + LATIN_1_KEY.encode("latin-1")) == 200
    assert answer_status(policy, b"Bearer " + LATIN_1_KEY.encode("utf-8")) == 200
    assert answer_status(policy, b"Bearer " + LATIN_1_KEY.encode("cp437")) == 401


def test_a_key_no_client_can_send_is_refused_at_start_up() -> None:
    assert Settings(api_key=NON_ASCII_KEY).api_key.get_secret_value() == NON_ASCII_KEY
    for unsendable in (" padded", "two\nlines", "tab\tbed", "trailing "):
        with pytest.raises(ValidationError, match="TRYON_API_KEY must not contain control characters"):
            Settings(api_key=unsendable)
