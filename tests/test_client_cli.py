"""The `tryon` command and the Python client against a real `bentoml serve` of the service."""

from __future__ import annotations

import base64
import io
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from PIL import Image

from tryon.clients.cli import DEFAULT_SERVER, build_parser
from tryon.clients.api_client import TryOnClient, TryOnFailed, picture_size

from .e2e.served import ServedService

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[1]
TRYON = Path(sys.executable).with_name("tryon")  # the console script of [project.scripts]
STEP_NAMES = ("segmentation", "pose", "warp", "inpainting", "blend")


@pytest.fixture(scope="module")
def served(service: ServedService) -> ServedService:
    """The suite's shared default server."""
    return service


@pytest.fixture(scope="module")
def person_path(data_dir: Path) -> Path:
    return data_dir / "persons" / "studio_man_hoodie.png"


@pytest.fixture(scope="module")
def garment_path(data_dir: Path) -> Path:
    return data_dir / "garments" / "shirt_oxford_blue.jpg"


def tryon(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The console script, run with ``env`` added to this process's environment."""
    assert TRYON.exists(), f"{TRYON} missing: install the package (pip install -e .) to get the script"
    return subprocess.run(
        [str(TRYON), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def test_cli_shows_the_steps_and_writes_a_png_of_the_persons_size(
    served, person_path: Path, garment_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.png"
    run = tryon("run", person_path, garment_path, "-o", out, "--server", served.url, "--poll", "0.05")

    assert run.returncode == 0, run.stderr
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(out) as result, Image.open(person_path) as person:
        assert result.size == person.size
    lines = run.stderr.splitlines()
    assert "[##########] 100% done" in lines
    seen_steps = [name for name in STEP_NAMES if any(line.endswith(f"% {name}") for line in lines)]
    assert seen_steps, f"no step on the progress bar:\n{run.stderr}"
    for line in lines:
        if line.endswith("% warp"):
            assert line == "[####......]  40% warp"
    assert f"wrote {out}" in run.stderr


def test_cli_failed_job_exits_non_zero_with_the_servers_reason(
    served, data_dir: Path, garment_path: Path, tmp_path: Path
) -> None:
    # A product photo of jeans has nobody in it to dress.
    product_photo = data_dir / "garments" / "jeans_blue.jpg"
    run = tryon("run", product_photo, garment_path, "-o", tmp_path / "out.png", "--server", served.url)

    assert run.returncode == 1, run.stderr
    assert not (tmp_path / "out.png").exists()
    job_id = run.stderr.split("(job ", 1)[1].split(")", 1)[0]
    reason = requests.get(f"{served.url}/api/tryon/{job_id}", timeout=10).json()["detail"]["error"]
    assert "No person was found" in reason
    assert f"tryon: failed (job {job_id}): {reason}" in run.stderr


def test_cli_refused_upload_exits_non_zero_with_the_detail(
    served, garment_path: Path, tmp_path: Path
) -> None:
    gif = tmp_path / "person.gif"
    Image.new("RGB", (128, 128), "white").save(gif, format="GIF")

    run = tryon("run", gif, garment_path, "-o", tmp_path / "out.png", "--server", served.url)

    assert run.returncode == 1
    assert "tryon: failed: Unsupported image type: image/gif" in run.stderr


def test_cli_unreachable_server_and_missing_file_have_their_own_exit_codes(
    person_path: Path, garment_path: Path, tmp_path: Path
) -> None:
    with socket_closed_port() as port:
        server = f"http://127.0.0.1:{port}"
        run = tryon("run", person_path, garment_path, "-o", tmp_path / "o.png", "--server", server)
    assert run.returncode == 3 and "cannot reach the server" in run.stderr
    run = tryon("run", tmp_path / "missing.jpg", garment_path, "-o", tmp_path / "o.png")
    assert run.returncode == 2 and "missing.jpg: no such file" in run.stderr


def test_cli_defaults_to_the_readmes_port_and_reads_tryon_server(monkeypatch) -> None:
    served_port = re.search(r"bentoml serve --port (\d+)", (REPO / "README.md").read_text()).group(1)
    assert DEFAULT_SERVER == f"http://localhost:{served_port}"
    monkeypatch.delenv("TRYON_SERVER", raising=False)
    assert build_parser().parse_args(["run", "a.jpg", "b.jpg", "-o", "o.png"]).server == DEFAULT_SERVER
    monkeypatch.setenv("TRYON_SERVER", "http://tryon.internal:9000")
    assert build_parser().parse_args(["run", "a.jpg", "b.jpg", "-o", "o.png"]).server == "http://tryon.internal:9000"


def test_cli_finds_the_server_from_tryon_server(
    served, person_path: Path, garment_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.png"
    run = tryon("run", person_path, garment_path, "-o", out, "-q", env={"TRYON_SERVER": served.url})
    assert run.returncode == 0, run.stderr
    assert picture_size(out.read_bytes()) == Image.open(person_path).size


def test_client_follows_a_job_and_reports_refusals(served, person_path: Path, garment_path: Path) -> None:
    seen: list[tuple[str, str | None, int]] = []
    with TryOnClient(served.url) as client:
        job_id = client.submit(person_path, garment_path)
        final = client.wait(
            job_id,
            on_progress=lambda body: seen.append((body["status"], body.get("step"), body["progress"])),
            poll_seconds=0.05,
        )
        png = client.result_picture(final)
        with pytest.raises(TryOnFailed) as unknown:
            client.status("00000000-0000-4000-8000-000000000000")

    assert final["status"] == "completed" and final["job_id"] == job_id
    assert seen[-1] == ("completed", None, 100)
    assert [progress for _, _, progress in seen] == sorted(progress for _, _, progress in seen)
    assert picture_size(png) == Image.open(person_path).size
    assert unknown.value.status_code == 404 and "No try-on job" in unknown.value.reason


def test_result_picture_downloads_result_url_without_the_api_key(tmp_path: Path) -> None:
    png = _png_bytes()
    seen_headers: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen_headers.append(dict(self.headers))
            self.send_response(200)
            self.send_header("Content-Length", str(len(png)))
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = TryOnClient("http://127.0.0.1:1", api_key="secret-key")
        url = f"http://127.0.0.1:{server.server_address[1]}/results/x.png?X-Amz-Signature=abc"
        assert client.result_picture({"job_id": "j", "status": "completed", "result_url": url}) == png
        assert "Authorization" not in seen_headers[0]  # a presigned URL carries its own credentials
        b64 = base64.b64encode(png).decode()
        assert client.result_picture({"job_id": "j", "status": "completed", "result_b64": b64}) == png
        with pytest.raises(TryOnFailed, match="not a PNG"):
            client.result_picture({"job_id": "j", "result_b64": base64.b64encode(b"GIF89a").decode()})
    finally:
        server.shutdown()
        server.server_close()


def _png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (3, 2), "red").save(buffer, format="PNG")
    return buffer.getvalue()


class socket_closed_port:
    """A loopback port with nothing listening on it (bound, never listened to)."""

    def __enter__(self) -> int:
        import socket

        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        return self._socket.getsockname()[1]

    def __exit__(self, *exc_info) -> None:
        self._socket.close()
