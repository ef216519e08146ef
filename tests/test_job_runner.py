"""``JobRunner`` start-up: the workers wait for the models, and ``on_ready`` runs just before them."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from tryon.core import JobRunner
from tryon.engines.base import EngineDescription, EngineRequest, EngineResult, Step
from tryon.jobs import JobInputs, JobStatus
from tryon.settings import Settings
from tryon.wiring import build_job_store, build_result_publisher


class WarmingEngine:
    """Its models answer from the third warm-up on, as runners still loading would."""

    name = "warming"

    def __init__(self) -> None:
        self.warm_ups = 0

    def warm_up(self) -> None:
        self.warm_ups += 1
        if self.warm_ups < 3:
            raise ConnectionError("runner not ready")

    def describe(self) -> EngineDescription:
        return EngineDescription(engine=self.name, available=True, reason="test", steps={"segmentation": "test"})

    def run(self, request: EngineRequest, on_progress) -> EngineResult:
        on_progress(Step.SEGMENTATION)
        for fraction in (0.0, 0.001, 0.5, 0.5):  # a sampling loop (the worker pool writes changes only)
            on_progress(Step.INPAINTING, fraction)
        on_progress(Step.DONE)
        self.options = dict(request.options)
        pictures = tuple(np.full((2, 3, 3), index, np.uint8) for index in range(int(request.options.get("num_samples", 1))))
        return EngineResult(pictures=pictures, details={"category": request.category.value})


def job_runner(data_dir: Path, warming: WarmingEngine, **settings_values: str) -> JobRunner:
    settings = Settings(data_dir=data_dir, **settings_values)
    return JobRunner(
        settings, {warming.name: warming}, store=build_job_store(settings), results=build_result_publisher(settings)
    )


def test_an_unknown_engine_name_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="TRYON_ENGINE must be 'auto' or one of warming; got 'nope'"):
        job_runner(tmp_path, WarmingEngine(), engine="nope")


def test_on_ready_runs_once_the_models_answer_and_before_the_workers(tmp_path: Path) -> None:
    engine = WarmingEngine()
    runner = job_runner(tmp_path, engine)
    runner.store.create("queued-before-start", JobInputs(b"person", b"garment", {}))
    seen = []
    ready = threading.Event()

    def on_ready() -> None:
        seen.append((engine.warm_ups, runner.models_loaded, runner.store.get("queued-before-start").status))
        ready.set()

    runner.start(on_ready=on_ready)
    try:
        assert ready.wait(10)
        assert seen == [(3, True, JobStatus.QUEUED)]  # no worker has claimed the job yet
    finally:
        runner.stop()


def test_a_job_reaches_the_engine_as_a_request_and_its_progress_as_percentages(tmp_path: Path) -> None:
    runner = job_runner(tmp_path, WarmingEngine())
    runner.engine = runner.engines["warming"]
    reports: list[tuple[str, int]] = []

    result = runner._run_job(
        "job-1",
        JobInputs(b"person", b"garment", {"category": "dresses", "webhook_url": "https://example.com/hook"}),
        lambda step, progress: reports.append((step, progress)),
    )

    assert reports == [
        ("segmentation", 10), ("inpainting", 55), ("inpainting", 55), ("inpainting", 70), ("inpainting", 70), ("done", 100)
    ]  # fmt: skip
    assert result.details == {"category": "dresses", "width": 3, "height": 2}  # the pictures' size


def test_a_jobs_pictures_are_encoded_once_in_its_output_format(tmp_path: Path) -> None:
    runner = job_runner(tmp_path, WarmingEngine())
    runner.engine = runner.engines["warming"]
    options = {"category": "auto", "num_samples": 3, "output_format": "webp", "output_quality": 75}

    result = runner._run_job("job-2", JobInputs(b"person", b"garment", options), lambda step, progress: None)

    assert runner.engine.options == {"num_samples": 3}  # the service encodes: the engine never sees the format
    assert len(result.pictures) == 3
    assert all(picture.data[:4] == b"RIFF" and picture.data[8:12] == b"WEBP" for picture in result.pictures)
