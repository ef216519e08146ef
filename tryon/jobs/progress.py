"""A running job's progress: from the engine's step reports to the store, and each step's time to /metrics."""

from __future__ import annotations

import time
from typing import Callable

from . import metrics
from ..engines.base import ProgressCallback, Step, progress_percent

# A job reporting the same step and progress again is checked against the store this often (a
# cancel from any replica reaches its worker thread within it); a change is written at once.
HELD_CHECK_SECONDS = 0.5


class JobNoLongerHeld(Exception):
    """The job was cancelled, timed out, or taken over by another worker; stop working on it."""


class JobProgress:
    """The engine's ``ProgressCallback`` for one job: ``progress(step, fraction)``.

    The engine calls it as each documented ``Step`` starts and, within a step, as often as it likes
    with the ``fraction`` in [0, 1) done. A new step or percentage is written to the store through
    ``advance(step_name, percent)`` at once; the same again at most every ``HELD_CHECK_SECONDS``.
    When a step starts, the one before it is observed in ``tryon_step_duration_seconds``. Raises
    ``JobNoLongerHeld`` once ``advance`` says the job is no longer this worker's.
    """

    def __init__(self, advance: Callable[[str, int], bool], clock: Callable[[], float] = time.monotonic) -> None:
        self._advance = advance
        self._clock = clock
        self.step: Step | None = None  # the step under way, None before the first
        self._step_started = 0.0
        self._written: tuple[tuple[Step, int], float] | None = None  # (step, percent), when

    def __call__(self, step: Step, fraction: float = 0.0) -> None:
        self._report(step, progress_percent(step, fraction))

    def part(self, start: int, end: int) -> ProgressCallback:
        """The ``ProgressCallback`` of one pass of a job that runs its engine more than once (a whole
        outfit): each step's figure scaled into ``[start, end]`` percent; a pass that ends before 100
        reports no ``DONE`` (the job goes on)."""

        def report(step: Step, fraction: float = 0.0) -> None:
            if step is not Step.DONE or end >= 100:
                self._report(step, start + progress_percent(step, fraction) * (end - start) // 100)

        return report

    def _report(self, step: Step, percent: int) -> None:
        now = self._clock()
        if step is not self.step:
            if self.step is not None:
                metrics.observe_step(self.step.value, now - self._step_started)
            self.step, self._step_started = step, now
        state = (step, percent)
        if self._written is not None and self._written[0] == state and now - self._written[1] < HELD_CHECK_SECONDS:
            return
        self._written = (state, now)
        if not self._advance(step.value, state[1]):
            raise JobNoLongerHeld()
