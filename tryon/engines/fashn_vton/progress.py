"""Sampling progress for every job of a process from one runner call per interval (docs/fashn-vton.md)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

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
