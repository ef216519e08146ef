"""What the store keeps about a job."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


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
    """The uploaded photos, as validated bytes (kept only until the job ends), and the request's
    options (e.g. ``category``), kept with the record. ``bottom_image``: a whole outfit's bottoms
    (``clothing_image`` is then the top), or None for one garment."""

    person_image: bytes
    clothing_image: bytes
    options: dict[str, Any] = field(default_factory=dict)  # JSON values: str, int, float, bool
    bottom_image: bytes | None = None


@dataclass(frozen=True)
class StoredPicture:
    """One result picture, encoded (PNG, JPEG or WebP): its bytes kept in the job store, or the key
    of the S3 object it was uploaded to."""

    data: bytes | None = None
    key: str | None = None


@dataclass(frozen=True)
class JobResult:
    """A completed job's output: its pictures (the first is ``result_b64``/``result_url``), a warning
    when something went wrong on the way, and what the pipeline decided."""

    pictures: tuple[StoredPicture, ...] = ()
    warning: str | None = None
    details: dict = field(default_factory=dict)  # what the pipeline decided (category, notes)


@dataclass(frozen=True)
class JobRecord:
    """One job's state. Once completed, ``pictures`` holds at least one (and ``warning`` is set
    when something went wrong on the way); once failed, ``error``."""

    job_id: str
    status: JobStatus
    step: str | None
    progress: int
    attempts: int
    created_at: float
    updated_at: float
    error: str | None = None
    pictures: tuple[StoredPicture, ...] = ()
    warning: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    details: dict = field(default_factory=dict)
