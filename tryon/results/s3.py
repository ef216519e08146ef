"""Result storage in S3: each result picture of a finished job is uploaded once; every poll gets a fresh link.

The job store keeps the object KEY (``{prefix}{job_id}.png``, ``.jpg`` or ``.webp`` after the
output format; ``{prefix}{job_id}-{n}.png`` for the picture n > 0 of a job with several), never a URL: ``presigned_url(key)`` signs
a new GET link on each poll (locally, no network), so a client that polls late still gets a working one.
Configuration comes in as arguments; credentials and region follow boto3's standard chain
(environment, shared config files, instance or task role).

Expiring old results is the bucket's job, not the service's. Set a lifecycle rule on the prefix, with
more days than the job store keeps jobs (a poll of a kept job must not point at a deleted object)::

    aws s3api put-bucket-lifecycle-configuration --bucket BUCKET --lifecycle-configuration '{
      "Rules": [{"ID": "expire-tryon-results", "Status": "Enabled",
                 "Filter": {"Prefix": "results/"}, "Expiration": {"Days": 7}}]}'

The write check of ``check()`` leaves ``{prefix}.write-check-*`` objects behind only when deleting is
denied; the same rule removes them.

Presigned links are valid for ``url_expires`` seconds (SigV4 allows at most 7 days), and never longer than
the credentials that signed them: links signed with temporary credentials (an instance or task role)
stop working when those credentials expire, whatever ``url_expires`` says.
"""

from __future__ import annotations

import logging
import time
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError

logger = logging.getLogger(__name__)

MAX_URL_EXPIRES = 7 * 24 * 3600  # SigV4 presigned URLs cannot live longer
_RETRYABLE_CODES = {"RequestTimeout", "SlowDown", "Throttling", "ThrottlingException", "InternalError"}


class StorageError(Exception):
    """Result storage cannot be used. The message names the bucket and the reason, for an operator."""


