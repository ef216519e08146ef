"""The try-on service: the documented HTTP API, a BentoML task endpoint, and the job workers.

The learned models run in the runner services (``runners/``); this service queues jobs in its own
store and runs the pipeline in worker threads that call the runners, so concurrent jobs batch.
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import anyio.from_thread
import anyio.lowlevel
import bentoml
import numpy as np
from _bentoml_impl.client import RemoteProxy
from bentoml.exceptions import InvalidArgument
from PIL import Image

from runners import PoseRunner, SegmentationRunner
from tryon.api import (
    AdmissionControl,
    AdmissionPolicy,
    ServiceState,
    admission_policy,
    attach_state,
    create_app,
)
from tryon import metrics
from tryon.webhooks import WebhookSender
from tryon.api.routes import poll_body
from tryon.api.health import build_health
from tryon.engine import ENGINES, TryOnEngine
from tryon.errors import InvalidImage
from tryon.jobs import JobInputs, JobResult, JobStatus, WorkerPool
from tryon.jobs.workers import ProgressReport
from tryon.settings import Settings
from tryon.wiring import build_job_store, build_result_publisher
from tryon.vision.analyzer import CanvasPersonAnalyzer

log = logging.getLogger("tryon")
app = create_app()


def callable_from_threads(runner: object, api_name: str) -> Callable[[np.ndarray], np.ndarray]:
    """A runner API that the worker threads can call.

    A remote runner's sync client only works in AnyIO's own threads, so plain threads hand the
    async call to the server's event loop (this runs in ``__init__``, on that loop). In-process
    (tests), the dependency is the runner object itself.
    """
    if not isinstance(runner, RemoteProxy):
        return getattr(runner, api_name)
    token = anyio.lowlevel.current_token()
    return lambda batch: anyio.from_thread.run(runner.to_async.call, api_name, batch, token=token)


def _timed(report):
    timer = metrics.StepTimer()

    def on_step(step) -> None:
        timer.start(step.value)
        report(step.value, step.progress)

    return on_step


@bentoml.asgi_app(app, path="/")
@bentoml.service(workers=1, traffic={"timeout": 300})
class TryOnService:
    segmentation = bentoml.depends(SegmentationRunner)
    pose = bentoml.depends(PoseRunner)

    def __init__(self) -> None:
        settings = Settings()
        metrics.init()
        logging.getLogger("tryon").setLevel(settings.log_level)  # BentoML's root handler prints them
        analyzer = CanvasPersonAnalyzer(
            segment_batch=callable_from_threads(self.segmentation, "segment"),
            estimate_batch=callable_from_threads(self.pose, "estimate"),
        )
        self.engine = TryOnEngine(
            analyzer, limits=settings.image_limits, png_compress_level=settings.png_compress_level
        )
        self.results = build_result_publisher(settings)
        store = build_job_store(settings)
        self.workers = WorkerPool(
            store,
            self._run_job,
            concurrency=settings.workers,
            lease_seconds=settings.job_lease_seconds,
            retention_seconds=settings.result_retention_hours * 3600,
            job_timeout_seconds=settings.job_timeout_seconds,
            on_finished=self._job_finished,
        )
        self.webhooks = WebhookSender(
            settings.webhook_secret.get_secret_value() if settings.webhook_secret else None,
            allow_private=settings.webhook_allow_private,
        )
        self.job_store_kind = "redis" if settings.redis_url else "sqlite"
        self.models_loaded = False
        self.state = ServiceState(
            store=store,
            workers=self.workers,
            limits=settings.image_limits,
            results=self.results,
            webhooks=self.webhooks,
            admission=AdmissionPolicy(
                api_key=settings.api_key.get_secret_value() if settings.api_key else None,
                max_queue=settings.max_queue,
                queued=lambda: store.counts()["queued"],
                workers=settings.workers,
            ),
            health=self._health,
        )
        attach_state(app, self.state)
        log.info("job store: %s; %d workers", self.job_store_kind, settings.workers)
        threading.Thread(target=self._start_when_ready, daemon=True).start()

    @bentoml.task
    async def tryon(self, person_image: Path, clothing_image: Path, ctx: bentoml.Context) -> Image.Image:
        """The same try-on as POST /api/tryon; the task id can also be polled at GET /api/tryon/{id}."""
        try:
            job_id = await asyncio.to_thread(
                self.state.submit,
                person_image.read_bytes(),
                clothing_image.read_bytes(),
                job_id=ctx.request.state.task_id,
            )
        except InvalidImage as error:
            raise InvalidArgument(str(error)) from None
        record = await self.state.wait(job_id)
        if record.status is JobStatus.FAILED:
            raise bentoml.exceptions.BentoMLException(record.error or "The try-on failed.")
        png = await asyncio.to_thread(self.results.png_of, record)
        return Image.open(io.BytesIO(png))

    def __metrics__(self, content: str) -> str:
        return content + metrics.queue_depth_exposition(self.state.store.counts()["queued"])

    def __is_ready__(self) -> bool:
        return self.models_loaded

    @bentoml.on_shutdown
    def stop_workers(self) -> None:
        self.workers.stop()
        self.webhooks.close(timeout=10)

    def _job_finished(self, job_id: str, inputs: JobInputs) -> None:
        url = inputs.options.get("webhook_url")
        record = self.state.store.get(job_id)
        if url and record is not None and record.status.finished:
            self.webhooks.send(url, poll_body(record, self.results)[1])

    def _run_job(self, job_id: str, inputs: JobInputs, report: ProgressReport) -> JobResult:
        output = self.engine.run(
            inputs.person_image,
            inputs.clothing_image,
            category=inputs.options.get("category", "auto"),
            on_step=_timed(report),
        )
        return replace(self.results.publish(job_id, output.png), details=output.details)

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

    def _health(self):
        return build_health(
            models_loaded=self.models_loaded,
            engines=ENGINES,
            job_counts=self.state.store.counts(),
            running_here=self.workers.running,
            workers=self.workers.concurrency,
            job_store=self.job_store_kind,
            storage=self.results.status,
        )


TryOnService.add_asgi_middleware(AdmissionControl, policy=admission_policy(app))
