"""Where a finished job's PNG goes: to S3 when configured, otherwise into the job store.

An upload that keeps failing does not lose the result: the job completes with the PNG kept in
the store (served as ``result_b64``) and a warning that says why.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from ..jobs import JobRecord, JobResult
from .s3 import S3ResultStorage, StorageError

log = logging.getLogger(__name__)


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

    def publish(self, job_id: str, png: bytes) -> JobResult:
        if self._storage is None:
            return JobResult(png=png)
        try:
            key = self._storage.put_result(job_id, png)
        except StorageError as error:
            log.warning("job %s: result upload failed, keeping it in the job store: %s", job_id, error)
            self._set_error(str(error))
            return JobResult(
                png=png,
                warning=f"The result could not be uploaded to S3 ({error}); it is returned as "
                "result_b64 instead.",
            )
        self._set_error(None)
        return JobResult(object_key=key)

    def url_for(self, key: str) -> str:
        """A freshly signed link, so a client that polls late still gets one that works."""
        return self._configured_storage(key).presigned_url(key)

    def png_of(self, record: JobRecord) -> bytes:
        """A completed job's PNG, wherever it was kept."""
        if record.result_key:
            return self._configured_storage(record.result_key).get_result(record.result_key)
        return record.result or b""

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
