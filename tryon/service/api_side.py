"""The API side of the service, independent of BentoML: what the HTTP routes work on.

``ApiSide`` holds the routes' state (the job store to queue and poll jobs, result links, the
admission policy) and answers ``/health`` and the queue depth of ``/metrics`` from the job store and
the job workers' ``WorkerStatus`` (``job_workers.py``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Awaitable, Callable

from ..api import AdmissionPolicy, ServiceState
from ..api.health import build_health
from ..api.schemas import HealthResponse
from ..guarded_http import FetchLimits
from ..jobs import JobStore, metrics
from ..results import ResultPublisher, StorageStatus
from ..settings import Settings
from .job_workers import WorkerStatus

log = logging.getLogger(__name__)


class ApiSide:
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
            allow_private_image_urls=settings.image_url_allow_private,
            image_url_limits=FetchLimits(timeout_seconds=settings.image_url_timeout_seconds),
            image_url_max_fetches=settings.image_url_max_fetches,
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
