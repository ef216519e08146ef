"""The job store interface. Every implementation passes ``tests/jobs/test_store_contract.py``."""

from __future__ import annotations

import abc
import logging
import time

from .records import JobInputs, JobRecord, JobResult


log = logging.getLogger(__name__)

FULL_REPORT_SECONDS = 60.0
"""How long a write refused for lack of space is reported (``full_reason``), and how often logged."""


class StoreFull(Exception):
    """A write was refused for lack of space: the disk under SQLite is full, or Redis is out of
    memory or cannot persist. Nothing changed; the same call succeeds once space is freed."""


class QueueFull(Exception):
    """``create`` refused a job: ``queued`` jobs are waiting already, the most allowed."""

    def __init__(self, queued: int) -> None:
        super().__init__(f"{queued} jobs are queued already")
        self.queued = queued


class JobStore(abc.ABC):
    """Durable job records plus a queue with leases.

    A worker ``claim``s a queued job and holds a lease on it, renewed as the job advances. When a
    lease runs out (the worker's process died), the job is queued work again for any worker; after
    ``max_attempts`` claims it is failed with a reason instead, so no job runs or waits forever.
    Updates from a worker that lost its lease are refused, so a record never goes backwards.
    """

    @abc.abstractmethod
    def create(self, job_id: str, inputs: JobInputs, *, max_queued: int | None = None) -> JobRecord:
        """Record a new queued job.

        With ``max_queued``, raises ``QueueFull`` instead when that many jobs are queued already.
        Counting and adding are one atomic step, for every caller of the store in every process, so
        a burst of concurrent submits cannot pass the limit.
        """

    @abc.abstractmethod
    def get(self, job_id: str) -> JobRecord | None:
        """The job's current record, or None for an unknown id."""

    @abc.abstractmethod
    def claim(self, worker_id: str) -> tuple[JobRecord, JobInputs] | None:
        """Take the oldest runnable job (queued, or whose lease expired) for ``worker_id``."""

    @abc.abstractmethod
    def advance(self, job_id: str, worker_id: str, *, step: str, progress: int) -> bool:
        """Record the step a running job started and renew its lease; False if the lease was lost."""

    @abc.abstractmethod
    def renew(self, job_ids: list[str], worker_id: str) -> None:
        """Extend the leases ``worker_id`` holds on these running jobs."""

    @abc.abstractmethod
    def complete(self, job_id: str, worker_id: str, result: JobResult) -> bool:
        """Store the result of a job the worker holds; its inputs are dropped. False if not held."""

    @abc.abstractmethod
    def fail(self, job_id: str, worker_id: str, error: str) -> bool:
        """Fail a job the worker holds with a readable reason; its inputs are dropped."""

    @abc.abstractmethod
    def cancel(self, job_id: str, reason: str) -> bool:
        """Fail a queued or running job with ``reason``, whoever holds it; False if it has ended.

        A worker running it finds out at its next ``advance`` (refused) and abandons the job.
        """

    @abc.abstractmethod
    def purge_finished(self, older_than_seconds: float) -> int:
        """Delete completed and failed jobs last updated longer ago than this; returns how many."""

    @abc.abstractmethod
    def counts(self) -> dict[str, int]:
        """How many jobs are in each status (every ``JobStatus`` value is a key)."""

    def close(self) -> None:
        """Release connections."""

    _last_full: float | None = None  # time.monotonic() of the last write refused for lack of space
    _last_full_reason = ""
    _last_full_logged: float | None = None

    @property
    def full_reason(self) -> str | None:
        """Why a write was refused for lack of space in the last ``FULL_REPORT_SECONDS``, else None."""
        if self._last_full is None or time.monotonic() - self._last_full > FULL_REPORT_SECONDS:
            return None
        return self._last_full_reason

    def _refused_for_space(self, reason: str) -> StoreFull:
        """The ``StoreFull`` to raise: remembered for ``full_reason``, logged once per interval
        (not once per attempt: idle workers retry every half second)."""
        now = time.monotonic()
        self._last_full, self._last_full_reason = now, reason
        if self._last_full_logged is None or now - self._last_full_logged >= FULL_REPORT_SECONDS:
            self._last_full_logged = now
            log.warning(
                "job store full: %s; new jobs are refused with 503 and queued jobs wait until space "
                "is freed (logged once every %.0f s while it lasts)", reason, FULL_REPORT_SECONDS,
            )
        return StoreFull(reason)
