"""Client-side helpers for the end-to-end tests: submit, poll and judge results."""

from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass, field

import numpy as np
import requests
from PIL import Image


@dataclass
class PollLog:
    """Everything a polling client saw for one job, in order."""

    states: list[tuple[str, str | None, int]] = field(default_factory=list)
    final: dict = field(default_factory=dict)
    final_status_code: int = 0


def submit(url: str, person: bytes, clothing: bytes) -> requests.Response:
    return requests.post(
        f"{url}/api/tryon",
        files={"person_image": ("person.png", person), "clothing_image": ("clothing.jpg", clothing)},
        timeout=30,
    )


def poll_until_finished(
    url: str, job_id: str, timeout: float = 120, interval: float = 0.02, headers: dict | None = None
) -> PollLog:
    log = PollLog()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = requests.get(f"{url}/api/tryon/{job_id}", headers=headers, timeout=30)
        body = response.json()
        log.states.append((body["status"], body.get("step"), body.get("progress", 0)))
        if body["status"] in ("completed", "failed"):
            log.final, log.final_status_code = body, response.status_code
            return log
        time.sleep(interval)
    raise AssertionError(f"job {job_id} did not finish in {timeout}s; last states {log.states[-5:]}")


def decode_result(body: dict) -> np.ndarray:
    png = base64.b64decode(body["result_b64"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n"), "result_b64 is not a PNG"
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def wait_for_an_empty_queue(url: str, headers: dict | None = None, timeout: float = 120) -> None:
    """Return once no job of the server is queued or running (a shared server, between modules)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queue = requests.get(f"{url}/health", headers=headers, timeout=10).json()["queue"]
        if queue["queued"] == 0 and queue["processing"] == 0:
            return
        time.sleep(0.2)
    raise AssertionError(f"jobs still queued or running after {timeout} s: {queue}")
