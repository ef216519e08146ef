"""Calls to the runner services, retried when the connection under them was dropped.

The runners' HTTP servers close idle kept-alive connections; a request sent on one just as it is
closed fails with ``ServerDisconnectedError`` before the runner saw it. That happened to about one
job in a few hundred under load, and failed the job. Runner calls are pure inference, so sending
them again is safe.
"""

from __future__ import annotations

import logging
from typing import Callable, TypeVar

import aiohttp

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
