"""The try-on service: the documented HTTP API, a BentoML task endpoint, and the job workers.

The models run in the runner services of the registered engines (``tryon/engines/``); this service
queues jobs in its store and runs the chosen engine in worker threads that call its runners.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import bentoml
from annotated_types import Ge, Le
from PIL import Image

from runners import depend_on_runners
from tryon.api import AdmissionControl, admission_policy
from tryon.api.schemas import OutputFormatName
from tryon.service.assembly import app, compose, finish_service_class, run_task
from tryon.service.job_workers import WorkerStatus
from tryon.service.port_check import exit_if_port_held


@bentoml.asgi_app(app, path="/")
@bentoml.service(workers=1, traffic={"timeout": 300})
@depend_on_runners
class TryOnService:
    """The documented HTTP API, a BentoML task endpoint, and the job workers (threads)."""

    def __init__(self) -> None:
        self.api, self.workers = compose(self)

    async def worker_status(self) -> WorkerStatus:
        return await asyncio.to_thread(self.workers.status)

    @bentoml.task
    async def tryon(
        self,
        person_image: Path,
        clothing_image: Path,
        ctx: bentoml.Context,
        output_format: OutputFormatName = "png",
        output_quality: Annotated[int, Ge(1), Le(100)] | None = None,
    ) -> Image.Image:
        """The same try-on as POST /api/tryon; the task id can also be polled at GET /api/tryon/{id}.
        ``POST /tryon`` (the synchronous call) answers the image itself, in ``output_format`` (declared
        as an image for BentoML's schema; answered as its encoded bytes, see ``run_task``)."""
        task_id = getattr(ctx.request.state, "task_id", None)
        return await run_task(
            self.api, person_image, clothing_image, job_id=task_id,
            output_format=output_format, output_quality=output_quality,
        )

    @bentoml.on_deployment
    def check_port() -> None:
        """Runs once in the supervisor, before it binds the port."""
        exit_if_port_held()

    def __is_ready__(self) -> bool:
        return self.workers.models_loaded

    def __metrics__(self, content: str) -> str:
        return self.api.metrics(content)

    @bentoml.on_shutdown
    def stop(self) -> None:
        self.workers.stop()


TryOnService.add_asgi_middleware(AdmissionControl, policy=admission_policy(app))
finish_service_class(TryOnService)
