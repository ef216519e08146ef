"""FashnVtonRunner in-process on the CPU with the tiny test model: batching and grouping, out-of-memory
splitting and recovery, the start-up checks and settings."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest
import torch

from tests.models.conftest import temporary_model_store
from tryon.engines.fashn_vton.batching import SamplingRequest, pack_request, unpack_result
from tryon.engines.fashn_vton.inputs import CANVAS_HEIGHT, CANVAS_WIDTH, TryOnRequest, prepare_canvases
from tryon.engines.fashn_vton.pose_source import MEDIAPIPE
from tryon.engines.fashn_vton.runner import FashnVtonRunner, probe_cuda
from tryon.models.store import MissingModelError
from tryon.vision.batching import OUT_OF_MEMORY, sample_fitting_memory
from tryon.vision.keypoints import Keypoints


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from model_store_scripts.make_test_models import make_test_models

    with temporary_model_store(tmp_path_factory.mktemp("bentoml")) as home:
        make_test_models(["fashn-vton"])
        yield home


@pytest.fixture()
def start_runner(store, monkeypatch):
    def start(**settings: str) -> FashnVtonRunner:
        monkeypatch.setenv("TRYON_ENGINE", "fashn-vton")
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        return FashnVtonRunner()

    return start


@pytest.fixture(scope="module")
def runner(store) -> FashnVtonRunner:
    patch = pytest.MonkeyPatch()
    patch.setenv("TRYON_ENGINE", "fashn-vton")
    try:
        yield FashnVtonRunner()
    finally:
        patch.undo()


def packed(request_id: str, seed: int, num_steps: int = 2, guidance_scale: float = 1.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    person = rng.integers(0, 256, (300, 200, 3), dtype=np.uint8)
    garment = rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)
    request = TryOnRequest(person, garment, "tops", Keypoints.none_seen(), garment_photo_type="flat-lay")
    (canvas,) = prepare_canvases([request], CANVAS_HEIGHT, CANVAS_WIDTH)
    return pack_request(SamplingRequest(request_id, "tops", seed, num_steps, guidance_scale), canvas)


def test_requests_with_different_settings_are_grouped_and_each_gets_its_own_picture(runner) -> None:
    rows = [packed("a", 1), packed("b", 2, num_steps=3), packed("c", 3), packed("d", 4, guidance_scale=2.0)]
    batch = [unpack_result(row) for row in runner.sample(np.concatenate(rows))]

    assert all(isinstance(picture, np.ndarray) and picture.shape == (CANVAS_HEIGHT, CANVAS_WIDTH, 3) for picture in batch)
    assert runner.progress_board.get("a") == (2, 2) and runner.progress_board.get("b") == (3, 3)
    alone = unpack_result(runner.sample(packed("c alone", 3))[0])  # "c" was grouped with "a"; now alone
    assert np.abs(alone.astype(int) - batch[2]).max() <= 1
    assert np.mean(alone != batch[2]) < 0.005
    assert not np.array_equal(batch[0], batch[2])  # own seeds, own pictures


class FakeModel:
    """Samples a batch as the runner would, but raises CUDA's out-of-memory error for batches over ``fits``."""

    def __init__(self, fits: int) -> None:
        self.fits = fits
        self.batches: list[int] = []
        self.freed = 0

    def sample(self, items):
        self.batches.append(len(items))
        if len(items) > self.fits:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return [f"picture {item}" for item in items]

    def free(self) -> None:
        self.freed += 1


def test_a_batch_that_does_not_fit_is_halved_until_it_does() -> None:
    model = FakeModel(fits=2)
    results = sample_fitting_memory(list(range(7)), model.sample, free_memory=model.free)
    assert results == [f"picture {item}" for item in range(7)]
    assert model.batches == [7, 4, 2, 2, 3, 2, 1]
    assert model.freed == 3  # after each out-of-memory error (7, 4 and 3)


def test_a_request_that_never_fits_fails_alone_with_a_reason() -> None:
    model = FakeModel(fits=0)
    assert sample_fitting_memory(["x"], model.sample, free_memory=model.free) == [OUT_OF_MEMORY]
    assert OUT_OF_MEMORY.startswith("The GPU ran out of memory for this image (CUDA out of memory);")


