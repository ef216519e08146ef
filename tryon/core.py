"""The two halves of the service, independent of BentoML.

- ``ApiCore``: what the HTTP API needs: the job store (to queue and poll jobs), result links, the
  admission policy, and ``/health`` assembled from the job workers' ``WorkerStatus``.
- ``JobRunner``: chooses the engine from its runners' answers, runs queued jobs in worker threads,
  publishes results and sends webhooks.

They share nothing but the job store (SQLite on one machine, Redis across replicas) and the result
publisher, handed to both, so they could run in separate processes; the service runs both in the
API process, which is faster on few cores (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from dataclasses import replace
from typing import Awaitable, Callable

from pydantic import BaseModel, Field

from . import metrics
from .api import AdmissionPolicy, ServiceState
from .api.health import build_health
from .api.views import poll_body
from .api.schemas import HealthResponse
from .engines.base import Category, EngineDescription, EngineRequest, Step, TryOnEngine, progress_percent
from .engines.registry import AUTO, EngineUnavailable, choose_engine
from .jobs import JobInputs, JobResult, JobStore, WorkerPool
from .jobs.workers import ProgressReport
from .results import ResultPublisher, StorageStatus, output_format_of
from .settings import Settings
from .webhooks import WebhookSender

log = logging.getLogger(__name__)
# Job options the service acts on itself: engines are not handed them.
SERVICE_OPTIONS = ("webhook_url", "output_format", "output_quality")


class WorkerStatus(BaseModel):
    """What the job workers report to the API process (for ``/health``)."""

    models_loaded: bool = Field(description="The chosen engine's models have answered once.")
    running: int = Field(description="Jobs running in this worker process now.")
    workers: int = Field(description="Jobs this process runs at once (TRYON_WORKERS).")
    engine: EngineDescription | None = Field(default=None, description="The engine chosen, as its runners describe it.")
    start_error: str | None = Field(default=None, description="Why no engine could be chosen yet.")
    storage_error: str | None = Field(default=None, description="Why the last result upload failed.")
    job_store_error: str | None = Field(default=None, description="Why the job store refuses writes now.")


class JobRunner:
    """Claims queued jobs and runs them, with the engine ``TRYON_ENGINE`` chooses among ``engines``
    (name -> adapter, in registry order) once their runners answer."""

    def __init__(
        self, settings: Settings, engines: dict[str, TryOnEngine], *, store: JobStore, results: ResultPublisher
    ) -> None:
        if settings.engine not in (AUTO, *engines):
            raise ValueError(f"TRYON_ENGINE must be 'auto' or one of {', '.join(engines)}; got {settings.engine!r}")
        self.engines = engines
        self.engine_setting = settings.engine
        self.engine: TryOnEngine | None = None
        self.description: EngineDescription | None = None
        self.start_error: str | None = None
        self.results = results
        self.png_compress_level = settings.png_compress_level
        self.store = store
        self.webhooks = WebhookSender(
            settings.webhook_secret.get_secret_value() if settings.webhook_secret else None,
            allow_private=settings.webhook_allow_private,
        )
        self.workers = WorkerPool(
            self.store,
            self._run_job,
            concurrency=settings.workers,
            lease_seconds=settings.job_lease_seconds,
            retention_seconds=settings.result_retention_hours * 3600,
            job_timeout_seconds=settings.job_timeout_seconds,
            on_finished=self._send_webhook,
        )
        self.models_loaded = False

    def start(self, on_ready: Callable[[], None] = lambda: None) -> None:
        """Check result storage and start the workers once the models answer (in the background);
        ``on_ready`` runs then, just before the workers start."""
        threading.Thread(
            target=self._start_when_ready, args=(on_ready,), name="tryon-start", daemon=True
        ).start()

    def stop(self) -> None:
        self.workers.stop()
        self.webhooks.close(timeout=10)

    def wake(self) -> None:
        self.workers.wake()

    def status(self) -> WorkerStatus:
        """How the workers are doing; the engine's figures (GPU memory) are asked of its runners now.

        Blocking (runner calls): call it from a thread.
        """
        return WorkerStatus(
            models_loaded=self.models_loaded,
            running=self.workers.running,
            workers=self.workers.concurrency,
            engine=self._fresh_description(),
            start_error=self.start_error,
            storage_error=self.results.status.error,
            job_store_error=self.store.full_reason,
        )

    def _fresh_description(self) -> EngineDescription | None:
        if self.engine is None:
            return None
        try:
            passed_over = self.description.passed_over if self.description else {}
            self.description = self.engine.describe().model_copy(update={"passed_over": passed_over})
        except Exception as error:  # a runner restarting: report what it said last
            log.debug("engine runners not answering: %s", error)
        return self.description

    def _run_job(self, job_id: str, inputs: JobInputs, report: ProgressReport) -> JobResult:
        timer = metrics.StepTimer()

        def on_progress(step: Step, fraction: float = 0.0) -> None:
            timer.start(step.value)
            report(step.value, progress_percent(step, fraction))  # writes changes; repeats check for a cancel

        options = dict(inputs.options)
        request = EngineRequest(
            person_image=inputs.person_image,
            clothing_image=inputs.clothing_image,
            category=Category(options.pop("category", Category.AUTO.value)),
            options={key: value for key, value in options.items() if key not in SERVICE_OPTIONS},
            job_id=job_id,
        )
        output = self.engine.run(request, on_progress)
        height, width = output.pictures[0].shape[:2]
        details = {**output.details, "width": width, "height": height}
        published = self.results.publish(job_id, output.pictures, output_format_of(options, self.png_compress_level))
        return replace(published, details=details)

    def _send_webhook(self, job_id: str, inputs: JobInputs) -> None:
        url = inputs.options.get("webhook_url")
        record = self.store.get(job_id) if url else None
        if record is not None and record.status.finished:
            self.webhooks.send(url, poll_body(record, self.results)[1])

    def _start_when_ready(self, on_ready: Callable[[], None]) -> None:
        """Queued jobs wait (they are not failed) until the runners have said which engine serves
        and its models have answered once."""
        self.results.check()
        delay = 0.5
        while not self.models_loaded:
            try:
                engine, description = choose_engine(self.engine_setting, self.engines)
                engine.warm_up()
                self.engine, self.description, self.start_error = engine, description, None
                self.models_loaded = True
                log.info("engine %s: %s", description.engine, description.reason)
            except EngineUnavailable as error:  # the operator's choice: say so loudly, keep asking
                self.start_error = str(error)
                log.error("%s", error)
                time.sleep(10)
            except Exception as error:
                log.info("runners not answering yet (%s); retrying in %.1fs", error, delay)
                time.sleep(delay)
                delay = min(delay * 2, 10)
        on_ready()
        self.workers.start()


class ApiCore:
    """The HTTP side: queues and polls jobs in the store; asks the job workers how they are doing.

    ``wake`` tells this replica's workers a job was queued (they also poll the store);
    ``worker_status`` fetches their ``WorkerStatus``.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        store: JobStore,
        results: ResultPublisher,
        wake: Callable[[], None],
        worker_status: Callable[[], Awaitable[WorkerStatus]],
    ) -> None:
        self.results = results
        self.store = store
        self.job_store_kind = "redis" if settings.redis_url else "sqlite"
        self._worker_status = worker_status
        self.state = ServiceState(
            store=self.store,
            wake=wake,
            limits=settings.image_limits,
            results=self.results,
            allow_private_webhooks=settings.webhook_allow_private,
            admission=AdmissionPolicy(
                api_key=settings.api_key.get_secret_value() if settings.api_key else None,
                max_queue=settings.max_queue,
                queued=self.queued,
                workers=settings.workers,
                max_upload_bytes=settings.image_limits.max_bytes,
            ),
            health=self.health,
        )
        log.info("job store: %s; %d workers (pid %d serves the API)", self.job_store_kind, settings.workers, os.getpid())

    def queued(self) -> int:
        return self.store.counts()["queued"]

    def metrics(self, content: str) -> str:
        """BentoML's ``/metrics`` text with the queue depth (shared by every replica) appended."""
        return content + metrics.queue_depth_exposition(self.queued())

    async def health(self) -> HealthResponse:
        try:
            workers = await self._worker_status()
        except Exception as error:  # not started yet, or restarting: report, do not fail the probe
            log.debug("job workers not answering: %s", error)
            workers = None
        return await asyncio.to_thread(self._health, workers)

    def _health(self, workers: WorkerStatus | None) -> HealthResponse:
        api_storage = self.results.status
        storage_error = api_storage.error or (workers.storage_error if workers else None)
        return build_health(
            models_loaded=workers is not None and workers.models_loaded,
            engine=workers.engine if workers else None,
            job_counts=self.store.counts(),
            running_here=workers.running if workers else 0,
            workers=workers.workers if workers else 0,
            job_store=self.job_store_kind,
            job_store_error=self.store.full_reason or (workers.job_store_error if workers else None),
            storage=StorageStatus(backend=api_storage.backend, bucket=api_storage.bucket, error=storage_error),
            engine_error=workers.start_error if workers else None,
        )
