"""Calls to the runner services, retried when the connection under them was dropped.

A request sent on a kept-alive connection just as the runner's server closes it fails before the
runner sees it, and BentoML's client closes its old HTTP session, calls in flight included, when
it replaces it (docs/fashn-vton.md). Sending a call again is safe: pose and parsing are pure
inference, and the FASHN runner samples a request id once however often it is sent.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, TypeVar

import aiohttp
import anyio.from_thread
import anyio.lowlevel

from tryon.library_internals import is_remote_runner

log = logging.getLogger(__name__)
T = TypeVar("T")
ATTEMPTS = 3


def retry_dropped_connections(call: Callable[..., T], name: str) -> Callable[..., T]:
    """``call``, tried up to ``ATTEMPTS`` times while it fails with a dropped connection."""

    def retried(*args, **kwargs) -> T:
        for _ in range(ATTEMPTS - 1):
            try:
                return call(*args, **kwargs)
            except aiohttp.ClientConnectionError as error:  # disconnected, reset, refused
                log.warning("%s: %s (%s); trying again", name, type(error).__name__, error)
        return call(*args, **kwargs)

    return retried


def runner_api_from_threads(service: Any) -> Callable[[Any, str], Callable[..., Any]]:
    """``runner_api(RunnerService, "api")`` for the engines: that API of ``service``'s dependency on the
    runner, callable from the job worker threads. Call it on the server's event loop (in ``__init__``).

    A remote runner's sync client only works in AnyIO's own threads, so plain threads hand the
    async call to the server's event loop. In-process (tests), the dependency is the runner object itself.
    """
    token = anyio.lowlevel.current_token()

    def runner_api(runner: Any, api_name: str) -> Callable[..., Any]:
        dependency = getattr(service, runner.name)
        if not is_remote_runner(dependency):
            return getattr(dependency, api_name)
        return retry_dropped_connections(
            lambda *args: anyio.from_thread.run(dependency.to_async.call, api_name, *args, token=token),
            f"{runner.name}.{api_name}",
        )

    return runner_api
