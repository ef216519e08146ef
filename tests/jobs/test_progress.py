"""A job's progress from the engine's step reports to the store: the documented percentages, each
change written once, the same report checked again only after a while."""

from __future__ import annotations

import pytest

from tryon.engines.base import Step
from tryon.jobs.progress import HELD_CHECK_SECONDS, JobNoLongerHeld, JobProgress


def test_steps_and_fractions_are_written_as_the_documented_percentages_once_each() -> None:
    now = [0.0]
    written: list[tuple[str, int]] = []
    progress = JobProgress(lambda step, percent: written.append((step, percent)) or True, clock=lambda: now[0])

    progress(Step.SEGMENTATION)
    for fraction in (0.0, 0.001, 0.5, 0.5):  # a sampling loop
        progress(Step.INPAINTING, fraction)
    progress(Step.DONE)

    assert written == [("segmentation", 10), ("inpainting", 55), ("inpainting", 70), ("done", 100)]
    assert progress.step is Step.DONE


def test_the_same_report_asks_the_store_again_after_the_held_check_interval() -> None:
    now = [0.0]
    written: list[tuple[str, int]] = []
    progress = JobProgress(lambda step, percent: written.append((step, percent)) or True, clock=lambda: now[0])
    progress(Step.INPAINTING)
    now[0] = HELD_CHECK_SECONDS / 2
    progress(Step.INPAINTING)
    now[0] = HELD_CHECK_SECONDS * 1.5
    progress(Step.INPAINTING)
    assert written == [("inpainting", 55), ("inpainting", 55)]


def test_a_job_no_longer_held_stops_at_its_next_report() -> None:
    progress = JobProgress(lambda step, percent: step != "pose")
    progress(Step.SEGMENTATION)
    with pytest.raises(JobNoLongerHeld):
        progress(Step.POSE)
