"""Calls to the runner services: retried when the connection under them was dropped, and progress
asked for many requests in one call.

A request sent on a kept-alive connection just as the runner's server closes it fails before the
runner sees it, and BentoML's client closes its old HTTP session, calls in flight included, when
it replaces it (docs/fashn-vton.md). Sending a call again is safe: pose and parsing are pure
inference, and the FASHN runner samples a request id once however often it is sent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Callable, TypeVar

import aiohttp
import anyio.from_thread
import anyio.lowlevel

from .compat import is_remote_runner

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


Progress = tuple[int, int]  # (steps done, steps in all); (0, 0) until the request starts


class ProgressPoller:
    """The progress of every request a process is waiting for, from one runner call per interval.

    ``progress(ids)`` is the runner's API (``{id: [done, total]}``). A job's thread ``watch``es its
    request id while its call waits and reads its latest progress with no call of its own; one
    daemon thread asks for all watched ids every ``interval`` seconds, and sleeps while none is
    watched. A failed poll is logged and tried again: progress only informs.
    """

    def __init__(self, progress: Callable[[list[str]], dict[str, list[int]]], interval: float) -> None:
        self._progress = progress
        self._interval = interval
        self._watched: dict[str, Progress] = {}
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    @contextmanager
    def watch(self, request_id: str) -> Iterator[Callable[[], Progress]]:
        """Within the block, the returned function gives ``request_id``'s latest progress."""
        with self._changed:
            self._watched[request_id] = (0, 0)
            if self._thread is None:
                self._thread = threading.Thread(target=self._poll, name="runner-progress", daemon=True)
                self._thread.start()
            self._changed.notify()
        try:
            yield lambda: self._watched.get(request_id, (0, 0))
        finally:
            with self._changed:
                self._watched.pop(request_id, None)

    def _poll(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._watched)
                request_ids = list(self._watched)
            try:
                answer = self._progress(request_ids)
            except Exception as error:  # the runner restarting or busy: keep the last figures
                log.warning("progress of %d request(s): %s: %s", len(request_ids), type(error).__name__, error)
            else:
                with self._changed:
                    for request_id, (done, total) in answer.items():
                        if request_id in self._watched:
                            self._watched[request_id] = (done, total)
            time.sleep(self._interval)
