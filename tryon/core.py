"""Everything the service runs, independent of BentoML: the engine, jobs, results and webhooks.

``service.py`` hands in the person analyzer (the runners) and serves ``TryOnCore.state`` over HTTP.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace

from . import metrics
from .api import AdmissionPolicy, ServiceState
from .api.health import build_health
from .api.routes import poll_body
from .api.schemas import HealthResponse
from .engine import ENGINES, TryOnEngine
from .jobs import JobInputs, JobResult, WorkerPool
from .jobs.workers import ProgressReport
from .pipeline.types import PersonAnalyzer, Step
from .settings import Settings
from .webhooks import WebhookSender
from .wiring import build_job_store, build_result_publisher

log = logging.getLogger(__name__)


class TryOnCore:
    def __init__(self, settings: Settings, analyzer: PersonAnalyzer) -> None:
        self.engine = TryOnEngine(
            analyzer, limits=settings.image_limits, png_compress_level=settings.png_compress_level
        )
        self.results = build_result_publisher(settings)
        self.store = build_job_store(settings)
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
        self.job_store_kind = "redis" if settings.redis_url else "sqlite"
        self.models_loaded = False
        self.state = ServiceState(
            store=self.store,
            workers=self.workers,
            limits=settings.image_limits,
            results=self.results,
            webhooks=self.webhooks,
            admission=AdmissionPolicy(
                api_key=settings.api_key.get_secret_value() if settings.api_key else None,
                max_queue=settings.max_queue,
                queued=self.queued,
                workers=settings.workers,
            ),
            health=self.health,
        )

    def start(self) -> None:
        """Check result storage and start the workers once the models answer (in the background)."""
        log.info("job store: %s; %d workers", self.job_store_kind, self.workers.concurrency)
        threading.Thread(target=self._start_when_ready, name="tryon-start", daemon=True).start()

    def stop(self) -> None:
        self.workers.stop()
        self.webhooks.close(timeout=10)

    def queued(self) -> int:
        return self.store.counts()["queued"]

    def health(self) -> HealthResponse:
        return build_health(
            models_loaded=self.models_loaded,
            engines=ENGINES,
            job_counts=self.store.counts(),
            running_here=self.workers.running,
            workers=self.workers.concurrency,
            job_store=self.job_store_kind,
            storage=self.results.status,
        )

    def _run_job(self, job_id: str, inputs: JobInputs, report: ProgressReport) -> JobResult:
        timer = metrics.StepTimer()

        def on_step(step: Step) -> None:
            timer.start(step.value)
            report(step.value, step.progress)

        output = self.engine.run(
            inputs.person_image,
            inputs.clothing_image,
            category=inputs.options.get("category", "auto"),
            on_step=on_step,
        )
        return replace(self.results.publish(job_id, output.png), details=output.details)

    def _send_webhook(self, job_id: str, inputs: JobInputs) -> None:
        url = inputs.options.get("webhook_url")
        record = self.store.get(job_id) if url else None
        if record is not None and record.status.finished:
            self.webhooks.send(url, poll_body(record, self.results)[1])

    def _start_when_ready(self) -> None:
        """Queued jobs wait (they are not failed) until both runners have answered once."""
        self.results.check()
        delay = 0.5
        while not self.models_loaded:
            try:
                self.engine.warm_up()
                self.models_loaded = True
            except Exception as error:
                log.info("models not answering yet (%s); retrying in %.1fs", error, delay)
                time.sleep(delay)
                delay = min(delay * 2, 10)
        self.workers.start()
