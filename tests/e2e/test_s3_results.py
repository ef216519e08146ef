"""Results in S3 (a real SeaweedFS): presigned links, fresh links on late polls, and the fallback."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import pytest
import requests
from PIL import Image

from tests.s3_server import SeaweedS3
from tryon.service.api_side import ApiSide
from tryon.service.job_workers import WorkerStatus
from tryon.service.parts import build_job_store, build_result_publisher
from tryon.settings import Settings

from .helpers import decode_result, poll_until_finished, submit
from .served import ServedService

URL_EXPIRES = 3


def s3_settings(s3: SeaweedS3, bucket: str) -> dict[str, str]:
    return {
        "TRYON_S3_BUCKET": bucket,
        "TRYON_S3_ENDPOINT_URL": s3.endpoint_url,
        "TRYON_S3_URL_EXPIRES": str(URL_EXPIRES),
        "AWS_ACCESS_KEY_ID": s3.admin.access_key,
        "AWS_SECRET_ACCESS_KEY": s3.admin.secret_key,
        "AWS_DEFAULT_REGION": s3.region,
    }


@pytest.fixture(scope="module")
def outage_s3(tmp_path_factory) -> SeaweedS3:
    """An S3 server of this module's own, since one test stops it."""
    with SeaweedS3(tmp_path_factory.mktemp("seaweed-e2e")) as server:
        yield server


@pytest.fixture(scope="module")
def s3_service(tmp_path_factory, outage_s3: SeaweedS3):
    bucket = outage_s3.create_bucket()
    served = ServedService(tmp_path_factory.mktemp("served-s3"), **s3_settings(outage_s3, bucket)).start()
    served.bucket = bucket
    yield served
    served.stop()


def test_completed_job_links_to_its_png_in_s3(s3_service, outage_s3, person_bytes, garment_bytes) -> None:
    job_id = submit(s3_service.url, person_bytes, garment_bytes).json()["job_id"]
    final = poll_until_finished(s3_service.url, job_id).final
    assert final["status"] == "completed" and "result_b64" not in final and "warning" not in final

    fetched = requests.get(final["result_url"], timeout=10)  # plain HTTP, no AWS client
    assert fetched.status_code == 200
    assert fetched.headers["Content-Type"] == "image/png"
    stored = outage_s3.client().get_object(Bucket=s3_service.bucket, Key=f"results/{job_id}.png")
    assert fetched.content == stored["Body"].read()
    assert Image.open(io.BytesIO(fetched.content)).size == Image.open(io.BytesIO(person_bytes)).size

    # The link expires; a late poll signs a fresh one that works.
    time.sleep(URL_EXPIRES + 1.5)
    assert requests.get(final["result_url"], timeout=10).status_code == 403
    late = requests.get(f"{s3_service.url}/api/tryon/{job_id}", timeout=10).json()
    assert late["result_url"] != final["result_url"]
    assert requests.get(late["result_url"], timeout=10).content == fetched.content


def test_a_jpeg_result_is_stored_under_jpg_with_its_content_type(s3_service, outage_s3, person_bytes, garment_bytes) -> None:
    submitted = requests.post(
        f"{s3_service.url}/api/tryon",
        files={"person_image": ("person.png", person_bytes), "clothing_image": ("clothing.jpg", garment_bytes)},
        data={"output_format": "jpeg", "output_quality": "80"},
        timeout=30,
    )
    job_id = submitted.json()["job_id"]
    final = poll_until_finished(s3_service.url, job_id).final
    assert final["status"] == "completed" and f"/results/{job_id}.jpg?" in final["result_url"]

    fetched = requests.get(final["result_url"], timeout=10)
    assert fetched.headers["Content-Type"] == "image/jpeg" and fetched.content.startswith(b"\xff\xd8\xff")
    stored = outage_s3.client().get_object(Bucket=s3_service.bucket, Key=f"results/{job_id}.jpg")
    assert stored["ContentType"] == "image/jpeg" and stored["Body"].read() == fetched.content


def test_s3_down_keeps_the_result_as_base64_with_a_warning(
    s3_service, outage_s3, person_bytes, garment_bytes
) -> None:
    outage_s3.stop()
    try:
        job_id = submit(s3_service.url, person_bytes, garment_bytes).json()["job_id"]
        final = poll_until_finished(s3_service.url, job_id).final
        assert final["status"] == "completed" and "result_url" not in final
        assert "could not be uploaded to S3" in final["warning"]
        assert decode_result(final).shape[:2] == Image.open(io.BytesIO(person_bytes)).size[::-1]
        health = requests.get(f"{s3_service.url}/health", timeout=10).json()
        assert health["status"] == "degraded" and health["storage"]["error"]
    finally:
        outage_s3.start()
    # Once S3 is back, the next job uploads again and health recovers.
    job_id = submit(s3_service.url, person_bytes, garment_bytes).json()["job_id"]
    assert "result_url" in poll_until_finished(s3_service.url, job_id).final
    assert requests.get(f"{s3_service.url}/health", timeout=10).json()["status"] == "ok"


def test_missing_bucket_is_reported_at_start_up(
    tmp_path: Path, s3_server: SeaweedS3, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """In process, as the service wires it: the start-up check of the job workers' publisher, and
    /health from the API side sharing it (the S3 server is real)."""
    for name, value in s3_settings(s3_server, "no-such-bucket").items():
        monkeypatch.setenv(name, value)
    settings = Settings(data_dir=tmp_path)
    results = build_result_publisher(settings)
    results.check()  # what JobWorkers.start does first

    async def workers_ready() -> WorkerStatus:
        return WorkerStatus(models_loaded=True, running=0, workers=1)

    api = ApiSide(settings, store=build_job_store(settings), results=results, wake=lambda: None, worker_status=workers_ready)
    health = asyncio.run(api.health()).model_dump()
    assert health["status"] == "degraded"
    assert health["storage"] == {"backend": "s3", "bucket": "no-such-bucket", "error": health["storage"]["error"]}
    assert "bucket 'no-such-bucket' does not exist" in health["storage"]["error"]
    assert "bucket 'no-such-bucket' does not exist" in caplog.text
