"""``JobWorkers`` start-up: the workers wait for the models, and ``on_ready`` runs just before them."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from pydantic import Field

from tryon.service.job_workers import JobWorkers
from tryon.engines import registry
from tryon.engines.base import Category, EngineDescription, EngineDetails, EngineOptions, EngineRequest, EngineResult
from tryon.engines.base import EngineSpec, Step
from tryon.jobs import JobInputs, JobStatus
from tryon.settings import Settings
from tryon.service.parts import build_job_store, build_result_publisher


class WarmingEngine:
    """Its models answer from the third warm-up on, as runners still loading would."""

    name = "warming"

    def __init__(self) -> None:
        self.warm_ups = 0
        self.requests: list[EngineRequest] = []

    def warm_up(self) -> None:
        self.warm_ups += 1
        if self.warm_ups < 3:
            raise ConnectionError("runner not ready")

    def describe(self) -> EngineDescription:
        return EngineDescription(engine=self.name, available=True, reason="test", steps={"segmentation": "test"})

    def run(self, request: EngineRequest, on_progress) -> EngineResult:
        self.requests.append(request)
        on_progress(Step.SEGMENTATION)
        on_progress(Step.DONE)
        return EngineResult(
            pictures=tuple(np.full((2, 3, 3), index, np.uint8) for index in range(request.options.pictures)),
            category=Category.DRESSES,
            notes=("warmed",),
            details=WarmingDetails(warmth=request.options.warmth * 2),
        )


class WarmingOptions(EngineOptions):
    warmth: int = Field(default=1, ge=0)
    pictures: int = Field(default=1, ge=1)


class WarmingDetails(EngineDetails):
    warmth: int


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


@pytest.fixture
def registered_warming(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = EngineSpec("warming", "", (), build=None, options=WarmingOptions, details=WarmingDetails)
    monkeypatch.setattr(registry, "_engines", [spec, *registry.engines()])


def test_a_job_reaches_the_engine_with_its_typed_options_and_the_answer_notes_what_it_does_not_take(
    tmp_path: Path, registered_warming: None
) -> None:
    engine = WarmingEngine()
    workers = job_workers(tmp_path, engine)
    workers.engine = engine
    steps: list[Step] = []
    sent = {"category": "dresses", "webhook_url": "https://example.com/hook", "engine_options": {"warmth": 4, "steps": 12}}

    result = workers._run_job("job-1", JobInputs(b"person", b"garment", sent), lambda step, fraction=0.0: steps.append(step))

    (request,) = engine.requests
    assert request.category is Category.DRESSES and request.job_id == "job-1"
    assert request.options == WarmingOptions(warmth=4)  # typed; steps is not its option
    assert steps == [Step.SEGMENTATION, Step.DONE]
    assert result.details == {
        "category": "dresses",
        "notes": ["warmed", "steps is not an option of the warming engine; it was ignored"],
        "width": 3,
        "height": 2,  # as the engine said: the PNG is not read again
        "warmth": 8,
    }


def test_an_option_left_out_takes_the_engines_default(tmp_path: Path, registered_warming: None) -> None:
    engine = WarmingEngine()
    workers = job_workers(tmp_path, engine)
    workers.engine = engine

    result = workers._run_job("job-2", JobInputs(b"person", b"garment", {}), lambda step, fraction=0.0: None)

    assert engine.requests[0].options == WarmingOptions(warmth=1) and engine.requests[0].category is Category.AUTO
    assert result.details["notes"] == ["warmed"]


def test_a_jobs_pictures_are_encoded_once_in_its_output_format(tmp_path: Path, registered_warming: None) -> None:
    engine = WarmingEngine()
    workers = job_workers(tmp_path, engine)
    workers.engine = engine
    sent = {"category": "auto", "engine_options": {"pictures": 3}, "output_format": "webp", "output_quality": 75}

    result = workers._run_job("job-3", JobInputs(b"person", b"garment", sent), lambda step, fraction=0.0: None)

    assert engine.requests[0].options == WarmingOptions(pictures=3)  # the service encodes: no format here
    assert len(result.pictures) == 3
    assert all(picture.data[:4] == b"RIFF" and picture.data[8:12] == b"WEBP" for picture in result.pictures)
