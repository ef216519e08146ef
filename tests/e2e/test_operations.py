"""/health, the generated docs, and jobs surviving a crash of the whole server."""

from __future__ import annotations

import re
import subprocess
import time
import uuid

import requests

from .served import BENTOML, ServedService
from .helpers import poll_until_finished, submit


def test_health_reports_the_documented_keys_and_more(service) -> None:
    body = requests.get(f"{service.url}/health", timeout=10).json()
    assert body["status"] == "ok" and body["models_loaded"] is True
    assert body["cuda_available"] is False and body["gpu"] is None  # these machines have no GPU
    assert set(body["engines"]) == {"segmentation", "pose", "warp", "inpainting", "blend"}
    assert body["queue"]["workers"] >= 1 and body["version"]


def test_swagger_redoc_and_schema_document_every_shape(service) -> None:
    assert "swagger-ui" in requests.get(f"{service.url}/docs", timeout=10).text
    assert "redoc" in requests.get(f"{service.url}/redoc", timeout=10).text
    schema = requests.get(f"{service.url}/openapi.json", timeout=10).json()
    components = schema["components"]["schemas"]
    for shape in ("SubmitResponse", "JobStatusResponse", "ErrorResponse", "FailedJobResponse", "HealthResponse"):
        assert shape in components
    submit_op = schema["paths"]["/api/tryon"]["post"]
    assert set(submit_op["responses"]) >= {"202", "400"}
    poll_op = schema["paths"]["/api/tryon/{job_id}"]["get"]
    assert set(poll_op["responses"]) >= {"200", "404", "500"}


def test_metrics_label_requests_by_route_not_by_job_id(service) -> None:
    """BentoML labels its request metrics with the raw path: one set of series per job id polled
    (and per path a scanner invents), kept for the life of the process."""
    job_ids = [str(uuid.uuid4()) for _ in range(12)]
    for job_id in job_ids:
        assert requests.get(f"{service.url}/api/tryon/{job_id}", timeout=10).status_code == 404
    for junk in ("wp-login.php", "a/b/c", "x" * 40):
        assert requests.get(f"{service.url}/{junk}", timeout=10).status_code == 404

    metrics = requests.get(f"{service.url}/metrics", timeout=10).text

    assert not any(job_id in metrics for job_id in job_ids)
    assert "wp-login" not in metrics and "x" * 40 not in metrics
    polls = re.search(
        r'^bentoml_service_request_total\{endpoint="/api/tryon/\{job_id\}",http_response_code="404"[^}]*\} (\S+)$',
        metrics,
        re.M,
    )
    assert polls and float(polls.group(1)) >= len(job_ids)
    assert 'endpoint="unmatched",http_response_code="404"' in metrics


def test_jobs_survive_a_crash_and_restart(tmp_path, person_bytes, garment_bytes) -> None:
    """kill -9 with jobs queued and one mid-pipeline: after a restart every job completes."""
    server = ServedService(tmp_path, TRYON_WORKERS="1", TRYON_JOB_LEASE_SECONDS="3").start()
    try:
        job_ids = [submit(server.url, person_bytes, garment_bytes).json()["job_id"] for _ in range(3)]
        deadline = time.monotonic() + 30
        while requests.get(f"{server.url}/api/tryon/{job_ids[0]}", timeout=10).json()["status"] == "pending":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        server.kill()

        server.start()
        finals = [poll_until_finished(server.url, job_id).final for job_id in job_ids]
        assert [final["status"] for final in finals] == ["completed"] * 3
    finally:
        server.stop()


def test_a_start_on_a_held_port_says_so_in_one_line(service, tmp_path) -> None:
    second = subprocess.run(
        [str(BENTOML), "serve", "service:TryOnService", "--host", "127.0.0.1", "--port", str(service.port)],
        cwd=service.cwd,
        env={**service.env, "BENTOML_HOME": str(tmp_path / "bentoml")},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert second.returncode == 1
    [line] = [line for line in second.stderr.splitlines() if line.startswith("tryon:")]
    assert f"port {service.port} on 127.0.0.1 is already in use" in line and "kill -TERM" in line
    assert "Traceback" not in second.stderr
    assert requests.get(f"{service.url}/health", timeout=10).status_code == 200  # the first one serves on
