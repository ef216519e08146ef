"""``JobWorkers`` start-up: the workers wait for the models, and ``on_ready`` runs just before them."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from tryon.service.job_workers import JobWorkers
from tryon.engines.base import EngineDescription, EngineRequest, EngineResult, Step
from tryon.images import encode_png
from tryon.jobs import JobInputs, JobStatus
from tryon.settings import Settings
from tryon.service.parts import build_job_store, build_result_publisher


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
        return EngineResult(png=encode_png(np.zeros((2, 3, 3), np.uint8)), details={"category": request.category.value})


def job_workers(data_dir: Path, warming: WarmingEngine, **settings_values: str) -> JobWorkers:
    settings = Settings(data_dir=data_dir, **settings_values)
    return JobWorkers(
        settings, {warming.name: warming}, store=build_job_store(settings), results=build_result_publisher(settings)
    )


def test_an_unknown_engine_name_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="TRYON_ENGINE must be 'auto' or one of warming; got 'nope'"):
        job_workers(tmp_path, WarmingEngine(), engine="nope")


def test_on_ready_runs_once_the_models_answer_and_before_the_workers(tmp_path: Path) -> None:
    engine = WarmingEngine()
    workers = job_workers(tmp_path, engine)
    workers.store.create("queued-before-start", JobInputs(b"person", b"garment", {}))
    seen = []
    ready = threading.Event()

    def on_ready() -> None:
        seen.append((engine.warm_ups, workers.models_loaded, workers.store.get("queued-before-start").status))
        ready.set()

    workers.start(on_ready=on_ready)
    try:
        assert ready.wait(10)
        assert seen == [(3, True, JobStatus.QUEUED)]  # no worker has claimed the job yet
    finally:
        workers.stop()


def test_a_job_reaches_the_engine_as_a_request_and_its_progress_as_percentages(tmp_path: Path) -> None:
    workers = job_workers(tmp_path, WarmingEngine())
    workers.engine = workers.engines["warming"]
    reports: list[tuple[str, int]] = []

    result = workers._run_job(
        "job-1",
        JobInputs(b"person", b"garment", {"category": "dresses", "webhook_url": "https://example.com/hook"}),
        lambda step, progress: reports.append((step, progress)),
    )

    assert reports == [
        ("segmentation", 10), ("inpainting", 55), ("inpainting", 55), ("inpainting", 70), ("inpainting", 70), ("done", 100)
    ]  # fmt: skip
    assert result.details == {"category": "dresses", "width": 3, "height": 2}  # the size read from the PNG
