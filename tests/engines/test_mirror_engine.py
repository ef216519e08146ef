"""A new engine is one folder and one registry row: the test-only mirror engine, served end to end."""

from __future__ import annotations

import numpy as np
import pytest
import requests

from tests.e2e.helpers import decode_result, poll_until_finished, submit
from tests.e2e.served import ServedService
from tryon.images import ImageLimits, decode_image

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def mirror_service(tmp_path_factory: pytest.TempPathFactory):
    served = ServedService(
        tmp_path_factory.mktemp("mirror"), target="tests.engines.mirror_service:TryOnService", TRYON_ENGINE="mirror"
    ).start(timeout=180)
    yield served
    served.stop()


def test_a_registered_engine_serves_jobs_when_chosen(mirror_service, person_bytes, garment_bytes) -> None:
    health = requests.get(f"{mirror_service.url}/health", timeout=10).json()
    assert health["engine"] == "mirror", health
    assert health["engines"] == {"inpainting": "MirrorRunner (numpy, left to right)"}

    poll = poll_until_finished(mirror_service.url, submit(mirror_service.url, person_bytes, garment_bytes).json()["job_id"])

    assert poll.final["status"] == "completed", poll.final
    person = decode_image("person_image", person_bytes, ImageLimits())
    np.testing.assert_array_equal(decode_result(poll.final), person[:, ::-1])
    assert poll.final["notes"] == ["mirrored (options: {})"]  # category and webhook_url are not options


def test_auto_never_picks_an_engine_that_serves_no_real_try_on(tmp_path) -> None:
    served = ServedService(tmp_path, target="tests.engines.mirror_service:TryOnService", TRYON_ENGINE="auto")
    try:
        health = requests.get(f"{served.start(timeout=180).url}/health", timeout=10).json()
    finally:
        served.stop()
    assert health["engine"] == "classical", health
