"""Threads that take queued jobs from the store and run them, holding a lease on each."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from typing import Callable

from . import metrics
from ..errors import TryOnError
from .progress import JobNoLongerHeld, JobProgress
from .records import JobInputs, JobResult
from .store import JobStore, StoreFull

log = logging.getLogger(__name__)

JobFunction = Callable[[str, JobInputs, JobProgress], JobResult]
"""Runs one job's work, reporting its steps to the ``JobProgress``, and returns its result; raises
``TryOnError`` for a readable failure."""


NO_ROOM_FOR_RESULT = (
    "The try-on finished, but there was no space left to store the result (the job store is full); "
    "submit the job again later."
)


class WorkerPool:
    """``concurrency`` threads that claim and run jobs, plus one that renews their leases."""

    def __init__(
        self,
        store: JobStore,
        run_job: JobFunction,
        *,
        concurrency: int,
        lease_seconds: float,
        poll_seconds: float = 0.5,
        retention_seconds: float | None = None,
        job_timeout_seconds: float | None = None,
        on_finished: Callable[[str, JobInputs], None] | None = None,
    ) -> None:
        self._on_finished = on_finished
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._store = store
        self._run_job = run_job
        self.concurrency = concurrency
        self._renew_every = lease_seconds / 4
        self._poll_seconds = poll_seconds
        self._retention_seconds = retention_seconds
        self._job_timeout_seconds = job_timeout_seconds
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._running: dict[str, float] = {}  # job id -> when this pool started it (monotonic)
        self._running_lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for index in range(self.concurrency):
            self._spawn(self._work, f"tryon-worker-{index}")
        self._spawn(self._renew_leases, "tryon-lease-renewal")
        if self._retention_seconds is not None:
            self._spawn(self._purge_old_jobs, "tryon-retention")

    def wake(self) -> None:
        """Tell idle workers a job was just queued, so they need not wait for the next poll."""
        self._wakeup.set()

    def stop(self, timeout: float = 10) -> None:
        self._stopping.set()
        self._wakeup.set()
        for thread in self._threads:
            thread.join(timeout)

    @property
    def running(self) -> int:
        with self._running_lock:
            return len(self._running)

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _work(self) -> None:
        _yield_cpu_to_requests()
        while not self._stopping.is_set():
            try:
                claimed = self._store.claim(self.worker_id)
            except StoreFull:  # logged by the store, once per interval; queued jobs wait
                claimed = None
            except Exception:
                log.exception("Could not claim a job; retrying")
                claimed = None
            if claimed is None:
                self._wakeup.wait(self._poll_seconds)
                self._wakeup.clear()
                continue
            record, inputs = claimed
            try:
                self._run(record.job_id, inputs)
            except StoreFull:  # logged by the store; the lease will expire and the job runs again
                pass
            except Exception:  # the store failed mid-job: the lease will expire and it runs again
                log.exception("job %s: could not record its outcome", record.job_id)

    def _run(self, job_id: str, inputs: JobInputs) -> None:
        with self._running_lock:
            self._running[job_id] = time.monotonic()
        progress = JobProgress(
            lambda step, percent: self._store.advance(job_id, self.worker_id, step=step, progress=percent)
        )
        log.info("job %s: started", job_id)
        try:
            result = self._run_job(job_id, inputs, progress)
        except JobNoLongerHeld:
            log.warning("job %s: no longer ours (cancelled, timed out or taken over); abandoned", job_id)
        except TryOnError as error:
            log.info("job %s: failed: %s", job_id, error)
            if self._store.fail(job_id, self.worker_id, str(error)):
                metrics.job_finished("failed", metrics.reason_class(error))
        except Exception as error:
            current_step = progress.step.value if progress.step else "start"
            log.exception("job %s: unexpected error in step %s", job_id, current_step)
            if self._store.fail(
                job_id,
                self.worker_id,
                f"The {current_step} step failed unexpectedly ({type(error).__name__}); "
                f"the server log has the details for job {job_id}.",
            ):
                metrics.job_finished("failed", metrics.reason_class(error))
        else:
            self._store_result(job_id, result)
        finally:
            with self._running_lock:
                self._running.pop(job_id, None)
            if self._on_finished is not None:
                try:
                    self._on_finished(job_id, inputs)
                except Exception:
                    log.exception("job %s: end-of-job hook failed", job_id)

    def _store_result(self, job_id: str, result: JobResult) -> None:
        """Complete the job with ``result``; where there is no room for it, fail the job once with
        that reason (running it again would make the same result). Only a store that cannot take
        even that small write raises ``StoreFull``: the lease then ends and the job runs again."""
        try:
            completed = self._store.complete(job_id, self.worker_id, result)
        except StoreFull:
            if self._store.fail(job_id, self.worker_id, NO_ROOM_FOR_RESULT):  # StoreFull here: it runs again
                log.warning("job %s: no space left to store its result; failed it", job_id)
                metrics.job_finished("failed", metrics.reason_class(NO_ROOM_FOR_RESULT))
            return
        if completed:
            log.info("job %s: completed", job_id)
            metrics.job_finished("completed")

    def _renew_leases(self) -> None:
        """Keep running jobs ours; end those past the time limit (their thread is told at its next step)."""
        while not self._stopping.wait(self._renew_every):
            now = time.monotonic()
            with self._running_lock:
                running = dict(self._running)
            limit = self._job_timeout_seconds
            overdue = [job_id for job_id, started in running.items() if limit and now - started > limit]
            try:
                for job_id in overdue:
                    log.warning("job %s: past the %gs time limit; failing it", job_id, limit)
                    if self._store.cancel(
                        job_id,
                        f"The job took longer than the time limit of {limit:g} s and was stopped.",
                    ):
                        metrics.job_finished("failed", "timeout")
                self._store.renew([job_id for job_id in running if job_id not in overdue], self.worker_id)
            except StoreFull:  # logged by the store
                pass
            except Exception:
                log.exception("Could not renew job leases")

    def _purge_old_jobs(self) -> None:
        every = min(self._retention_seconds / 10, 600)
        while not self._stopping.wait(every):
            try:
                if purged := self._store.purge_finished(self._retention_seconds):
                    log.info("deleted %d finished jobs past their retention", purged)
            except StoreFull:  # logged by the store
                pass
            except Exception:
                log.exception("Could not delete old jobs")


def _yield_cpu_to_requests(niceness: int = 10) -> None:
    """Run this worker thread at a lower CPU priority than the server's request handling.

    Jobs take seconds; a submit or a poll should take milliseconds even while every worker is busy.
    On Linux a thread's nice value is its own (``setpriority`` on its native id).
    """
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError):  # not Linux, or not permitted: run at normal priority
        log.debug("could not lower the priority of %s", threading.current_thread().name)
