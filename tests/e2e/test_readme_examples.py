"""The README's examples, run as written from a copy of the clone against a real server.

Only the server's address changes (the README's is http://localhost:8000) and ``.venv/bin/`` becomes
the virtual environment running the tests; every photo they name comes with the repository.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from .helpers import poll_until_finished

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()
README_SERVER = "http://localhost:8000"
VENV_BIN = Path(sys.executable).parent
# Where the newcomer finds example photos: the README, the CLI's help and the demo page.
PHOTO_PATH = re.compile(r"examples/[\w.-]+\.(?:jpg|jpeg|png|webp)")
MENTIONS = [REPO / "README.md", REPO / "tryon" / "clients" / "api_client.py", REPO / "tryon" / "api" / "static" / "demo.html"]


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


def readme_command(starting_with: str) -> str:
    """The first command in the README's bash blocks that starts so, with its continued lines."""
    for block in code_blocks("bash"):
        match = re.search(rf"^[ \t]*({re.escape(starting_with)}.*?(?<!\\))$", block, re.M | re.S)
        if match:
            return match.group(1)
    raise AssertionError(f"no `{starting_with}` command in the README")


def as_run_here(command: str, server_url: str) -> str:
    return command.replace(README_SERVER, server_url).replace(".venv/bin/", f"{VENV_BIN}/")


@pytest.fixture()
def clone(tmp_path: Path) -> Path:
    """What the examples need of a clone: its example photos, in a directory the test may write."""
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    return tmp_path


@pytest.mark.parametrize("document", MENTIONS, ids=lambda path: path.name)
def test_every_example_photo_named_is_in_the_repository(document: Path) -> None:
    named = set(PHOTO_PATH.findall(document.read_text()))
    assert named, f"{document.name} names no example photo"
    assert all((REPO / path).is_file() for path in named), named
    assert (REPO / "examples" / "README.md").read_text().count("Prompt Haus") >= 1  # the licence notice


def test_readme_curl_example_submits_a_job(service, clone: Path) -> None:
    command = as_run_here(readme_command("curl -X POST"), service.url)
    run = subprocess.run(["bash", "-c", command], cwd=clone, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    submitted = json.loads(run.stdout)
    assert submitted["status"] == "queued"

    poll = as_run_here(readme_command("curl http"), service.url).replace("c3e8a4b1-...", submitted["job_id"])
    polled = subprocess.run(["bash", "-c", poll], cwd=clone, capture_output=True, text=True, timeout=30)
    assert json.loads(polled.stdout)["job_id"] == submitted["job_id"]


def test_readme_cli_example_writes_the_result(service, clone: Path) -> None:
    command = as_run_here(readme_command(".venv/bin/tryon run"), service.url)
    run = subprocess.run(
        ["bash", "-c", command],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "TRYON_SERVER": service.url},
    )
    assert run.returncode == 0, run.stderr
    output = re.search(r"-o (\S+)", command).group(1)
    with Image.open(clone / output) as result, Image.open(clone / "examples" / "person.jpg") as person:
        assert result.format == "PNG" and result.size == person.size


def test_readme_python_example_writes_the_result(service, clone: Path) -> None:
    (example,) = code_blocks("python")
    run = subprocess.run(
        [sys.executable, "-c", as_run_here(example, service.url)],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr
    with Image.open(clone / "result.png") as result, Image.open(clone / "examples" / "person.jpg") as person:
        assert result.format == "PNG" and result.size == person.size


def test_readme_curl_line_saves_the_result_as_a_png(service, clone: Path) -> None:
    submit = as_run_here(readme_command("curl -X POST"), service.url)
    submitted = subprocess.run(["bash", "-c", submit], cwd=clone, capture_output=True, text=True, timeout=60)
    job_id = json.loads(submitted.stdout)["job_id"]
    assert poll_until_finished(service.url, job_id).final["status"] == "completed"

    save = as_run_here(readme_command("curl -s http"), service.url).replace("c3e8a4b1-...", job_id)
    run = subprocess.run(["bash", "-c", save], cwd=clone, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    with Image.open(clone / "result.png") as result, Image.open(clone / "examples" / "person.jpg") as person:
        assert result.format == "PNG" and result.size == person.size
