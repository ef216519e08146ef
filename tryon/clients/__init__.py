"""The clients: the ``tryon`` command (``cli``) and the Python client of the HTTP API (``api_client``)."""

from .api_client import TryOnClient, TryOnFailed, TryOnTimeout

__all__ = ["TryOnClient", "TryOnFailed", "TryOnTimeout"]
