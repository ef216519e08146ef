"""The service's configuration: one object, read from ``TRYON_*`` environment variables at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .engines.classical.settings import ClassicalSettings
from .engines.fashn_vton.settings import FashnVtonSettings
from .images import ImageLimits


class ModelSettings(FashnVtonSettings, ClassicalSettings, BaseSettings):
    """The engine and model knobs, which the runners read on their own, in their own processes.

    ``TRYON_ENGINE`` chooses the engine; each engine's own knobs are declared in its folder
    (``tryon/engines/<engine>/settings.py``) and read here, with their ``TRYON_`` names.
    """

    model_config = SettingsConfigDict(env_prefix="TRYON_", extra="ignore")

    engine: str = Field(
        default="auto",
        description="The try-on engine: a name from tryon/engines/registry.py (e.g. 'classical'), or "
        "'auto': the first engine whose runner has its model and its device, else classical.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO",
        description="Level of the service's own log lines (job ids, steps, failures; the runners' sampling runs).",
    )
    allow_non_commercial: bool = Field(
        default=False,
        description="Let 'auto' choices (TRYON_PARSING_ENGINE, the FASHN runner's worn-garment masking) use "
        "stored models whose licence or base weights' licence forbids commercial use (the SegFormer "
        "clothes parser). Off: such a model is used only when named explicitly.",
    )


class Settings(ModelSettings):
    """Every knob an operator can turn. Invalid values stop the service at start-up with a message.

    The engine and model knobs come from ``ModelSettings``, which the runners read on their own.
    """

    model_config = SettingsConfigDict(env_prefix="TRYON_", extra="ignore")

    data_dir: Path = Field(
        default=Path("data"),
        description="Where the embedded job store (SQLite) keeps jobs, inputs and results.",
    )
    workers: int = Field(default=2, ge=1, le=64, description="Jobs that run at once in each replica.")
    max_upload_mb: float = Field(default=20, gt=0, le=200, description="Largest accepted upload per file.")
    max_megapixels: float = Field(
        default=40, gt=0, le=500, description="Largest accepted image area (decompression-bomb guard)."
    )
    max_side_px: int = Field(default=12_000, ge=64, description="Longest accepted image side.")
    max_decode_mb: float = Field(
        default=256,
        gt=0,
        le=4096,
        description="Largest memory one image's decode may take, estimated from its header (400 beyond).",
    )
    min_side_px: int = Field(default=64, ge=1, description="Shortest accepted image side.")
    working_side_px: int = Field(
        default=2048,
        ge=256,
        le=12_000,
        description="Photos are scaled down to this longest side before the pipeline (results too).",
    )
    max_attempts: int = Field(
        default=3, ge=1, le=20, description="Runs of one job (restarts included) before it is failed."
    )
    job_lease_seconds: float = Field(
        default=20,
        ge=2,
        description="A running job not renewed for this long is taken over (its process died).",
    )
    png_compress_level: int = Field(default=1, ge=0, le=9, description="zlib level of the result PNG.")
    job_timeout_seconds: float = Field(
        default=300, gt=0, description="A job still running after this long is failed with a reason."
    )
    max_queue: int = Field(
        default=1000, ge=1, description="Queued jobs beyond which POST /api/tryon answers 429."
    )
    api_key: SecretStr | None = Field(
        default=None, description="When set, /api/ and task routes need 'Authorization: Bearer <key>'."
    )
    result_retention_hours: float = Field(
        default=168, gt=0, description="Finished jobs (and results kept in the store) are deleted after this."
    )

    webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC-SHA256 key of the X-Tryon-Signature header of webhook deliveries."
    )
    webhook_allow_private: bool = Field(
        default=False, description="Allow webhook URLs on loopback, link-local and private addresses."
    )
    image_url_allow_private: bool = Field(
        default=False,
        description="Allow person_image_url and clothing_image_url on loopback, link-local and private "
        "addresses (apart from TRYON_WEBHOOK_ALLOW_PRIVATE: a fetched photo comes back in the result).",
    )
    image_url_timeout_seconds: float = Field(
        default=10, gt=0, le=120, description="Time limit of fetching one photo by URL (lookup, redirects, body)."
    )
    image_url_max_fetches: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Submissions fetching their photos by URL at once in the API process (each holds one of "
        "its request threads for up to the time limit): one more is answered 429 with Retry-After.",
    )

    redis_url: str | None = Field(
        default=None, description="Share jobs between replicas through this Redis (else SQLite)."
    )

    s3_bucket: str | None = Field(default=None, description="Upload results here (turns S3 on).")
    s3_prefix: str = Field(default="results/", description="Key prefix of result objects.")
    s3_endpoint_url: str | None = Field(default=None, description="For S3-compatible stores; unset is AWS.")
    s3_url_expires: int = Field(
        default=3600, ge=1, le=7 * 24 * 3600, description="Lifetime of presigned result URLs (seconds)."
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("api_key")
    @classmethod
    def _sendable_in_a_header(cls, value: SecretStr | None) -> SecretStr | None:
        """Any characters work (compared as UTF-8 or Latin-1 bytes) except what no client can send
        in ``Authorization: Bearer <key>``: control characters, and spaces around the key."""
        key = value.get_secret_value() if value else ""
        if any(ord(char) < 32 or ord(char) == 127 for char in key) or key != key.strip():
            raise ValueError("TRYON_API_KEY must not contain control characters nor begin or end with a space")
        return value

    @property
    def image_limits(self) -> ImageLimits:
        return ImageLimits(
            max_bytes=int(self.max_upload_mb * 1024 * 1024),
            max_pixels=int(self.max_megapixels * 1_000_000),
            max_side=self.max_side_px,
            min_side=self.min_side_px,
            working_side=self.working_side_px,
            max_decode_bytes=int(self.max_decode_mb * 1024 * 1024),
        )

    @property
    def database_path(self) -> Path:
        return self.data_dir / "jobs.sqlite3"
