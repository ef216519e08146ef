"""What a poll of a job answers (and its webhook carries): pydantic shapes, no web framework."""

from __future__ import annotations

import base64
from itertools import zip_longest

from ..jobs import JobRecord, JobStatus, StoredPicture
from ..results import ResultPublisher
from .schemas import FailedJobResponse, JobErrorDetail, JobStatusResponse, ResultPicture

CANCELLED = "Cancelled by the client."


def poll_body(record: JobRecord, results: ResultPublisher) -> tuple[int, dict]:
    """(HTTP status, JSON body) of a poll of this job: also the body of its webhook.

    A failed job is a 500; one its client cancelled has the same body (clients stop polling on
    ``status: failed``) with a 200, since the server did nothing wrong.
    """
    if record.status is JobStatus.FAILED:
        failed = FailedJobResponse(
            detail=JobErrorDetail(error=record.error or "The job failed.", job_id=record.job_id),
            job_id=record.job_id,
        )
        return 200 if record.error == CANCELLED else 500, failed.model_dump()
    return 200, job_status(record, results).model_dump(exclude_none=True)


def job_status(record: JobRecord, results: ResultPublisher) -> JobStatusResponse:
    category = record.details.get("category") or record.options.get("category")
    # A claimed job is pending until its first step starts: "processing" always names a step.
    if record.status is JobStatus.QUEUED or (record.status is JobStatus.PROCESSING and record.step is None):
        return JobStatusResponse(job_id=record.job_id, status="pending", progress=0, category=category)
    if record.status is JobStatus.PROCESSING:
        return JobStatusResponse(
            job_id=record.job_id,
            status="processing",
            step=record.step,
            progress=record.progress,
            category=category,
        )
    pictures = [picture_answer(picture, results) for picture in record.pictures or (StoredPicture(),)]
    result = pictures[0]
    details = dict(record.details)
    if (extras := details.pop("pictures", None)) is not None:  # several asked for: each, with what the engine says of it
        result = {**result, "results": [ResultPicture(**answer, **extra) for answer, extra in zip_longest(pictures, extras, fillvalue={})]}
    # The details: category, notes, width, height and what the engine adds (``EngineDetails``).
    return JobStatusResponse.model_validate(
        {
            **details,
            "job_id": record.job_id,
            "status": "completed",
            "progress": 100,
            "warning": record.warning,
            "category": category,
            **result,
        }
    )


def picture_answer(picture: StoredPicture, results: ResultPublisher) -> dict[str, str]:
    """``{"result_url": ...}`` for a picture kept in S3 (a fresh link), else ``{"result_b64": ...}``."""
    if picture.key:
        return {"result_url": results.url_for(picture.key)}
    return {"result_b64": base64.b64encode(picture.data or b"").decode("ascii")}
