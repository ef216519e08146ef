"""What the store keeps about a job."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class JobStatus(str, Enum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED)


@dataclass(frozen=True)
class JobInputs:
    """The uploaded photos, as validated bytes; kept only until the job ends."""

    person_image: bytes
    clothing_image: bytes


@dataclass(frozen=True)
class JobRecord:
    """One job's state. ``result`` (PNG bytes) is set once completed, ``error`` once failed."""

    job_id: str
    status: JobStatus
    step: str | None
    progress: int
    attempts: int
    created_at: float
    updated_at: float
    error: str | None = None
    result: bytes | None = None
