"""``num_samples`` on the FASHN engine with its runner in-process (the tiny test model on the CPU): one
``sample`` call carries the job's rows, seeds ``seed``, ``seed+1``, ...; each row is its own picture."""

from __future__ import annotations

import numpy as np
import pytest

from tests.fashn_vton.test_garment_photos import in_process
from tests.models.conftest import temporary_model_store
from tests.conftest import DATA_DIR
from tryon.engines.base import Category, EngineRequest
from tryon.engines.fashn_vton.batching import unpack_requests
from tryon.engines.fashn_vton.options import FashnVtonOptions
from tryon.engines.fashn_vton.engine import SEED_RANGE, FashnVtonEngine, sample_seeds
from tryon.engines.fashn_vton.runner import FashnVtonRunner
from tryon.images import ImageLimits


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    from model_store_scripts.make_test_models import make_test_models

    patch = pytest.MonkeyPatch()
    patch.setenv("TRYON_ENGINE", "fashn-vton")
    with temporary_model_store(tmp_path_factory.mktemp("bentoml")):
        make_test_models(["fashn-vton"])
        try:
            yield FashnVtonRunner()
        finally:
            patch.undo()


class CountedRunner:
    """``runner_api`` over the in-process runner, recording the rows of each ``sample`` call."""

    def __init__(self, runner: FashnVtonRunner) -> None:
        self._api = in_process(runner)
        self.sample_calls: list[list] = []

    def __call__(self, service, name: str):
        call = self._api(service, name)
        if name != "sample":
            return call

        def sample(packed: np.ndarray) -> np.ndarray:
            self.sample_calls.append([request for request, _ in unpack_requests(packed)])
            return call(packed)

        return sample


def request(job_id: str, **options) -> EngineRequest:
    return EngineRequest(
        person_image=(DATA_DIR / "persons" / "studio_woman_jacket.png").read_bytes(),
        clothing_image=(DATA_DIR / "garments" / "tshirt_white.jpg").read_bytes(),
        category=Category.UPPER_BODY,
        options=FashnVtonOptions(steps=2, garment_photo_type="flat-lay", **options),
        job_id=job_id,
    )


def test_num_samples_pictures_come_from_one_sample_call_with_consecutive_seeds(runner) -> None:
    runner_api = CountedRunner(runner)
    engine = FashnVtonEngine(runner_api, limits=ImageLimits())

    result = engine.run(request("job-3", num_samples=3, seed=40), lambda step, fraction=0.0: None)

    (rows,) = runner_api.sample_calls
    assert [(row.request_id, row.seed) for row in rows] == [("job-3", 40), ("job-3#1", 41), ("job-3#2", 42)]
    assert len(result.pictures) == 3 and result.details.seed == 40
    assert result.picture_details == ({"seed": 40}, {"seed": 41}, {"seed": 42})
    first, second, third = result.pictures
    assert first.shape == second.shape == third.shape and first.dtype == np.uint8
    assert not np.array_equal(first, second) and not np.array_equal(second, third)  # each its own noise


def test_one_picture_by_default_and_seeds_wrap_inside_their_range() -> None:
    assert sample_seeds(3, 1) == [3]
    assert sample_seeds(SEED_RANGE - 2, 4) == [SEED_RANGE - 2, SEED_RANGE - 1, 0, 1]
