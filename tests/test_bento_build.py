"""`bentoml build` from the repo, then the built Bento: its record, its image recipe, and `bentoml serve <tag>`.

`bentoml containerize` needs a Docker engine, which these machines lack; the Dockerfile it would
use is generated into the Bento by the build, so the test reads that instead.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from .e2e.served import BENTOML, REPO, ServedService

RUNNERS = ("PoseRunner", "SegmentationRunner")
DEMO_FILES = ("demo.html", "demo.js", "demo.css")


class ServedBento(ServedService):
    """``bentoml serve <target>``: a built Bento's tag instead of the repo's ``service:TryOnService``.

    It runs from ``cwd`` (outside the repo), so the code served is the Bento's own copy.
    """

    def __init__(self, workdir: Path, *, target: str, cwd: Path, **settings: str) -> None:
        super().__init__(workdir, **settings)
        self.target = target
        self.cwd = cwd

    def start(self, timeout: float = 120) -> "ServedBento":
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [str(BENTOML), "serve", self.target, "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"bento server exited early:\n{self.log()}")
            try:
                if requests.get(f"{self.url}/health", timeout=2).json().get("models_loaded"):
                    return self
            except (requests.ConnectionError, requests.Timeout, ValueError):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"bento server not ready after {timeout}s:\n{self.log()}")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bento")


@pytest.fixture(scope="module")
def built(workdir: Path) -> tuple[str, Path]:
    """(tag, path) of a Bento built from the repo into a BENTOML_HOME of its own."""
    home = workdir / "bentoml"  # the BENTOML_HOME that ServedService gives the server too
    env = {**os.environ, "BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true"}
    build = subprocess.run(
        [str(BENTOML), "build", "--output", "tag"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    tag = re.search(r"__tag__:(\S+)", build.stdout).group(1)
    name, version = tag.split(":")
    path = home / "bentos" / name / version
    assert path.is_dir(), f"no Bento at {path}"
    return tag, path


@pytest.fixture(scope="module")
def bento_yaml(built) -> dict:
    return yaml.safe_load((built[1] / "bento.yaml").read_text())


def test_bento_record_names_the_service_its_runners_and_settings(built, bento_yaml: dict) -> None:
    tag, _ = built
    name = tag.split(":")[0]
    assert bento_yaml["name"] == name
    # `bentoml serve NAME:VERSION` first tries to import a module called NAME from the working
    # directory and the installed packages; a Bento named like the `tryon` package would then serve
    # the installed package's code instead of the Bento's own copy.
    assert "-" in name or importlib.util.find_spec(name) is None, (
        f"the Bento's name {name!r} is also an importable module: rename it in bentofile.yaml "
        "(e.g. name: virtual-tryon)"
    )
    assert bento_yaml["service"] == "service:TryOnService"
    assert bento_yaml["entry_service"] == "TryOnService"
    services = {service["name"]: service for service in bento_yaml["services"]}
    assert set(services) >= {"TryOnService", *RUNNERS}
    for runner in RUNNERS:  # each model service asks for a GPU of its own
        assert services[runner]["config"]["resources"]["gpu"] == 1
    envs = {env["name"]: env.get("value") for env in bento_yaml["envs"]}
    assert envs.get("TRYON_DATA_DIR")


def test_bento_carries_the_code_demo_page_and_models_it_references(built, bento_yaml: dict) -> None:
    _, path = built
    src = path / "src"
    assert (src / "service.py").is_file() and (src / "tryon" / "pipeline").is_dir()
    for runner in ("pose.py", "segmentation.py"):
        assert (src / "runners" / runner).is_file()
    missing = [name for name in DEMO_FILES if not (src / "tryon" / "api" / "static" / name).is_file()]
    assert not missing, (
        f"the Bento lacks tryon/api/static/{missing}: add \"tryon/api/static/*\" to include: in bentofile.yaml"
    )
    assert not (src / "tests").exists() and not (src / "benchmarks").exists()
    for model in bento_yaml.get("models", []):  # every model a service declares travels in the Bento
        name, version = model["tag"].split(":")
        assert (path / "models" / name / version).is_dir(), f"model {model['tag']} is not in the Bento"


def test_generated_dockerfile_installs_system_libraries_and_requirements(built) -> None:
    _, path = built
    dockerfile = (path / "env" / "docker" / "Dockerfile").read_text()
    apt_lines = [line for line in dockerfile.splitlines() if "apt-get install" in line]
    assert any("libgl1" in line.split() and "libglib2.0-0" in line.split() for line in apt_lines), apt_lines
    assert re.search(r"pip install -r \$BENTO_PATH/env/python/requirements\.txt", dockerfile)
    assert "ENV TRYON_DATA_DIR=" in dockerfile
    assert re.search(r"^FROM python:3\.11", dockerfile, re.M)

    wanted = {
        line.split("#")[0].strip()
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    }
    shipped = set((path / "env" / "python" / "requirements.txt").read_text().splitlines())
    assert wanted <= shipped, f"not in the image's requirements: {sorted(wanted - shipped)}"
    # PyPI's Linux torch wheel of the pinned version is the CUDA build: right for a GPU host.
    assert "torch==2.13.0" in shipped


@pytest.fixture(scope="module")
def served_bento(built, workdir: Path) -> Iterator[ServedBento]:
    tag, _ = built
    outside = workdir / "elsewhere"
    outside.mkdir()
    server = ServedBento(workdir, target=tag, cwd=outside).start()
    yield server
    server.stop()


def test_built_bento_serves_the_same_api(served_bento: ServedBento) -> None:
    health = requests.get(f"{served_bento.url}/health", timeout=10).json()
    assert health["models_loaded"] is True
    assert {"status", "cuda_available", "gpu"} <= set(health)
    assert requests.get(f"{served_bento.url}/api/tryon/not-a-job", timeout=10).status_code == 404
    assert "/api/tryon" in requests.get(f"{served_bento.url}/openapi.json", timeout=10).json()["paths"]
    demo = requests.get(f"{served_bento.url}/demo", timeout=10)
    assert demo.status_code == 200 and "Virtual try-on" in demo.text
    assert requests.get(f"{served_bento.url}/readyz", timeout=10).status_code == 200
    assert "tryon_jobs_submitted_total" in requests.get(f"{served_bento.url}/metrics", timeout=10).text
