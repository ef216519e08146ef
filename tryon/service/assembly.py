"""What the entry service (``service.py``) does besides declaring itself: the app, its parts, its task.

BentoML imports ``service.py`` in every process of ``bentoml serve``; ``app`` is built here at import
because the service's decorators need it.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from pathlib import Path
from typing import Any

from http import HTTPStatus

from starlette.responses import Response

from bentoml.exceptions import BentoMLException, InvalidArgument, ServiceUnavailable

from runners.calls import runner_api_from_threads
from runners.gpus import gpu_services, share_gpus_when_too_few

from ..api import attach_state, create_app, route_table
from ..api.app import STORE_FULL
from ..api.endpoint_labels import endpoint_label
from ..api.output_options import output_options
from ..errors import InvalidImage, InvalidOption
from ..images import OutputFormat
from ..jobs import JobStatus, QueueFull, StoreFull, metrics
from ..library_internals import label_bentoml_request_metrics
from ..settings import Settings
from .api_side import ApiSide
from .job_workers import JobWorkers
from .parts import build_engines, build_job_store, build_result_publisher

app = create_app()
label_bentoml_request_metrics(functools.partial(endpoint_label, route_table(app)))


def compose(service: Any) -> tuple[ApiSide, JobWorkers]:
    """The service's two halves, in its ``__init__``: the API over the job store, and the job
    workers with every registered engine over ``service``'s runner dependencies."""
    settings = Settings()
    logging.getLogger("tryon").setLevel(settings.log_level)  # BentoML's root handler prints them
    metrics.init()
    store, results = build_job_store(settings), build_result_publisher(settings)  # one of each, shared
    workers = JobWorkers(settings, build_engines(settings, runner_api_from_threads(service)), store=store, results=results)
    api = ApiSide(settings, store=store, results=results, wake=workers.wake, worker_status=service.worker_status)
    attach_state(app, api.state)
    workers.start(on_ready=freeze_startup_objects)
    return api, workers


class TooManyJobs(BentoMLException):
    """The queue is full: BentoML answers a task call with 429 (a submitted task fails with it)."""

    error_code = HTTPStatus.TOO_MANY_REQUESTS


async def run_task(
    api: ApiSide,
    person_image: Path,
    clothing_image: Path,
    *,
    job_id: str | None,
    output_format: str = "png",
    output_quality: int | None = None,
) -> Response:
    """The task endpoint's try-on: a job like POST /api/tryon's, awaited; errors as BentoML's.

    The answer is the result as encoded, with its content type: BentoML passes a ``Response`` through
    as it is (a PIL image it would encode again, at its own quality; a ``Path`` its task store cannot
    read back under Starlette 1, whose ``FileResponse`` needs the request's method).
    Called synchronously (``POST /tryon``) there is no task id (``job_id`` None): the job gets its own.
    """
    state = api.state
    try:
        options = output_options(output_format, output_quality)
        job_id = await asyncio.to_thread(
            state.submit, person_image.read_bytes(), clothing_image.read_bytes(), options=options, job_id=job_id
        )
    except (InvalidImage, InvalidOption) as error:
        raise InvalidArgument(str(error)) from None
    except QueueFull as error:
        raise TooManyJobs(state.admission.queue_full(error.queued)[0]) from None
    except StoreFull:
        raise ServiceUnavailable(STORE_FULL) from None
    record = await state.wait(job_id)
    if record.status is JobStatus.FAILED:
        raise BentoMLException(record.error or "The try-on failed.")
    picture = await asyncio.to_thread(api.results.picture_of, record)
    return Response(content=picture, media_type=OutputFormat(output_format).media_type)


def finish_service_class(service: Any) -> None:
    """GPU placement, where ``bentoml serve`` imports the service and before it places the services."""
    share_gpus_when_too_few(gpu_services(service))


def freeze_startup_objects() -> None:
    """Hide everything alive once the service is warm (modules, models, clients) from the garbage
    collector's full passes, which otherwise stall the event loop while jobs run (README, Benchmarks)."""
    gc.collect()
    gc.freeze()
