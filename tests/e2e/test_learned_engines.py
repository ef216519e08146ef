"""The classical engine's learned step end to end: the test clothes parser in a temporary model store,
served by `bentoml serve`.

The model is small and randomly initialised (``make_test_models.py``), so its labels are noise; what
is tested is the path: the store, the runner, the pipeline hook, /health, errors.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tryon.images import ImageLimits, decode_image

from .helpers import decode_result, poll_until_finished, submit
from .served import ServedService
from .test_batching import batch_totals

REPO = Path(__file__).resolve().parents[2]
PARSER_STEP = "SegFormer human parsing, model tryon-clothes-parser:"


@pytest.fixture(scope="module")
def learned_service(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("learned")
    subprocess.run(
        [sys.executable, "model_store_scripts/make_test_models.py"],
        cwd=REPO,
        env={**ServedService(workdir).env},
        check=True,
        capture_output=True,
    )
    served = ServedService(workdir, TRYON_WORKERS="4", TRYON_PARSING_ENGINE="segformer").start(timeout=240)
    yield served
    served.stop()


def test_jobs_run_through_the_parsing_runner(learned_service, person_bytes, garment_bytes) -> None:
    health = requests.get(f"{learned_service.url}/health", timeout=10).json()
    assert health["engines"]["segmentation"].startswith(PARSER_STEP), health["engines"]

    with ThreadPoolExecutor(4) as pool:
        job_ids = list(pool.map(lambda _: submit(learned_service.url, person_bytes, garment_bytes).json()["job_id"], range(4)))
        polls = list(pool.map(lambda job_id: poll_until_finished(learned_service.url, job_id, interval=0.02), job_ids))

    person = decode_image("person_image", person_bytes, ImageLimits())
    for poll in polls:
        assert poll.final["status"] == "completed", poll.final
        assert decode_result(poll.final).shape == person.shape

    # The warm-up's parse, then each job's person photo (the garment's is parsed once and cached).
    assert batch_totals(learned_service.url)["ParsingRunner"]["sum"] >= 1 + len(job_ids)


REAL_LOOKING_MODEL = """
from tryon.models.clothes_parser_store import save_clothes_parser, tiny_clothes_parser
from tryon.models.store import ModelSource

save_clothes_parser(*tiny_clothes_parser(), source=ModelSource("org/parser", "main", "mit", commit="0" * 40))
"""


@pytest.fixture(scope="module")
def gpu_runner_service(tmp_path_factory: pytest.TempPathFactory):
    """A store with a parser not labelled as a test model, so ``auto`` would use it; a GPU in the
    runner processes only (faked), none in the API process, as on Kubernetes."""
    workdir = tmp_path_factory.mktemp("gpu-runner")
    server = ServedService(workdir, target="tests.engines.classical.fake_gpu_service:TryOnService", TRYON_WORKERS="2")
    subprocess.run([sys.executable, "-c", REAL_LOOKING_MODEL], cwd=REPO, env=server.env, check=True, capture_output=True)
    yield server.start(timeout=240)
    server.stop()


def test_auto_is_decided_where_the_model_and_the_gpu_are(gpu_runner_service, person_bytes, garment_bytes) -> None:
    url = gpu_runner_service.url
    health = requests.get(f"{url}/health", timeout=10).json()
    assert health["engines"]["segmentation"].startswith(PARSER_STEP), health["engines"]
    assert health["cuda_available"] is True and health["gpu"]["gpu_name"] == "Fake GPU (tests)", health

    poll = poll_until_finished(url, submit(url, person_bytes, garment_bytes).json()["job_id"])

    assert poll.final["status"] == "completed", poll.final
    assert batch_totals(url)["ParsingRunner"]["sum"] >= 2  # the warm-up, then the job


def test_a_configured_model_missing_from_the_store_stops_start_up(tmp_path) -> None:
    server = ServedService(tmp_path, TRYON_PARSING_ENGINE="segformer")
    with pytest.raises(RuntimeError, match="failed to start") as failure:
        server.start(timeout=120)
    server.stop()
    message = str(failure.value)
    assert "tryon-clothes-parser" in message and "model_store_scripts/import_models.py" in message, message[-3000:]
