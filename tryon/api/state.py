"""What the routes need from the running service, handed to them through ``app.state``."""

from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from ..jobs import metrics
from ..guarded_http import FetchLimits
from ..images import ImageLimits, validate_image
from ..jobs import JobInputs, JobRecord, JobStore
from ..results import ResultPublisher
from .admission import AdmissionPolicy
from .schemas import HealthResponse


@dataclass
class ServiceState:
    store: JobStore
    wake: Callable[[], None]  # tells idle job workers a job was queued (they also poll)
    limits: ImageLimits
    results: ResultPublisher
    admission: AdmissionPolicy
    health: Callable[[], Awaitable[HealthResponse]]
    allow_private_webhooks: bool = False
    allow_private_image_urls: bool = False
    image_url_limits: FetchLimits = FetchLimits()
    image_url_max_fetches: int = 4  # submissions fetching photos by URL at once (429 beyond)

    def __post_init__(self) -> None:
        self.image_url_fetches = threading.BoundedSemaphore(self.image_url_max_fetches)

    def submit(
        self,
        person_image: bytes,
        clothing_image: bytes,
        *,
        options: dict[str, Any] | None = None,
        job_id: str | None = None,
        bottom_image: bytes | None = None,
    ) -> str:
        """Validate the photos and queue a job; raises ``InvalidImage`` before anything is queued,
        and ``QueueFull`` when the queue holds ``admission.max_queue`` jobs already.
        ``bottom_image``: a whole outfit's bottoms (``clothing_image`` is then the top)."""
        validate_image("person_image", person_image, self.limits)
        validate_image("clothing_image", clothing_image, self.limits)
        if bottom_image is not None:
            validate_image("bottom_image", bottom_image, self.limits)
        job_id = job_id or str(uuid.uuid4())
        self.store.create(
            job_id,
            JobInputs(person_image, clothing_image, options or {}, bottom_image),
            max_queued=self.admission.max_queue,
        )
        metrics.job_submitted()
        self.wake()
        return job_id

    async def wait(self, job_id: str, poll_seconds: float = 0.1) -> JobRecord:
        """The job's record once it has completed or failed."""
        while True:
            record = await asyncio.to_thread(self.store.get, job_id)
            if record is not None and record.status.finished:
                return record
            await asyncio.sleep(poll_seconds)
