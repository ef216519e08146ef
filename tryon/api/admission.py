"""Checks made before a request's body is read: a sane path, the API key, room in the queue, and
a body no larger than three photos (a whole outfit's person, top and bottoms).

A pure ASGI middleware on the whole server (BentoML's task routes included), so a refused upload
costs the server a few header bytes, not 60 MB of multipart parsing. Uploads are parsed in memory
(``tryon.library_internals.keep_multipart_uploads_in_memory``), so the body limit is also what bounds a
request's memory; a chunked body (no Content-Length) is counted as it arrives and cut off at the limit.
"""

from __future__ import annotations

import hmac
import json
import math
from dataclasses import dataclass
from typing import Callable

# With a key set, every path needs it except these: probes, metrics, the docs and the demo page.
# Anything else (the API, BentoML's task routes, a route added later, a path no route knows) is
# refused without the key; tests/test_admission.py checks every route the server has.
OPEN_PATHS = frozenset(
    {"/", "/health", "/livez", "/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi.json",
     "/docs.json", "/schema.json", "/demo"}
)
OPEN_PREFIXES = ("/docs/", "/demo/", "/static_content/")  # the pages' scripts and styles
# Routes that queue a job: the API's, and BentoML's task routes (synchronous call, submit, retry).
SUBMIT_PATHS = ("/api/tryon", "/tryon", "/tryon/submit", "/tryon/retry")
FORM_ALLOWANCE = 1024 * 1024  # the other form fields and the multipart framing
MAX_PHOTOS = 3  # person_image, clothing_image and a whole outfit's bottom_image
CLOSE = [(b"connection", b"close")]  # refused before the body was read: do not reuse the connection


@dataclass(frozen=True)
class AdmissionPolicy:
    api_key: str | None
    max_queue: int
    queued: Callable[[], int]
    workers: int
    max_upload_bytes: int

    @property
    def max_body_bytes(self) -> int:
        return MAX_PHOTOS * self.max_upload_bytes + FORM_ALLOWANCE

    def body_too_large(self) -> str:
        return (
            f"The request body is larger than {self.max_body_bytes / 2**20:.0f} MB: send at most three photos"
            f" of at most {self.max_upload_bytes / 2**20:g} MB each."
        )

    def retry_after_seconds(self, queued: int) -> int:
        """A rough wait: about one second of work per queued job, shared by the workers."""
        return max(1, math.ceil(queued / max(1, self.workers)))

    def queue_full(self, queued: int) -> tuple[str, int]:
        """(detail, Retry-After seconds) of the 429 that refuses a job while ``queued`` wait."""
        wait = self.retry_after_seconds(queued)
        return f"The queue is full ({queued} jobs waiting); try again in about {wait} s.", wait


class AdmissionControl:
    def __init__(self, app, *, policy: Callable[[], AdmissionPolicy | None]) -> None:
        self.app = app
        self._policy = policy

    async def __call__(self, scope, receive, send) -> None:
        policy = self._policy() if scope["type"] == "http" else None
        if policy is not None:
            refusal = _refusal(scope, policy)
            if refusal is not None:
                status, detail, headers = refusal
                await _respond(send, status, detail, headers)
                return
            if _header(scope, b"transfer-encoding") is not None:
                # No Content-Length to check up front (the server reads no more than a declared
                # one): count the body as it arrives.
                receive, send = _limit_body(receive, send, policy)
        await self.app(scope, receive, send)


def _refusal(scope, policy: AdmissionPolicy) -> tuple[int, str, list[tuple[bytes, bytes]]] | None:
    path: str = scope["path"]
    if any(ord(char) < 32 or ord(char) == 127 for char in path):
        # No route can match these (and the router would answer in plain text): say what is wrong.
        return 400, "The URL path contains control characters.", []
    if policy.api_key and not is_open(path):
        if not bearer_matches(scope, policy.api_key):
            return (
                401,
                "Missing or invalid API key: send the header 'Authorization: Bearer <key>'.",
                [(b"www-authenticate", b"Bearer")],
            )
    if _declared_length(scope) > policy.max_body_bytes:
        return 400, policy.body_too_large(), CLOSE
    if scope["method"] == "POST" and path.rstrip("/") in SUBMIT_PATHS:
        # A cheap early refusal, before the body is read; the store's create enforces the limit.
        queued = policy.queued()
        if queued >= policy.max_queue:
            detail, wait = policy.queue_full(queued)
            return 429, detail, [(b"retry-after", str(wait).encode())]
    return None


def is_open(path: str) -> bool:
    """Whether ``path`` is served without the API key."""
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def _header(scope, name: bytes) -> bytes | None:
    return next((value for key, value in scope.get("headers", []) if key == name), None)


def _declared_length(scope) -> int:
    value = _header(scope, b"content-length") or b""
    return int(value) if value.isdigit() else 0  # a malformed one is the server's to refuse


def _limit_body(receive, send, policy: AdmissionPolicy):
    """``receive`` that answers 400 once the body passes the limit, and tells the app the client
    left; ``send`` that drops what the app still sends after that answer."""
    received, refused = 0, False

    async def limited_receive():
        nonlocal received, refused
        if refused:
            return {"type": "http.disconnect"}
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > policy.max_body_bytes:
                refused = True
                await _respond(send, 400, policy.body_too_large(), CLOSE)
                return {"type": "http.disconnect"}
        return message

    async def guarded_send(message) -> None:
        if not refused:
            await send(message)

    return limited_receive, guarded_send


def bearer_matches(scope, api_key: str) -> bool:
    """Whether the request's ``Authorization`` is ``Bearer <api_key>``, compared as bytes in
    constant time: header values are bytes, in any encoding or none.

    A key that is not ASCII may arrive as its UTF-8 bytes (curl, ``tryon.clients``) or as its
    Latin-1 bytes (Python's ``http.client``, browsers); either is accepted.
    """
    scheme, _, token = (_header(scope, b"authorization") or b"").partition(b" ")
    matches = [hmac.compare_digest(token.strip(), key) for key in _key_bytes(api_key)]
    return scheme.lower() == b"bearer" and any(matches)


def _key_bytes(api_key: str) -> list[bytes]:
    """The byte forms a client may send ``api_key`` in. ``surrogateescape`` gives back the bytes
    of an environment variable that was not UTF-8."""
    forms = [api_key.encode("utf-8", "surrogateescape")]
    try:
        forms.append(api_key.encode("latin-1"))
    except UnicodeEncodeError:
        pass
    return forms


async def _respond(send, status: int, detail: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
