"""``JobRunner`` start-up: the workers wait for the models, and ``on_ready`` runs just before them."""

from __future__ import annotations

import threading
from pathlib import Path

from tryon.core import JobRunner
from tryon.jobs import JobInputs, JobStatus
from tryon.settings import Settings


class WarmingEngine:
    """Its models answer from the third warm-up on, as runners still loading would."""

    engines = {"segmentation": "test"}

    def __init__(self) -> None:
        self.warm_ups = 0

    def warm_up(self) -> None:
        self.warm_ups += 1
        if self.warm_ups < 3:
            raise ConnectionError("runner not ready")


def test_on_ready_runs_once_the_models_answer_and_before_the_workers(tmp_path: Path) -> None:
    engine = WarmingEngine()
    runner = JobRunner(Settings(data_dir=tmp_path), engine)
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
