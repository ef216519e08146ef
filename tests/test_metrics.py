"""The tryon_* Prometheus metrics: what each call counts, and that they reach a multi-process /metrics."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tryon.jobs import metrics
from tryon.engines.base import Step
from tryon.errors import GarmentNotFound, InvalidImage, NoPersonFound, TryOnError
from tryon.jobs.progress import JobProgress

REPO = Path(__file__).resolve().parents[1]


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_submitted_and_finished_jobs_are_counted() -> None:
    metrics.job_submitted()  # creates the metrics
    before = {
        "submitted": value("tryon_jobs_submitted_total"),
        "completed": value("tryon_jobs_completed_total"),
        "no_person": value("tryon_jobs_failed_total", reason="no_person"),
    }
    metrics.job_submitted()
    metrics.job_submitted()
    metrics.job_finished("completed")
    metrics.job_finished("failed", "no_person")

    assert value("tryon_jobs_submitted_total") == before["submitted"] + 2
    assert value("tryon_jobs_completed_total") == before["completed"] + 1
    assert value("tryon_jobs_failed_total", reason="no_person") == before["no_person"] + 1


def test_every_reason_class_is_exported_from_the_start_and_free_text_is_not_a_label() -> None:
    metrics.job_submitted()
    for reason in metrics.REASON_CLASSES:
        assert REGISTRY.get_sample_value("tryon_jobs_failed_total", {"reason": reason}) is not None
    before = value("tryon_jobs_failed_total", reason="internal")
    metrics.job_finished("failed", "CUDA out of memory while allocating 2.00 GiB")
    assert value("tryon_jobs_failed_total", reason="internal") == before + 1
    assert REGISTRY.get_sample_value(
        "tryon_jobs_failed_total", {"reason": "CUDA out of memory while allocating 2.00 GiB"}
    ) is None
    with pytest.raises(ValueError, match="completed"):
        metrics.job_finished("processing")


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (NoPersonFound("No person found in the photo."), "no_person"),
        (GarmentNotFound("The garment blends into its background."), "garment_not_found"),
        (InvalidImage("Unsupported image type: image/gif"), "invalid_image"),
        (TryOnError("Shoulders not visible."), "rejected"),
        (RuntimeError("boom"), "internal"),
        (TimeoutError(), "timeout"),
        ("The job took longer than the time limit of 300 s and was stopped.", "timeout"),
        ("The job was cancelled.", "cancelled"),
        ("Gave up after 3 attempts: the service stopped while running this job.", "gave_up"),
        ("The warp step failed unexpectedly (ValueError); the server log has the details.", "internal"),
        (None, "internal"),
    ],
)
def test_reason_class_maps_errors_to_a_few_short_labels(error, reason: str) -> None:
    assert metrics.reason_class(error) == reason
    assert reason in metrics.REASON_CLASSES


def test_step_durations_go_into_a_histogram_per_step() -> None:
    before_count = value("tryon_step_duration_seconds_count", step="warp")
    before_sum = value("tryon_step_duration_seconds_sum", step="warp")
    metrics.observe_step("warp", 0.07)
    metrics.observe_step("warp", 0.03)
    metrics.observe_step("blend", 0.002)
    assert value("tryon_step_duration_seconds_count", step="warp") == before_count + 2
    assert value("tryon_step_duration_seconds_sum", step="warp") == pytest.approx(before_sum + 0.1)
    assert value("tryon_step_duration_seconds_bucket", step="blend", le="0.005") >= 1
    with pytest.raises(ValueError, match="negative"):
        metrics.observe_step("pose", -1)


def test_a_jobs_progress_turns_its_steps_into_durations() -> None:
    ticks = iter([10.0, 10.2, 10.5, 12.0])
    progress = JobProgress(lambda step, percent: True, clock=lambda: next(ticks))
    before = {step: value("tryon_step_duration_seconds_sum", step=step) for step in ("pose", "warp")}
    progress(Step.POSE)
    progress(Step.POSE, 0.5)  # within the step: no duration yet
    progress(Step.WARP)  # pose took 0.5 s
    progress(Step.DONE)  # warp took 1.5 s
    assert value("tryon_step_duration_seconds_sum", step="pose") == pytest.approx(before["pose"] + 0.5)
    assert value("tryon_step_duration_seconds_sum", step="warp") == pytest.approx(before["warp"] + 1.5)


def test_queue_depth_exposition_is_valid_prometheus_text() -> None:
    [family] = text_string_to_metric_families(metrics.queue_depth_exposition(7))
    assert (family.name, family.type) == ("tryon_queue_depth", "gauge")
    assert family.samples[0].value == 7
    with pytest.raises(ValueError):
        metrics.queue_depth_exposition(-1)


def test_metrics_reach_a_multiprocess_collector_like_bentomls_metrics_endpoint(tmp_path: Path) -> None:
    """A server process (PROMETHEUS_MULTIPROC_DIR set, as BentoML does) counts; another process reads."""
    script = (
        "from tryon.jobs import metrics\n"
        "metrics.job_submitted(); metrics.job_submitted()\n"
        "metrics.job_finished('completed'); metrics.job_finished('failed', 'no_person')\n"
        "metrics.observe_step('segmentation', 0.02)\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, check=True, timeout=60)

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    }
    assert samples[("tryon_jobs_submitted_total", ())] == 2
    assert samples[("tryon_jobs_completed_total", ())] == 1
    assert samples[("tryon_jobs_failed_total", (("reason", "no_person"),))] == 1
    assert samples[("tryon_jobs_failed_total", (("reason", "timeout"),))] == 0
    assert samples[("tryon_step_duration_seconds_count", (("step", "segmentation"),))] == 1
