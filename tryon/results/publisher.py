"""Where a finished job's pictures go: encoded once, in the job's output format (PNG, JPEG or WebP),
then to S3 when configured, otherwise into the job store.

An upload that keeps failing does not lose the result: the job completes with the pictures kept in
the store (served as ``result_b64``) and a warning that says why.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..images import OutputFormat, encode_picture
from ..jobs import JobRecord, JobResult, StoredPicture
from .s3 import S3ResultStorage, StorageError

log = logging.getLogger(__name__)


def output_format_of(options: Mapping[str, Any], png_compress_level: int) -> OutputFormat:
    """A job's ``output_format`` and ``output_quality`` options (validated by the API; PNG without them)."""
    quality = options.get("output_quality")
    return OutputFormat(
        name=str(options.get("output_format") or "png"),
        quality=int(quality) if quality is not None else None,
        png_compress_level=png_compress_level,
    )


@dataclass(frozen=True)
class StorageStatus:
    backend: str
    bucket: str | None = None
    error: str | None = None


class ResultPublisher:
    def __init__(self, storage: S3ResultStorage | None) -> None:
        self._storage = storage
        self._error: str | None = None
        self._lock = threading.Lock()

    def check(self) -> None:
        """At start-up: log, and report in /health, a bucket that is missing or cannot be written."""
        if self._storage is None:
            return
        try:
            self._storage.check()
        except StorageError as error:
            log.error("S3 result storage is not usable: %s (results fall back to base64)", error)
            self._set_error(str(error))
        else:
            log.info("S3 result storage ready: s3://%s/%s", self._storage.bucket, self._storage.prefix)

    def publish(self, job_id: str, pictures: Sequence[np.ndarray], output: OutputFormat) -> JobResult:
        """Encode each ``HxWx3`` uint8 RGB picture in ``output``'s format and keep it: uploaded to S3
        (one object per picture), or its bytes in the job store when S3 is not configured or fails."""
        encoded = [encode_picture(picture, output) for picture in pictures]
        kept = tuple(StoredPicture(data=data) for data in encoded)
        if self._storage is None:
            return JobResult(pictures=kept)
        try:
            keys = [
                self._storage.put_result(job_id, data, media_type=output.media_type, suffix=output.suffix, index=index)
                for index, data in enumerate(encoded)
            ]
        except StorageError as error:
            log.warning("job %s: result upload failed, keeping it in the job store: %s", job_id, error)
            self._set_error(str(error))
            return JobResult(
                pictures=kept,
                warning=f"The result could not be uploaded to S3 ({error}); it is returned as "
                "result_b64 instead.",
            )
        self._set_error(None)
        return JobResult(pictures=tuple(StoredPicture(key=key) for key in keys))

    def url_for(self, key: str) -> str:
        """A freshly signed link, so a client that polls late still gets one that works."""
        return self._configured_storage(key).presigned_url(key)

    def picture_of(self, record: JobRecord) -> bytes:
        """A completed job's first picture, encoded, wherever it was kept."""
        picture = record.pictures[0] if record.pictures else StoredPicture()
        if picture.key:
            return self._configured_storage(picture.key).get_result(picture.key)
        return picture.data or b""

    @property
    def status(self) -> StorageStatus:
        if self._storage is None:
            return StorageStatus(backend="job store (result_b64)")
        with self._lock:
            return StorageStatus(backend="s3", bucket=self._storage.bucket, error=self._error)

    def _configured_storage(self, key: str) -> S3ResultStorage:
        if self._storage is None:
            raise StorageError(f"result {key} is in S3, but S3 is not configured any more")
        return self._storage

    def _set_error(self, error: str | None) -> None:
        with self._lock:
            self._error = error
