"""`bentoml build` from the repo, then the Bento: its record, its image recipe, `bentoml serve <tag>`.

`bentoml containerize` needs a Docker engine, which these machines lack; the Dockerfile it would
use is generated into the Bento by the build, so the test reads that instead.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from runners import runner_services
from tryon.clients.api_client import TryOnClient, picture_size
from tryon.settings import Settings

from .e2e.served import BENTOML, REPO, ServedService, free_ports

# Every test here reads a Bento that `bentoml build` makes first (about 20 s on 2 cores).
pytestmark = pytest.mark.e2e

K8S = REPO / "deploy" / "k8s"
PERSON = "persons/studio_man_hoodie.png"
GARMENT = "garments/shirt_oxford_blue.jpg"

RUNNERS = tuple(runner.name for runner in runner_services())
GPU_RUNNERS = tuple(runner.name for runner in runner_services() if runner.config.get("resources", {}).get("gpu"))
DEMO_FILES = ("demo.html", "demo.js", "demo.css")


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
    assert set(GPU_RUNNERS) == {"FashnVtonRunner", "ParsingRunner"}
    for runner in GPU_RUNNERS:  # the learned models' services ask for a GPU of their own
        assert services[runner]["config"]["resources"]["gpu"] == 1
    for runner in set(RUNNERS) - set(GPU_RUNNERS):  # mediapipe's run on the CPU
        assert "gpu" not in services[runner]["config"]["resources"]
    envs = {env["name"]: env.get("value") for env in bento_yaml["envs"]}
    assert envs.get("TRYON_DATA_DIR")


def test_bento_carries_the_code_demo_page_and_models_it_references(built, bento_yaml: dict) -> None:
    _, path = built
    src = path / "src"
    assert (src / "service.py").is_file() and (src / "tryon" / "engines" / "classical" / "pipeline").is_dir()
    assert (src / "runners" / "__init__.py").is_file() and (src / "runners" / "gpus.py").is_file()
    assert (src / "tryon" / "engines" / "classical" / "runners" / "pose.py").is_file()
    # The importer checks checkpoints against this manifest: package data, not code.
    assert (src / "tryon" / "engines" / "fashn_vton" / "full_size_manifest.json").is_file()
    missing = [name for name in DEMO_FILES if not (src / "tryon" / "api" / "static" / name).is_file()]
    assert not missing, (
        f"the Bento lacks tryon/api/static/{missing}: "
        'add "tryon/api/static/*" to include: in bentofile.yaml'
    )
    assert not (src / "tests").exists() and not (src / "benchmarks").exists()
    # `bentoml containerize` copies every model the services declare from the model store into
    # the image: each must be in the store the Bento was built against.
    store = path.parents[2] / "models"
    for model in bento_yaml.get("models", []):
        name, version = model["tag"].split(":")
        assert (store / name / version).is_dir(), f"model {model['tag']} is not in {store}"


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
    # The image is the GPU one: after requirements.txt (onnxruntime, as on CPU hosts) its setup script
    # puts onnxruntime-gpu in its place, for DWPose on CUDA; never both (they are one module).
    assert "onnxruntime>=1.17" in shipped
    install = dockerfile.index("pip install -r $BENTO_PATH/env/python/requirements.txt")
    (script,) = (path / "env" / "docker").glob("script__*")
    setup = dockerfile.index(f"./env/docker/{script.name}")
    assert setup > install, "the setup script must run after the requirements are installed"
    commands = [line for line in script.read_text().splitlines() if line and not line.startswith(("#", "set "))]
    assert commands == ["uv pip uninstall onnxruntime", f'uv pip install "{GPU_ONNXRUNTIME}"']


GPU_ONNXRUNTIME = "onnxruntime-gpu>=1.17"


def test_gpu_hosts_take_the_gpu_onnxruntime_in_place_of_the_cpu_one() -> None:
    """The README's GPU line swaps the packages as the Bento's image does, at the same version."""
    from .test_readme_commands import command, commands

    cpu_line, gpu_line = [line for line in commands(command(1)) if "pip install" in line]
    assert "onnxruntime" not in cpu_line  # requirements.txt's onnxruntime
    assert f'.venv/bin/pip uninstall -y onnxruntime && .venv/bin/pip install "{GPU_ONNXRUNTIME}"' in gpu_line
    cpu_pin = next(line for line in (REPO / "requirements.txt").read_text().splitlines() if line.startswith("onnxruntime"))
    assert cpu_pin.removeprefix("onnxruntime") == GPU_ONNXRUNTIME.removeprefix("onnxruntime-gpu")


API_KEY = "bento-test-key"


@pytest.fixture(scope="module")
def served_bento(built, workdir: Path) -> Iterator[ServedService]:
    tag, _ = built
    outside = workdir / "elsewhere"
    outside.mkdir()
    server = ServedService(workdir, target=tag, cwd=outside, TRYON_API_KEY=API_KEY).start()
    yield server
    server.stop()


def test_built_bento_serves_the_same_api(served_bento: ServedService, data_dir: Path) -> None:
    url = served_bento.url
    health = requests.get(f"{url}/health", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10).json()
    assert health["models_loaded"] is True
    assert {"status", "cuda_available", "gpu"} <= set(health)
    assert requests.get(f"{url}/readyz", timeout=10).status_code == 200
    assert "/api/tryon" in requests.get(f"{url}/openapi.json", timeout=10).json()["paths"]
    demo = requests.get(f"{url}/demo", timeout=10)
    assert demo.status_code == 200 and "Virtual try-on" in demo.text
    assert requests.get(f"{url}/api/tryon/not-a-job", timeout=10).status_code == 401  # TRYON_API_KEY

    with TryOnClient(url, api_key=API_KEY) as client:
        png = client.run(data_dir / PERSON, data_dir / GARMENT, poll_seconds=0.1, timeout=120)
    assert picture_size(png) == _image_size(data_dir / PERSON)
    metrics = requests.get(f"{url}/metrics", timeout=10).text
    for line in (
        r"tryon_jobs_submitted_total 1\.0",
        r"tryon_jobs_completed_total 1\.0",
        r'tryon_jobs_failed_total\{reason="no_person"\} 0\.0',
        r'tryon_step_duration_seconds_count\{step="warp"\} 1\.0',
        r"tryon_queue_depth 0",
    ):
        assert re.search(f"^{line}$", metrics, re.M), f"{line} not in /metrics:\n{metrics[-3000:]}"


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size


def k8s_objects() -> list[dict]:
    return [
        doc
        for path in sorted(K8S.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc and "kind" in doc and doc["kind"] != "Kustomization"
    ]


def served_by(objects: list[dict]) -> dict[str, dict]:
    """BentoML service name -> the Deployment that runs it (``start-http-server --service-name``)."""
    served = {}
    for deployment in (o for o in objects if o["kind"] == "Deployment"):
        args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args[0] == "start-http-server", f"{deployment['metadata']['name']}: {args}"
        served[args[args.index("--service-name") + 1]] = deployment
    return served


def k8s_service_for(objects: list[dict], deployment: dict) -> str:
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    [name] = [
        o["metadata"]["name"]
        for o in objects
        if o["kind"] == "Service" and o["spec"]["selector"].items() <= labels.items()
    ]
    return name


def test_kubernetes_manifests_run_every_service_of_the_bento(bento_yaml: dict) -> None:
    objects = k8s_objects()
    served = served_by(objects)
    assert set(served) == {service["name"] for service in bento_yaml["services"]}
    for service in bento_yaml["services"]:
        deployment = served[service["name"]]
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] in ("/livez", "/health")
        gpus = service["config"].get("resources", {}).get("gpu")
        for kind in ("requests", "limits"):
            assert container["resources"][kind].get("nvidia.com/gpu") == gpus, service["name"]
        args = container["args"]
        for dependency in service["dependencies"]:
            target = k8s_service_for(objects, served[dependency["service"]])
            assert f"{dependency['service']}=http://{target}:3000" in args, (service["name"], args)

    api = served[bento_yaml["entry_service"]]
    assert api["spec"]["replicas"] >= 2
    sources = {
        next(iter(source.values()))["name"]
        for source in api["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    }
    assert sources == {"tryon-config", "tryon-secrets"}
    redis = next(o for o in objects if o["kind"] == "StatefulSet" and "redis" in o["metadata"]["name"])
    assert redis["spec"]["volumeClaimTemplates"]


def test_kubernetes_settings_are_settings_the_service_reads() -> None:
    """A misspelt TRYON_* variable would be ignored silently: every one must be a Settings field."""
    fields = {f"TRYON_{name.upper()}" for name in Settings.model_fields}
    objects = k8s_objects()
    config = next(o for o in objects if o["kind"] == "ConfigMap")["data"]
    secret = next(o for o in objects if o["kind"] == "Secret")["stringData"]
    unknown = sorted(key for key in {**config, **secret} if key.startswith("TRYON_") and key not in fields)
    assert not unknown, f"not settings of tryon.settings.Settings: {unknown}"
    assert "TRYON_REDIS_URL" in secret and "@tryon-redis:6379" in secret["TRYON_REDIS_URL"]
    assert {"TRYON_S3_BUCKET", "TRYON_WORKERS"} <= set(config)


def test_bentocloud_config_sizes_every_service_of_the_bento(built, bento_yaml: dict) -> None:
    config = yaml.safe_load((REPO / "deploy" / "bentocloud.yaml").read_text())
    assert config["bento"].split(":")[0] == built[0].split(":")[0]
    assert set(config["services"]) == {service["name"] for service in bento_yaml["services"]}
    for name, service in config["services"].items():
        assert 1 <= service["scaling"]["min_replicas"] <= service["scaling"]["max_replicas"], name
    fields = {f"TRYON_{name.upper()}" for name in Settings.model_fields}
    assert {env["name"] for env in config["envs"] if env["name"].startswith("TRYON_")} <= fields


def test_services_run_split_as_the_kubernetes_manifests_run_them(
    built, workdir: Path, data_dir: Path
) -> None:
    """Each Deployment's container args, run against the built Bento on loopback ports."""
    _, bento_path = built
    objects = k8s_objects()
    served = served_by(objects)
    ports = dict(zip(served, free_ports(len(served))))
    k8s_to_port = {k8s_service_for(objects, deployment): ports[name] for name, deployment in served.items()}
    env = {
        **os.environ,
        "BENTOML_HOME": str(workdir / "bentoml"),
        "TRYON_DATA_DIR": str(workdir / "split-data"),
        "BENTOML_DO_NOT_TRACK": "true",
    }
    processes: list[subprocess.Popen] = []
    try:
        for name, deployment in served.items():
            container = deployment["spec"]["template"]["spec"]["containers"][0]
            args = localised(container["args"], ports[name], k8s_to_port)
            # What the image's entrypoint runs for `start-http-server ...`.
            command = [sys.executable, "-m", "bentoml_cli._internal.start", *args, str(bento_path)]
            log = (workdir / f"split-{name}.log").open("ab")
            processes.append(
                subprocess.Popen(
                    command,
                    cwd=bento_path,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        api_url = f"http://127.0.0.1:{ports[_entry_service(built)]}"
        wait_until_models_loaded(api_url, processes, workdir)
        with TryOnClient(api_url) as client:
            png = client.run(data_dir / PERSON, data_dir / GARMENT, poll_seconds=0.1, timeout=120)
        assert picture_size(png) == _image_size(data_dir / PERSON)
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def _entry_service(built) -> str:
    return yaml.safe_load((built[1] / "bento.yaml").read_text())["entry_service"]


def localised(args: list[str], port: int, k8s_to_port: dict[str, int]) -> list[str]:
    """The container's args with its port and host on loopback, and Service URLs made local."""
    result = []
    for previous, arg in zip([None, *args], args):
        if previous == "--port":
            arg = str(port)
        elif previous == "--host":
            arg = "127.0.0.1"
        elif previous == "--depends":
            name, url = arg.split("=", 1)
            host = url.split("//", 1)[1].split(":", 1)[0]
            arg = f"{name}=http://127.0.0.1:{k8s_to_port[host]}"
        result.append(arg)
    return result


def wait_until_models_loaded(
    url: str, processes: list[subprocess.Popen], workdir: Path, timeout: float = 120
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            logs = "\n".join(path.read_text(errors="replace")[-2000:] for path in workdir.glob("split-*.log"))
            raise AssertionError(f"a split server exited:\n{logs}")
        try:
            if requests.get(f"{url}/health", timeout=2).json().get("models_loaded"):
                return
        except (requests.ConnectionError, requests.Timeout, ValueError):
            pass
        time.sleep(0.3)
    raise AssertionError(f"split API server not ready after {timeout}s")
