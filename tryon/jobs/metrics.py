"""Prometheus metrics of the try-on service, served with BentoML's own at ``/metrics``.

BentoML 1.4 starts every server process with ``PROMETHEUS_MULTIPROC_DIR`` set and answers
``/metrics`` by aggregating that directory (``MultiProcessCollector``), so metrics made with plain
``prometheus_client`` in the service's process show up there; ``bentoml.metrics`` is only a
deprecated alias of ``prometheus_client``. The metrics are created by ``init()`` or on first use,
never at import: ``prometheus_client`` picks single- or multi-process storage when it is first
imported, and the service module may be imported before BentoML has set the directory.

Multi-process storage cannot call a function at scrape time, so the queue depth, which lives in the
job store and is shared by every replica, is rendered by the service's ``__metrics__`` hook with
``queue_depth_exposition``.

Metrics (all ``tryon_*``):

- ``tryon_jobs_submitted_total``: jobs accepted (202).
- ``tryon_jobs_completed_total``: jobs that produced a result.
- ``tryon_jobs_failed_total{reason}``: failed jobs by reason class (``REASON_CLASSES``).
- ``tryon_step_duration_seconds{step}``: wall time of each pipeline step.
- ``tryon_queue_depth``: jobs waiting for a worker, read from the job store at scrape time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from ..engines.base import Step
from ..errors import GarmentNotFound, InvalidImage, NoPersonFound, TryOnError

STEPS = tuple(step.value for step in Step if step is not Step.DONE)
STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

REASON_CLASSES = (
    "no_person",  # the person photo shows nobody the pipeline can dress
    "garment_not_found",  # the garment cannot be cut out of its photo
    "invalid_image",  # an input the pipeline could not use
    "rejected",  # any other readable domain error (TryOnError)
    "timeout",  # past the job time limit
    "cancelled",  # cancelled by a client or an operator
    "gave_up",  # the service died while running it too many times
    "internal",  # an unexpected error (the server log has the traceback)
)
"""The values of the ``reason`` label: short and few, never the free-text message."""


@dataclass(frozen=True)
class _Metrics:
    submitted: Any
    completed: Any
    failed: Any
    step_seconds: Any


_lock = threading.Lock()
_metrics: _Metrics | None = None


def _get() -> _Metrics:
    """The metric objects, created (and every label value set to 0) on first use."""
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                from prometheus_client import Counter, Histogram

                metrics = _Metrics(
                    submitted=Counter("tryon_jobs_submitted", "Try-on jobs accepted (HTTP 202)."),
                    completed=Counter("tryon_jobs_completed", "Try-on jobs that produced a result."),
                    failed=Counter(
                        "tryon_jobs_failed", "Try-on jobs that failed, by reason class.", ["reason"]
                    ),
                    step_seconds=Histogram(
                        "tryon_step_duration_seconds",
                        "Wall time of each pipeline step.",
                        ["step"],
                        buckets=STEP_BUCKETS,
                    ),
                )
                for reason in REASON_CLASSES:
                    metrics.failed.labels(reason=reason)
                for step in STEPS:
                    metrics.step_seconds.labels(step=step)
                _metrics = metrics
    return _metrics


def init() -> None:
    """Create the metrics now (idempotent), so ``/metrics`` lists them at zero before the first job.

    Call it in the service's ``__init__``: BentoML has set ``PROMETHEUS_MULTIPROC_DIR`` by then.
    """
    _get()


def job_submitted() -> None:
    """Count a job accepted by ``POST /api/tryon`` or the task endpoint."""
    _get().submitted.inc()


def job_finished(status: str, reason_class: str | None = None) -> None:
    """Count a job that ended: ``status`` is ``completed`` or ``failed``.

    ``reason_class`` is one of ``REASON_CLASSES`` (use ``reason_class()`` to get it from the
    exception or the stored error text); anything else is counted as ``internal``.
    """
    if status == "completed":
        _get().completed.inc()
    elif status == "failed":
        reason = reason_class if reason_class in REASON_CLASSES else "internal"
        _get().failed.labels(reason=reason).inc()
    else:
        raise ValueError(f"status must be 'completed' or 'failed', not {status!r}")


def observe_step(step: str, seconds: float) -> None:
    """Record how long one pipeline step took."""
    if seconds < 0:
        raise ValueError(f"a step cannot take a negative time ({seconds} s for {step})")
    _get().step_seconds.labels(step=step).observe(seconds)


def reason_class(error: BaseException | str | None) -> str:
    """The ``reason`` label for a failure: from the exception when there is one, else its text.

    The text rules match the messages the job store and the worker pool write themselves
    (time limit, cancellation, gave up after N attempts, unexpected step failure).
    """
    if isinstance(error, NoPersonFound):
        return "no_person"
    if isinstance(error, GarmentNotFound):
        return "garment_not_found"
    if isinstance(error, InvalidImage):
        return "invalid_image"
    if isinstance(error, TryOnError):
        return "rejected"
    if isinstance(error, TimeoutError):
        return "timeout"
    if isinstance(error, BaseException) or not error:
        return "internal"
    text = error.lower()
    if "time limit" in text or "timed out" in text:
        return "timeout"
    if "cancel" in text:
        return "cancelled"
    if text.startswith("gave up after"):
        return "gave_up"
    return "internal"


def queue_depth_exposition(queued: int) -> str:
    """``tryon_queue_depth`` in Prometheus text format, to append in the service's ``__metrics__``."""
    if queued < 0:
        raise ValueError(f"the queue depth cannot be negative ({queued})")
    return (
        "# HELP tryon_queue_depth Try-on jobs queued and waiting for a worker (all replicas).\n"
        "# TYPE tryon_queue_depth gauge\n"
        f"tryon_queue_depth {int(queued)}\n"
    )
