"""Every patch of a library, and every reach into its private parts, in one place.

Each says why in its docstring; ``tests/test_library_internals.py`` fails when a library changes under one.
"""

from __future__ import annotations

from typing import Any, Callable


def label_bentoml_request_metrics(label: Callable[[dict], str]) -> None:
    """Label BentoML's request metrics with ``label(scope)`` instead of the raw path, which made one
    series per job id. Call it before the server starts, which builds the middleware from this class."""
    from bentoml._internal.server.http import instruments

    real_path_key = "tryon.real_path"

    def restore_real_path(inner: Any) -> Callable:
        async def app(scope: dict, receive: Any, send: Any) -> None:
            if real_path_key in scope:
                scope = {**scope, "path": scope[real_path_key]}
            await inner(scope, receive, send)

        return app

    class LabelledRequestMetrics(instruments.RunnerTrafficMetricsMiddleware):
        """Hands BentoML the label as the path; the app behind it gets the real path back."""

        def __init__(self, inner: Any, **options: Any) -> None:
            super().__init__(restore_real_path(inner), **options)

        async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                scope = {**scope, "path": label(scope), real_path_key: scope["path"]}
            await super().__call__(scope, receive, send)

    instruments.RunnerTrafficMetricsMiddleware = LabelledRequestMetrics


def keep_multipart_uploads_in_memory(max_bytes: int) -> None:
    """Parse file parts up to ``max_bytes`` in memory: Starlette spools any over 1 MB to a temporary
    file (a submit reads the photo into memory anyway), and FastAPI has no per-route setting."""
    from starlette.formparsers import MultiPartParser

    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, max_bytes)


def nvidia_gpu_count() -> int:
    """The GPUs BentoML's allocator sees, counted as it counts them (its private NVML wrapper; 0
    without a driver)."""
    from bentoml._internal.resource import NvidiaGpuResource

    return len(NvidiaGpuResource.from_system())


def model_store_folder() -> str:
    """Where BentoML's model store is, for error messages (BentoML has no public way to say)."""
    from bentoml._internal.configuration.containers import BentoMLContainer

    return str(BentoMLContainer.model_store.get()._path)


def bentoml_default_address() -> tuple[str, int]:
    """The host and port ``bentoml serve`` binds when its command line names none, from BentoML's
    configuration (BentoML has no public way to say)."""
    from bentoml._internal.configuration.containers import BentoMLContainer

    return BentoMLContainer.http.host.get(), BentoMLContainer.http.port.get()


def is_remote_runner(dependency: Any) -> bool:
    """Whether a ``bentoml.depends`` dependency is a client of a runner served apart, rather than the
    runner object itself (in-process); BentoML's client class is private."""
    from _bentoml_impl.client import RemoteProxy

    return isinstance(dependency, RemoteProxy)
