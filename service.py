"""The try-on service: the documented HTTP API, a BentoML task endpoint, and the job workers.

The learned models run in the runner services (``runners/``); this service queues jobs in its
store and runs the pipeline in worker threads that call the runners, so concurrent jobs batch.
The API half (``ApiCore``) and the worker half (``JobRunner``) share only the job store and result
storage, so they could run in separate processes (measured: on one core that made submits slower).
"""

from __future__ import annotations

import asyncio
import gc
import io
import logging
from http import HTTPStatus
from pathlib import Path
from typing import Callable

import anyio.from_thread
import anyio.lowlevel
import bentoml
import numpy as np
from _bentoml_impl.client import RemoteProxy
from bentoml.exceptions import BentoMLException, InvalidArgument, ServiceUnavailable
from PIL import Image

from runners import InpaintingRunner, ParsingRunner, PoseRunner, SegmentationRunner
from runners.gpus import gpu_services, share_gpus_when_too_few
from tryon import metrics
from tryon.api import AdmissionControl, admission_policy, attach_state, create_app, route_table
from tryon.api.app import STORE_FULL
from tryon.api.endpoint_labels import label_bentoml_metrics_by_route
from tryon.core import ApiCore, JobRunner, WorkerStatus
from tryon.errors import InvalidImage
from tryon.jobs import JobStatus, QueueFull, StoreFull
from tryon.runner_calls import retry_dropped_connections
from tryon.settings import Settings
from tryon.startup import exit_if_port_held
from tryon.wiring import build_engine


class TooManyJobs(BentoMLException):
    """The queue is full: BentoML answers a task call with 429 (a submitted task fails with it)."""

    error_code = HTTPStatus.TOO_MANY_REQUESTS


app = create_app()
label_bentoml_metrics_by_route(route_table(app))


@bentoml.asgi_app(app, path="/")
@bentoml.service(workers=1, traffic={"timeout": 300})
class TryOnService:
    """The documented HTTP API, a BentoML task endpoint, and the job workers (threads)."""

    segmentation = bentoml.depends(SegmentationRunner)
    pose = bentoml.depends(PoseRunner)
    parsing = bentoml.depends(ParsingRunner)  # used when TRYON_PARSING_ENGINE resolves to segformer
    inpainting = bentoml.depends(InpaintingRunner)  # used when TRYON_INPAINT_ENGINE resolves to diffusers

    def __init__(self) -> None:
        settings = Settings()
        logging.getLogger("tryon").setLevel(settings.log_level)  # BentoML's root handler prints them
        metrics.init()
        engine = build_engine(
            settings,
            segment_batch=callable_from_threads(self.segmentation, "segment"),
            estimate_batch=callable_from_threads(self.pose, "estimate"),
            parse_batch=callable_from_threads(self.parsing, "parse"),
            inpaint_packed=callable_from_threads(self.inpainting, "inpaint"),
        )
        self.jobs = JobRunner(settings, engine)
        self.core = ApiCore(settings, wake=self.jobs.wake, worker_status=self.worker_status)
        attach_state(app, self.core.state)
        self.jobs.start(on_ready=freeze_startup_objects)

    async def worker_status(self) -> WorkerStatus:
        return self.jobs.status()

    @bentoml.task
    async def tryon(self, person_image: Path, clothing_image: Path, ctx: bentoml.Context) -> Image.Image:
        """The same try-on as POST /api/tryon; the task id can also be polled at GET /api/tryon/{id}.

        Called synchronously (``POST /tryon``) it answers the result image itself; that call has no
        task id, so the job gets an id of its own.
        """
        state = self.core.state
        try:
            job_id = await asyncio.to_thread(
                state.submit,
                person_image.read_bytes(),
                clothing_image.read_bytes(),
                job_id=getattr(ctx.request.state, "task_id", None),
            )
        except InvalidImage as error:
            raise InvalidArgument(str(error)) from None
        except QueueFull as error:
            raise TooManyJobs(state.admission.queue_full(error.queued)[0]) from None
        except StoreFull:
            raise ServiceUnavailable(STORE_FULL) from None
        record = await state.wait(job_id)
        if record.status is JobStatus.FAILED:
            raise BentoMLException(record.error or "The try-on failed.")
        png = await asyncio.to_thread(self.core.results.png_of, record)
        return Image.open(io.BytesIO(png))

    @bentoml.on_deployment
    def check_port() -> None:
        """Runs once in the supervisor, before it binds the port."""
        exit_if_port_held()

    def __is_ready__(self) -> bool:
        return self.jobs.models_loaded

    def __metrics__(self, content: str) -> str:
        return content + metrics.queue_depth_exposition(self.core.queued())

    @bentoml.on_shutdown
    def stop(self) -> None:
        self.jobs.stop()


TryOnService.add_asgi_middleware(AdmissionControl, policy=admission_policy(app))
share_gpus_when_too_few(gpu_services(TryOnService))  # inpainting and parsing, on a one-GPU host


def freeze_startup_objects() -> None:
    """Hide everything alive once the service is warm (modules, models, clients) from the garbage
    collector's full passes. There are about 300,000 such objects, nearly half of them torch's;
    each full pass walked them all, stalling the event loop for 130-340 ms while jobs ran: the
    slowest 1% of submits. Frozen, a full pass takes 20-50 ms (README, Benchmarks)."""
    gc.collect()
    gc.freeze()


def callable_from_threads(runner: object, api_name: str) -> Callable[[np.ndarray], np.ndarray]:
    """A runner API that the worker threads can call.

    A remote runner's sync client only works in AnyIO's own threads, so plain threads hand the
    async call to the server's event loop (this runs in ``__init__``, on that loop). In-process
    (tests), the dependency is the runner object itself.
    """
    if not isinstance(runner, RemoteProxy):
        return getattr(runner, api_name)
    token = anyio.lowlevel.current_token()
    return retry_dropped_connections(
        lambda batch: anyio.from_thread.run(runner.to_async.call, api_name, batch, token=token),
        f"runner API {api_name}",
    )
