"""The documented HTTP API: FastAPI routes over the job store, with pydantic shapes for every answer."""

from .app import ServiceState, create_app

__all__ = ["ServiceState", "create_app"]
