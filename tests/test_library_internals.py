"""Each patch of, or reach into, a library in ``tryon/library_internals.py`` still does what it is there for."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from tryon import library_internals

REPO = Path(__file__).resolve().parents[1]

# BentoML's request metrics middleware, patched, run in a process of its own (prometheus_client picks
# its storage on first import) as BentoML's server builds it; prints the path the app saw and the
# endpoint labels of the metric lines.
LABELLED_METRICS = """
import asyncio, json
from tryon import library_internals
library_internals.label_bentoml_request_metrics(lambda scope: "/api/tryon/{job_id}")
from bentoml._internal.configuration.containers import BentoMLContainer
from bentoml._internal.server.http import instruments

seen = []

async def app(scope, receive, send):
    seen.append(scope["path"])
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})

async def receive():
    return {"type": "http.request", "body": b""}

async def send(message):
    pass

middleware = instruments.RunnerTrafficMetricsMiddleware(app, namespace="compat")
scope = {"type": "http", "path": "/api/tryon/0b7e9c2a", "method": "GET", "headers": [], "root_path": ""}
asyncio.run(middleware(scope, receive, send))
text = BentoMLContainer.metrics_client.get().generate_latest().decode()
labels = sorted({line.split('endpoint="')[1].split('"')[0] for line in text.splitlines() if line.startswith("compat_request_total")})
print(json.dumps({"seen": seen, "labels": labels}))
"""


def test_bentoml_request_metrics_are_labelled_by_route_and_the_app_sees_the_real_path(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", LABELLED_METRICS], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"seen": ["/api/tryon/0b7e9c2a"], "labels": ["/api/tryon/{job_id}"]}


def test_the_bentoml_server_builds_its_metrics_middleware_from_the_patched_name() -> None:
    import inspect

    from _bentoml_impl.server import app

    source = inspect.getsource(app)
    assert "from bentoml._internal.server.http.instruments import (\n                RunnerTrafficMetricsMiddleware," in source


def test_uploads_up_to_the_limit_stay_in_memory() -> None:
    library_internals.keep_multipart_uploads_in_memory(4 * 1024 * 1024)

    async def upload(request: Request) -> JSONResponse:
        form = await request.form()
        spooled = form["photo"].file
        return JSONResponse({"on_disk": bool(getattr(spooled, "_rolled", True)), "size": len(spooled.read())})

    client = TestClient(Starlette(routes=[Route("/", upload, methods=["POST"])]))
    answer = client.post("/", files={"photo": ("p.png", io.BytesIO(b"x" * 3_000_000))}).json()
    assert answer == {"on_disk": False, "size": 3_000_000}


def test_gpus_are_counted_as_bentoml_counts_them() -> None:
    from bentoml._internal.resource import NvidiaGpuResource

    assert library_internals.nvidia_gpu_count() == len(NvidiaGpuResource.from_system()) == 0  # no driver here


def test_the_model_store_folder_is_bentoml_home_models(tmp_path: Path) -> None:
    from tests.models.conftest import temporary_model_store

    with temporary_model_store(tmp_path):
        assert Path(library_internals.model_store_folder()) == tmp_path / "models"


def test_bentoml_serves_on_its_documented_default_address() -> None:
    assert library_internals.bentoml_default_address() == ("0.0.0.0", 3000)


def test_a_remote_runner_client_is_told_from_the_runner_object() -> None:
    from _bentoml_impl.client import RemoteProxy

    assert library_internals.is_remote_runner(RemoteProxy.__new__(RemoteProxy))
    assert not library_internals.is_remote_runner(object())
