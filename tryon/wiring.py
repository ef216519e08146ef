"""The service's parts, built from ``Settings``: the one place that turns configuration into objects."""

from __future__ import annotations

from typing import Callable

import numpy as np

from .engine import TryOnEngine, describe_engines
from .jobs import JobStore, RedisJobStore, SQLiteJobStore
from .model_store import INPAINTING_MODEL, PARSING_MODEL, engine_for, model_tag
from .results import ResultPublisher
from .settings import Settings
from .storage import S3ResultStorage
from .vision.analyzer import CanvasPersonAnalyzer
from .vision.diffusion import FramedInpainting
from .vision.parsing import CanvasClothesParser

BatchFunction = Callable[[np.ndarray], np.ndarray]


def build_engine(
    settings: Settings,
    *,
    segment_batch: BatchFunction,
    estimate_batch: BatchFunction,
    parse_batch: BatchFunction,
    inpaint_packed: BatchFunction,
) -> TryOnEngine:
    """The pipeline over the model runners' batch APIs, with the learned steps the settings choose.

    ``TRYON_PARSING_ENGINE`` / ``TRYON_INPAINT_ENGINE`` resolve as the runners resolve them (same
    variables, same model store); a configured model that is missing raises ``MissingModelError``.
    """
    parsing = engine_for(settings.parsing_engine, PARSING_MODEL, learned="segformer", classical="mediapipe")
    inpainting = engine_for(settings.inpaint_engine, INPAINTING_MODEL)
    parser = CanvasClothesParser(parse_batch) if parsing == "segformer" else None
    inpainter = (
        FramedInpainting(inpaint_packed, size=(settings.inpaint_height, settings.inpaint_width))
        if inpainting == "diffusers"
        else None
    )
    return TryOnEngine(
        CanvasPersonAnalyzer(segment_batch=segment_batch, estimate_batch=estimate_batch),
        limits=settings.image_limits,
        png_compress_level=settings.png_compress_level,
        parser=parser,
        inpainter=inpainter,
        engines=describe_engines(
            parsing_model=model_tag(PARSING_MODEL) if parser else None,
            inpainting_model=model_tag(INPAINTING_MODEL) if inpainter else None,
        ),
    )


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
