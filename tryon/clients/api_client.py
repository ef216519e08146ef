"""A small Python client of the try-on HTTP API: submit two photos, follow the job, get the picture.

    from tryon.clients import TryOnClient, TryOnFailed

    client = TryOnClient("http://localhost:8000")
    job_id = client.submit("examples/person.jpg", "examples/shirt.jpg", output_format="jpeg")
    final = client.wait(job_id, on_progress=lambda s: print(s["status"], s.get("step"), s["progress"]))
    Path("out.jpg").write_bytes(client.result_picture(final))

A refused upload (HTTP 4xx) or a failed job raises ``TryOnFailed`` with the server's reason.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Callable

import requests
from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The output formats by the file suffixes that ask for them (anything else is a PNG).
FORMAT_OF_SUFFIX = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}
FINISHED = ("completed", "failed")

ProgressCallback = Callable[[dict], None]
"""Called with the job's status body (``status``, ``progress``, ``step``) each time it changes."""


def is_url(photo: str | os.PathLike) -> bool:
    """Whether a photo argument is an http(s) URL for the server to fetch, rather than a file."""
    return isinstance(photo, str) and photo.lower().startswith(("http://", "https://"))


class TryOnFailed(Exception):
    """The server refused the request or the job failed; ``reason`` is the server's own words."""

    def __init__(self, reason: str, *, job_id: str | None = None, status_code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.job_id = job_id
        self.status_code = status_code


class TryOnTimeout(TryOnFailed, TimeoutError):
    """The job did not finish within the time the caller was prepared to wait."""


class TryOnClient:
    """Talks to one try-on server. ``api_key`` is sent as ``Authorization: Bearer <key>``.

    ``timeout`` bounds each HTTP request; ``busy_retries`` is how many times a submission refused
    with 429 (queue full) is sent again, after the server's ``Retry-After``.
    """

    def __init__(
        self, base_url: str, *, api_key: str | None = None, timeout: float = 30, busy_retries: int = 3
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.busy_retries = busy_retries
        self._session = requests.Session()
        self._session.headers["User-Agent"] = "tryon-client/1"
        if api_key:
            # As UTF-8 bytes: requests would send a str as Latin-1, or fail on other characters.
            self._session.headers["Authorization"] = b"Bearer " + api_key.encode("utf-8")

    def submit(
        self,
        person_path: str | os.PathLike,
        garment_path: str | os.PathLike,
        *,
        category: str | None = None,
        webhook_url: str | None = None,
        bottom_path: str | os.PathLike | None = None,
        num_samples: int | None = None,
        output_format: str | None = None,
        output_quality: int | None = None,
    ) -> str:
        """Upload the photos; returns the job id. Raises ``TryOnFailed`` when they are refused.

        A photo given as an ``http://`` or ``https://`` string is sent as its URL, which the server
        fetches (``person_image_url``, ``clothing_image_url``). ``bottom_path``: a whole outfit's
        bottoms (``garment_path`` is then the top). ``num_samples`` 1-4 pictures, ``output_format``
        png, jpeg or webp, ``output_quality`` 1-100 (jpeg, webp): the server's defaults (1, png, 90)
        when None.
        """
        photos = {"person_image": person_path, "clothing_image": garment_path}
        if bottom_path is not None:
            photos["bottom_image"] = bottom_path
        given = {
            "category": category,
            "webhook_url": webhook_url,
            "num_samples": num_samples,
            "output_format": output_format,
            "output_quality": output_quality,
        }
        data = {name: str(value) for name, value in given.items() if value is not None}
        data.update((f"{field}_url", str(source)) for field, source in photos.items() if is_url(source))
        for attempt in range(1, self.busy_retries + 2):
            with ExitStack() as files_open:
                files = {
                    field: (Path(source).name, files_open.enter_context(Path(source).open("rb")))
                    for field, source in photos.items()
                    if not is_url(source)
                }
                response = self._session.post(
                    f"{self.base_url}/api/tryon", files=files or None, data=data, timeout=self.timeout
                )
            if response.status_code == 429 and attempt <= self.busy_retries:
                time.sleep(_retry_after(response))  # the queue is full: wait as the server asks
                continue
            break
        if response.status_code != 202:
            raise TryOnFailed(_reason(response), status_code=response.status_code)
        return response.json()["job_id"]

    def status(self, job_id: str) -> dict:
        """The job as a poll sees it: ``pending``, ``processing``, ``completed`` or ``failed``.

        A failed job (HTTP 500 with ``status: failed``) is returned, not raised; an unknown job
        (404) or any other error answer raises ``TryOnFailed``.
        """
        response = self._session.get(f"{self.base_url}/api/tryon/{job_id}", timeout=self.timeout)
        body = _json(response)
        if response.status_code == 200 or (isinstance(body, dict) and body.get("status") == "failed"):
            return body
        raise TryOnFailed(_reason(response), job_id=job_id, status_code=response.status_code)

    def wait(
        self,
        job_id: str,
        *,
        on_progress: ProgressCallback | None = None,
        poll_seconds: float = 0.5,
        timeout: float = 600,
    ) -> dict:
        """Poll until the job ends; returns the completed body, raises ``TryOnFailed`` if it failed.

        ``on_progress`` sees every change of status, step or progress. Connection errors while
        polling are retried until ``timeout``: jobs survive a server restart, so the client does too.
        """
        deadline = time.monotonic() + timeout
        last_seen = None
        while True:
            try:
                body = self.status(job_id)
            except (requests.ConnectionError, requests.Timeout) as error:
                if time.monotonic() >= deadline:
                    raise TryOnTimeout(
                        f"Lost the server while waiting for job {job_id}: {error}", job_id=job_id
                    ) from error
                time.sleep(poll_seconds)
                continue
            seen = (body.get("status"), body.get("step"), body.get("progress"))
            if on_progress is not None and seen != last_seen:
                on_progress(body)
            last_seen = seen
            if body.get("status") == "failed":
                raise TryOnFailed(_failure_reason(body), job_id=job_id, status_code=500)
            if body.get("status") == "completed":
                return body
            if time.monotonic() >= deadline:
                raise TryOnTimeout(
                    f"Job {job_id} did not finish within {timeout:g} s (last: {body.get('status')}).",
                    job_id=job_id,
                )
            time.sleep(poll_seconds)

    def result_picture(self, final: dict, index: int = 0) -> bytes:
        """Picture ``index`` of a completed job (PNG, JPEG or WebP; ``index`` > 0 from ``results``, a
        ``num_samples`` job's): downloaded from ``result_url`` or decoded from ``result_b64``."""
        job_id = final.get("job_id")
        if index:
            pictures = final.get("results") or []
            if index >= len(pictures):
                raise TryOnFailed(f"The job has {max(len(pictures), 1)} picture(s), not {index + 1}.", job_id=job_id)
            final = {"job_id": job_id, **pictures[index]}
        if final.get("result_url"):
            # A presigned URL carries its own credentials: send no Authorization header with it.
            response = requests.get(final["result_url"], timeout=self.timeout)
            if response.status_code != 200:
                raise TryOnFailed(
                    f"Could not download the result (HTTP {response.status_code}); the link may have "
                    "expired: poll the job again for a fresh one.",
                    job_id=job_id,
                    status_code=response.status_code,
                )
            picture = response.content
        elif final.get("result_b64"):
            try:
                picture = base64.b64decode(final["result_b64"], validate=True)
            except (binascii.Error, ValueError) as error:
                raise TryOnFailed(f"result_b64 is not valid base64 ({error}).", job_id=job_id) from None
        else:
            raise TryOnFailed("The job has no result_url or result_b64.", job_id=job_id)
        if picture_format(picture) is None:
            raise TryOnFailed("The result is not a PNG, JPEG or WebP image.", job_id=job_id)
        return picture

    def run(
        self,
        person_path: str | os.PathLike,
        garment_path: str | os.PathLike,
        *,
        category: str | None = None,
        output_format: str | None = None,
        on_progress: ProgressCallback | None = None,
        poll_seconds: float = 0.5,
        timeout: float = 600,
        bottom_path: str | os.PathLike | None = None,
    ) -> bytes:
        """Submit, wait and return the result picture (PNG, or ``output_format``) in one call."""
        job_id = self.submit(
            person_path, garment_path, category=category, bottom_path=bottom_path, output_format=output_format
        )
        final = self.wait(job_id, on_progress=on_progress, poll_seconds=poll_seconds, timeout=timeout)
        return self.result_picture(final)

    def health(self) -> dict:
        response = self._session.get(f"{self.base_url}/health", timeout=self.timeout)
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> "TryOnClient":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def picture_format(picture: bytes) -> str | None:
    """png, jpeg or webp from the picture's first bytes; None for anything else."""
    if picture.startswith(PNG_SIGNATURE):
        return "png"
    if picture.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if picture[:4] == b"RIFF" and picture[8:12] == b"WEBP":
        return "webp"
    return None


def picture_size(picture: bytes) -> tuple[int, int]:
    """(width, height) of a PNG, JPEG or WebP, from its header."""
    with Image.open(io.BytesIO(picture)) as image:
        return image.size


def format_for_path(path: Path) -> str:
    """The output format a file name asks for: jpeg for .jpg/.jpeg, webp for .webp, else png."""
    return FORMAT_OF_SUFFIX.get(path.suffix.lower(), "png")


def _retry_after(response: requests.Response, longest: float = 30) -> float:
    try:
        return min(max(float(response.headers.get("Retry-After", 1)), 0.1), longest)
    except ValueError:  # an HTTP date: not worth parsing for a queue that drains in seconds
        return 1.0


def _json(response: requests.Response):
    try:
        return response.json()
    except ValueError:
        return None


def _failure_reason(body: dict) -> str:
    detail = body.get("detail")
    if isinstance(detail, dict) and detail.get("error"):
        return str(detail["error"])
    if isinstance(detail, str) and detail:
        return detail
    return body.get("error") or "The job failed (the server gave no reason)."


def _reason(response: requests.Response) -> str:
    """The server's reason from an error answer: ``detail.error``, ``detail``, or the status line."""
    body = _json(response)
    if isinstance(body, dict):
        detail = body.get("detail")
        if isinstance(detail, dict) and detail.get("error"):
            return str(detail["error"])
        if isinstance(detail, str) and detail:
            return detail
        if isinstance(detail, list) and detail:  # FastAPI's default validation shape
            return "; ".join(str(i.get("msg", i)) if isinstance(i, dict) else str(i) for i in detail)
    text = response.text.strip()
    status = f"HTTP {response.status_code} {response.reason or ''}".strip()
    return f"{status}: {text[:300]}" if text else status
