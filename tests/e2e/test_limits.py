"""API key, a bounded queue (429 + Retry-After) and cancelling jobs, against a real server."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from ..route_list import OPEN_ROUTES, example_path, served_routes
from .helpers import poll_until_finished
from .served import ServedService

KEY = "s3cret-key"
MAX_QUEUE = 2
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    served = ServedService(
        tmp_path_factory.mktemp("served-limits"),
        TRYON_API_KEY=KEY,
        TRYON_MAX_QUEUE=str(MAX_QUEUE),
        TRYON_WORKERS="1",
    ).start()
    yield served
    served.stop()


def post_job(url: str, person: bytes, garment: bytes, headers=AUTH) -> requests.Response:
    return requests.post(
        f"{url}/api/tryon",
        files={"person_image": ("p.png", person), "clothing_image": ("c.jpg", garment)},
        headers=headers,
        timeout=30,
    )


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}])
def test_api_routes_need_the_key(guarded, person_bytes, garment_bytes, headers) -> None:
    response = post_job(guarded.url, person_bytes, garment_bytes, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "Authorization: Bearer" in response.json()["detail"]
    assert requests.get(f"{guarded.url}/api/tryon/x", headers=headers, timeout=10).status_code == 401
    task = requests.post(f"{guarded.url}/tryon/submit", headers=headers, timeout=10)
    assert task.status_code == 401


def test_every_served_route_needs_the_key_unless_it_is_listed_open(guarded) -> None:
    for method, path in sorted(served_routes()):
        response = requests.request(method, f"{guarded.url}{example_path(path)}", timeout=10)
        if (method, path) in OPEN_ROUTES:
            assert response.status_code != 401, (method, path)
        else:
            assert response.status_code == 401, (method, path, response.status_code)
            assert "Authorization: Bearer" in response.json()["detail"]


def test_the_synchronous_task_route_answers_the_result_image(guarded, person_bytes, garment_bytes) -> None:
    def call(person: bytes) -> requests.Response:
        files = {"person_image": ("p.png", person), "clothing_image": ("c.jpg", garment_bytes)}
        return requests.post(f"{guarded.url}/tryon", files=files, headers=AUTH, timeout=120)

    response = call(person_bytes)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("image/")
    assert len(response.content) > 1000
    refused = call(b"not a photo")
    assert refused.status_code == 400 and "person_image" in refused.text


def test_probes_and_docs_stay_open(guarded) -> None:
    for path in ("/health", "/readyz", "/livez", "/docs", "/openapi.json"):
        assert requests.get(f"{guarded.url}{path}", timeout=10).status_code == 200, path


def test_health_without_the_key_says_only_what_a_load_balancer_needs(guarded) -> None:
    assert set(requests.get(f"{guarded.url}/health", timeout=10).json()) == {"status", "ready", "engine"}
    assert "storage" in requests.get(f"{guarded.url}/health", headers=AUTH, timeout=10).json()


def test_full_queue_answers_429_and_jobs_can_be_cancelled(guarded, person_bytes, garment_bytes) -> None:
    accepted, refused = [], None
    for _ in range(8):
        response = post_job(guarded.url, person_bytes, garment_bytes)
        if response.status_code == 429:
            refused = response
            break
        assert response.status_code == 202
        accepted.append(response.json()["job_id"])
    assert refused is not None, "the queue never filled"
    assert int(refused.headers["Retry-After"]) >= 1
    assert "queue is full" in refused.json()["detail"]

    # Cancel everything still waiting or running: DELETE answers, and polls then see the reason.
    cancelled = []
    for job_id in accepted:
        response = requests.delete(f"{guarded.url}/api/tryon/{job_id}", headers=AUTH, timeout=10)
        assert response.status_code in (200, 409), response.text
        if response.status_code == 200:
            assert response.json() == {"job_id": job_id, "status": "cancelled"}
            cancelled.append(job_id)
        else:
            assert "has already completed" in response.json()["detail"]
    assert len(cancelled) >= 2
    for job_id in cancelled:
        final = poll_until_finished(guarded.url, job_id, headers=AUTH)
        assert final.final_status_code == 200  # the client's own doing, not a server error
        assert final.final["status"] == "failed"
        assert final.final["detail"]["error"] == "Cancelled by the client."

    # There is room again, and a finished job cannot be cancelled.
    job_id = post_job(guarded.url, person_bytes, garment_bytes).json()["job_id"]
    assert poll_until_finished(guarded.url, job_id, headers=AUTH).final["status"] == "completed"
    again = requests.delete(f"{guarded.url}/api/tryon/{job_id}", headers=AUTH, timeout=10)
    assert again.status_code == 409
    unknown = requests.delete(f"{guarded.url}/api/tryon/not-a-job", headers=AUTH, timeout=10)
    assert unknown.status_code == 404


def test_a_burst_of_concurrent_submits_stays_within_the_queue_limit(guarded, person_bytes, garment_bytes) -> None:
    """40 submits at once into a queue of 2: each job admitted fills a free place or one a job left."""

    def job_counts() -> dict[str, int]:
        return requests.get(f"{guarded.url}/health", headers=AUTH, timeout=10).json()["queue"]

    def left_the_queue(counts: dict[str, int]) -> int:
        return counts["processing"] + counts["completed"] + counts["failed"]

    before = job_counts()
    start = threading.Barrier(40)

    def submit(_: int) -> int:
        start.wait()
        return post_job(guarded.url, person_bytes, garment_bytes).status_code

    with ThreadPoolExecutor(max_workers=40) as pool:
        codes = list(pool.map(submit, range(40)))
    after = job_counts()

    accepted = codes.count(202)
    assert accepted + codes.count(429) == 40, codes
    started = left_the_queue(after) - left_the_queue(before)
    assert 1 <= accepted <= MAX_QUEUE - before["queued"] + started, (accepted, before, after)
