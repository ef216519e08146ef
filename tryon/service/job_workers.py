"""The job workers, independent of BentoML: they claim queued jobs and run them with the chosen engine.

``JobWorkers`` chooses the engine from its runners' answers, runs queued jobs in worker threads
(``tryon.jobs.WorkerPool``), publishes their results and sends their webhooks; ``WorkerStatus`` is
what they report to the API side (``api_side.py``) for ``/health``.

The two sides share nothing but the job store (SQLite on one machine, Redis across replicas) and the
result publisher, handed to both, so they could run in separate processes; the service runs both in
the API process, which is faster on few cores (docs/benchmarks.md).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import Callable

from pydantic import BaseModel, Field

from ..api.views import poll_body
from ..engines.base import Category, EngineDescription, EngineRequest, TryOnEngine
from ..engines.outfits import dress
from ..engines.registry import AUTO, EngineUnavailable, choose_engine, engine_spec
from ..jobs import JobInputs, JobResult, JobStore, WorkerPool
from ..jobs.progress import JobProgress
from ..results import ResultPublisher, output_format_of
from ..results.webhooks import WebhookSender
from ..settings import Settings

log = logging.getLogger(__name__)


class WorkerStatus(BaseModel):
    """What the job workers report to the API side (for ``/health``)."""

    models_loaded: bool = Field(description="The chosen engine's models have answered once.")
    running: int = Field(description="Jobs running in this worker process now.")
    workers: int = Field(description="Jobs this process runs at once (TRYON_WORKERS).")
    engine: EngineDescription | None = Field(default=None, description="The engine chosen, as its runners describe it.")
    start_error: str | None = Field(default=None, description="Why no engine could be chosen yet.")
    storage_error: str | None = Field(default=None, description="Why the last result upload failed.")
    job_store_error: str | None = Field(default=None, description="Why the job store refuses writes now.")


class JobWorkers:
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
        self.pool = WorkerPool(
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
        self.pool.stop()
        self.webhooks.close(timeout=10)

    def wake(self) -> None:
        self.pool.wake()

    def status(self) -> WorkerStatus:
        """How the workers are doing; the engine's figures (GPU memory) are asked of its runners now.

        Blocking (runner calls): call it from a thread.
        """
        return WorkerStatus(
            models_loaded=self.models_loaded,
            running=self.pool.running,
            workers=self.pool.concurrency,
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

    def _run_job(self, job_id: str, inputs: JobInputs, progress: JobProgress) -> JobResult:
        """The chosen engine's run of the job; the options it does not take are noted in the answer."""
        category = Category(inputs.options.get("category", Category.AUTO.value))
        options, ignored = engine_spec(self.engine.name).request_options(inputs.options.get("engine_options", {}))
        request = EngineRequest(inputs.person_image, inputs.clothing_image, category=category, options=options, job_id=job_id)
        output = dress(self.engine, request, inputs.bottom_image, progress)
        details = {
            "category": output.category.value,
            "notes": [*output.notes, *ignored],
            "width": output.width,
            "height": output.height,
            **output.details.model_dump(),
        }
        if output.picture_details:
            details["pictures"] = list(output.picture_details)
        encoding = output_format_of(inputs.options, self.png_compress_level)
        return replace(self.results.publish(job_id, output.pictures, encoding), details=details)

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
        self.pool.start()
