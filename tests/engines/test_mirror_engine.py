"""A new engine is one folder: the test-only mirror engine, with an option of its own (``flip``),
served end to end; nothing outside its folder names it."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import requests

from tests.e2e.helpers import decode_result, poll_until_finished
from tests.e2e.served import ServedService
from tests.engines.test_registry import Described
from tryon.engines.mirror import MIRROR
from tryon.engines.mirror.runner import MirrorRunner
from tryon.engines.registry import choose_engine
from tryon.settings import Settings
from tryon.images import ImageLimits, decode_image

REPO = Path(__file__).resolve().parents[2]
MIRROR_FOLDER = REPO / "tryon" / "engines" / "mirror"
# What ships or configures the service: none of it may name the mirror engine, save its own folder.
PRODUCT = ("tryon", "runners", "deploy", "model_store_scripts", "service.py", "bentofile.yaml", "pyproject.toml")


def test_nothing_outside_its_folder_names_the_mirror_engine() -> None:
    naming = []
    for top in PRODUCT:
        paths = [REPO / top] if (REPO / top).is_file() else sorted((REPO / top).rglob("*"))
        for path in paths:
            if path.is_file() and MIRROR_FOLDER not in path.parents and path.suffix in {".py", ".yaml", ".yml", ".toml"}:
                naming += [f"{path.relative_to(REPO)}:{number}" for number, line in enumerate(path.read_text().splitlines(), 1)
                           if re.search(r"\bmirror\b", line, re.IGNORECASE)]  # fmt: skip
    assert not naming, naming


def submit(url: str, person: bytes, garment: bytes, **fields: str) -> requests.Response:
    files = {"person_image": ("person.png", person), "clothing_image": ("clothing.jpg", garment)}
    return requests.post(f"{url}/api/tryon", files=files, data=fields, timeout=30)


@pytest.fixture(scope="module")
def mirror_service(tmp_path_factory: pytest.TempPathFactory):
    served = ServedService(
        tmp_path_factory.mktemp("mirror"), target="tests.engines.mirror_service:TryOnService", TRYON_ENGINE="mirror"
    ).start(timeout=180)
    yield served
    served.stop()


@pytest.mark.e2e
def test_a_registered_engine_serves_jobs_with_its_own_option(mirror_service, person_bytes, garment_bytes) -> None:
    health = requests.get(f"{mirror_service.url}/health", timeout=10).json()
    assert health["engine"] == "mirror", health
    assert health["engines"] == {"inpainting": "MirrorRunner (numpy, left to right)"}
    person = decode_image("person_image", person_bytes, ImageLimits())

    flipped = poll_until_finished(mirror_service.url, submit(mirror_service.url, person_bytes, garment_bytes, flip="true").json()["job_id"])
    as_is = poll_until_finished(mirror_service.url, submit(mirror_service.url, person_bytes, garment_bytes).json()["job_id"])

    assert flipped.final["status"] == as_is.final["status"] == "completed", (flipped.final, as_is.final)
    np.testing.assert_array_equal(decode_result(flipped.final), person[:, ::-1])
    np.testing.assert_array_equal(decode_result(as_is.final), person)
    assert flipped.final["notes"] == ["mirrored"] and as_is.final["notes"] == ["not mirrored (flip is false)"]
    assert (flipped.final["width"], flipped.final["height"]) == (person.shape[1], person.shape[0])


@pytest.mark.e2e
def test_its_option_is_documented_and_validated_and_another_engines_option_is_noted(
    mirror_service, person_bytes, garment_bytes
) -> None:
    schema = requests.get(f"{mirror_service.url}/openapi.json", timeout=10).json()
    form = schema["components"]["schemas"]["Body_submit_tryon_api_tryon_post"]["properties"]
    assert form["flip"] == {
        "anyOf": [{"type": "boolean"}, {"type": "null"}],
        "title": "Flip",
        "description": "Mirror the person photo left to right (test engine mirror).",
    }
    assert {"seed", "steps", "mode"} <= set(form)  # every registered engine's options

    refused = submit(mirror_service.url, person_bytes, garment_bytes, flip="sideways")
    assert refused.status_code == 400 and refused.json()["detail"].startswith("flip: "), refused.text

    noted = submit(mirror_service.url, person_bytes, garment_bytes, flip="1", steps="3").json()["job_id"]
    final = poll_until_finished(mirror_service.url, noted).final
    assert final["notes"] == ["mirrored", "steps is not an option of the mirror engine; it was ignored"], final
    assert "steps" not in final  # a FASHN VTON detail: not this engine's


def test_auto_never_picks_an_engine_that_serves_no_real_try_on() -> None:
    """Its runner says it serves a test model, so ``auto`` passes it over for the next engine (in
    process: the choice reads only what the runners say of themselves)."""
    runner = MirrorRunner()
    mirror = MIRROR.build(Settings(), lambda service, api: getattr(runner, api))
    classical = Described("classical")

    chosen, description = choose_engine("auto", {"mirror": mirror, "classical": classical})

    assert chosen is classical and description.passed_over["mirror"].startswith("test model"), description
