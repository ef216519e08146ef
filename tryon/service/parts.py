"""The service's parts, built from ``Settings``: the one place that turns configuration into objects."""

from __future__ import annotations

from ..engines.base import RunnerAPI, TryOnEngine
from ..engines.registry import engines
from ..jobs import JobStore, RedisJobStore, SQLiteJobStore
from ..results import ResultPublisher
from ..settings import Settings
from ..results.s3 import S3ResultStorage


def build_engines(settings: Settings, runner_api: RunnerAPI) -> dict[str, TryOnEngine]:
    """Every registered engine's adapter over its runners, by name, in priority order (none is
    chosen here: ``JobWorkers`` asks their runners)."""
    return {spec.name: spec.build(settings, runner_api) for spec in engines()}


def build_job_store(settings: Settings) -> JobStore:
    """Redis when ``TRYON_REDIS_URL`` is set (several replicas), else SQLite under the data dir."""
    if settings.redis_url:
        return RedisJobStore(
            settings.redis_url,
            lease_seconds=settings.job_lease_seconds,
            max_attempts=settings.max_attempts,
        )
    return SQLiteJobStore(
        settings.database_path,
        lease_seconds=settings.job_lease_seconds,
        max_attempts=settings.max_attempts,
        result_reserve_bytes=settings.working_side_px**2 * 3,  # the largest result PNG, about
    )


def build_result_publisher(settings: Settings) -> ResultPublisher:
    """S3 when ``TRYON_S3_BUCKET`` is set, else results stay in the job store."""
    if not settings.s3_bucket:
        return ResultPublisher(None)
    return ResultPublisher(
        S3ResultStorage(
            bucket=settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            url_expires=settings.s3_url_expires,
        )
    )