def test_the_runner_recovers_from_out_of_memory(runner, monkeypatch) -> None:
    """Batches over one request run out of memory: each request is sampled alone; then every call
    runs out: that job fails with the reason, and the next call succeeds again."""
    sample_canvases = runner.pipeline.sample_canvases
    fits = {"rows": 1}

    def tight_memory(canvases, *args, **kwargs):
        if len(canvases) > fits["rows"]:
            raise torch.OutOfMemoryError("CUDA out of memory.")
        return sample_canvases(canvases, *args, **kwargs)

    monkeypatch.setattr(runner.pipeline, "sample_canvases", tight_memory)
    split = [unpack_result(row) for row in runner.sample(np.concatenate([packed("e", 5), packed("f", 6)]))]
    assert all(isinstance(picture, np.ndarray) for picture in split)

    fits["rows"] = 0
    assert unpack_result(runner.sample(packed("g", 7))[0]) == OUT_OF_MEMORY
    fits["rows"] = 1
    assert isinstance(unpack_result(runner.sample(packed("h", 8))[0]), np.ndarray)


def test_describe_names_the_model_licence_and_pose_source(runner) -> None:
    described = asyncio.run(runner.describe())
    assert described["available"] is True and described["model_tag"].startswith("fashn-vton:")
    assert described["license"] == "apache-2.0" and described["test_model"] is True
    assert described["steps"]["pose"] == MEDIAPIPE  # no DWPose files in the test model
    assert described["device"] == "cpu" and described["dtype"] == "float32"


def test_a_cuda_device_that_fails_or_hangs_is_reported_not_waited_for() -> None:
    def busy() -> None:
        raise RuntimeError("CUDA error: all CUDA-capable devices are busy or unavailable")

    assert "all CUDA-capable devices are busy" in probe_cuda(busy)
    started = time.monotonic()
    assert "did not answer within 0 s" in probe_cuda(threading.Event().wait, timeout=0.2)
    assert time.monotonic() - started < 5
    assert probe_cuda(lambda: None) is None


def test_the_attention_setting_is_applied_to_sampling(start_runner) -> None:
    runner = start_runner(TRYON_FASHN_ATTENTION="math")
    seen = []
    runner.pipeline.transformer.register_forward_pre_hook(
        lambda *_: seen.append((torch.backends.cuda.math_sdp_enabled(), torch.backends.cuda.flash_sdp_enabled()))
    )
    runner.sample(packed("i", 9, num_steps=1))
    assert seen and all(state == (True, False) for state in seen)  # math only, inside the loop
    assert torch.backends.cuda.flash_sdp_enabled()  # and only there


def test_an_attention_backend_the_device_cannot_run_stops_start_up(start_runner) -> None:
    with pytest.raises(ValueError, match="TRYON_FASHN_ATTENTION=efficient: that attention backend cannot run on cpu"):
        start_runner(TRYON_FASHN_ATTENTION="efficient")
    with pytest.raises(ValueError, match="fashn_attention"):
        start_runner(TRYON_FASHN_ATTENTION="fastest")


@pytest.mark.e2e  # slow (10-60 s on 2 cores): left to the full run
def test_the_compile_setting_compiles_the_transformer(start_runner, monkeypatch) -> None:
    compiled = []
    monkeypatch.setattr(torch, "compile", lambda module: compiled.append(module) or module)
    runner = start_runner(TRYON_FASHN_COMPILE="true")
    assert compiled == [runner.pipeline.transformer]
    assert start_runner(TRYON_FASHN_COMPILE="false") and len(compiled) == 1
    with pytest.raises(ValueError, match="fashn_compile"):
        start_runner(TRYON_FASHN_COMPILE="sometimes")


def test_a_configured_model_missing_from_the_store_is_a_start_up_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TRYON_ENGINE", "fashn-vton")
    with temporary_model_store(tmp_path / "bentoml"):
        with pytest.raises(MissingModelError, match="model_store_scripts/import_models.py fashn-vton"):
            FashnVtonRunner()


def test_auto_leaves_a_test_model_unloaded(store, monkeypatch) -> None:
    monkeypatch.setenv("TRYON_ENGINE", "auto")
    runner = FashnVtonRunner()
    assert runner.pipeline is None and "test model" in runner.reason