class S3ResultStorage:
    """Uploads result pictures to ``s3://{bucket}/{prefix}{job_id}{suffix}`` and signs GET links for them.

    Thread-safe: boto3 clients may be shared between threads. Network calls use short timeouts
    (3 s connect, 10 s read) and botocore makes a single try per call, so ``attempts`` and
    ``backoff_seconds`` alone govern retries (waits of backoff, 2x backoff, 4x backoff, ...).
    """

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "results/",
        endpoint_url: str | None = None,
        url_expires: int = 3600,
        region: str | None = None,
        attempts: int = 4,
        backoff_seconds: float = 0.25,
        client=None,
    ) -> None:
        if not bucket or "/" in bucket:
            raise ValueError(f"bucket must be a bucket name without '/', got {bucket!r}")
        if prefix.startswith("/"):
            raise ValueError(f"prefix must not start with '/', got {prefix!r}")
        if not 1 <= url_expires <= MAX_URL_EXPIRES:
            raise ValueError(
                f"url_expires must be between 1 and {MAX_URL_EXPIRES} seconds, got {url_expires}"
            )
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {attempts}")
        if backoff_seconds < 0:
            raise ValueError(f"backoff_seconds must not be negative, got {backoff_seconds}")
        self.bucket = bucket
        self.prefix = prefix
        self.url_expires = url_expires
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        if client is None:
            client = _build_client(endpoint_url=endpoint_url, region=region)
        self.client = client

    @property
    def endpoint(self) -> str:
        """Where requests go, for messages (the AWS endpoint of the region when none was given)."""
        return self.client.meta.endpoint_url

    def check(self) -> None:
        """At start-up: the bucket exists and a probe object can be written under the prefix.

        One try per request, no retries. Raises StorageError with the bucket and the reason.
        """
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(self._bucket_problem(exc)) from exc

        probe_key = f"{self.prefix}.write-check-{uuid.uuid4().hex}"
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=probe_key, Body=b"write check", ContentType="text/plain"
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"cannot write to bucket '{self.bucket}': {self._reason(exc)}") from exc
        try:
            self.client.delete_object(Bucket=self.bucket, Key=probe_key)
        except (BotoCoreError, ClientError) as exc:
            # Serving results needs put and get only; the lifecycle rule removes the probe later.
            logger.warning(
                "cannot delete probe %r from bucket %r: %s", probe_key, self.bucket, self._reason(exc)
            )

    def put_result(
        self, job_id: str, picture: bytes, *, media_type: str = "image/png", suffix: str = ".png", index: int = 0
    ) -> str:
        """Upload the result picture ``index`` of ``job_id`` (``media_type``, its file ``suffix``);
        return its key. Retries transient failures with backoff.

        Errors that retrying cannot fix (no such bucket, access denied, bad credentials) fail at once.
        Raises StorageError after the last attempt.
        """
        if not job_id or "/" in job_id or job_id.startswith("."):
            raise ValueError(f"job_id must be a plain name (no '/', no leading '.'), got {job_id!r}")
        key = f"{self.prefix}{job_id}{f'-{index}' if index else ''}{suffix}"
        for attempt in range(1, self.attempts + 1):
            try:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=picture, ContentType=media_type)
                return key
            except (BotoCoreError, ClientError) as exc:
                reason = self._reason(exc)
                if not _is_transient(exc):
                    raise StorageError(f"cannot upload '{key}' to bucket '{self.bucket}': {reason}") from exc
                if attempt == self.attempts:
                    raise StorageError(
                        f"cannot upload '{key}' to bucket '{self.bucket}' "
                        f"after {self.attempts} attempts: {reason}"
                    ) from exc
                delay = self.backoff_seconds * 2 ** (attempt - 1)
                logger.warning(
                    "upload of %r failed (attempt %d of %d, next in %.2f s): %s",
                    key, attempt, self.attempts, delay, reason,
                )
                time.sleep(delay)
        raise AssertionError("unreachable")  # the loop returns or raises

    def get_result(self, key: str) -> bytes:
        """The stored picture (for callers that want the bytes rather than a link)."""
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"cannot read s3://{self.bucket}/{key}: {self._reason(exc)}") from None

    def presigned_url(self, key: str) -> str:
        """A GET link for ``key`` valid for ``url_expires`` seconds. Signed locally: no request is made."""
        if not key:
            raise ValueError("key must not be empty")
        try:
            return self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=self.url_expires
            )
        except BotoCoreError as exc:
            raise StorageError(
                f"cannot sign a link for '{key}' in bucket '{self.bucket}': {self._reason(exc)}"
            ) from exc

    # -- messages ----------------------------------------------------------------------------------

    def _bucket_problem(self, exc: Exception) -> str:
        if isinstance(exc, ClientError):
            code = _error_code(exc)
            if code in {"404", "NoSuchBucket", "NotFound"}:
                return f"bucket '{self.bucket}' does not exist at {self.endpoint}"
            if code in {"403", "AccessDenied", "Forbidden"}:
                # HEAD answers carry no body: a wrong key or secret also reads as a bare 403.
                return (
                    f"access to bucket '{self.bucket}' denied (403): "
                    "check the credentials and the bucket policy"
                )
        return f"cannot use bucket '{self.bucket}': {self._reason(exc)}"

    def _reason(self, exc: Exception) -> str:
        if isinstance(exc, BotoConnectionError):  # refused, DNS, connect timeout
            return f"S3 endpoint {self.endpoint} unreachable ({exc})"
        if isinstance(exc, HTTPClientError):  # read timeout, connection closed mid-request
            return f"S3 endpoint {self.endpoint} did not answer ({exc})"
        if isinstance(exc, NoCredentialsError):
            return "no AWS credentials found (environment, shared config files or an instance role)"
        if isinstance(exc, ClientError):
            code = _error_code(exc)
            message = exc.response.get("Error", {}).get("Message", "")
            return f"{code}: {message}" if message and message != code else code
        return str(exc)


def _build_client(*, endpoint_url: str | None, region: str | None):
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"} if endpoint_url else {},
        connect_timeout=3,
        read_timeout=10,
        retries={"total_max_attempts": 1, "mode": "standard"},  # one try per call; our backoff governs
    )
    # A session of our own: boto3's default session is shared, module-global state.
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "")) or "unknown error"


def _is_transient(exc: Exception) -> bool:
    """Worth another try: the network, timeouts, throttling and server errors."""
    if isinstance(exc, (BotoConnectionError, HTTPClientError)):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500 or status in {408, 429} or _error_code(exc) in _RETRYABLE_CODES
    return False
