"""Runner calls are sent again when the kept-alive connection under them was dropped."""

from __future__ import annotations

import aiohttp
import pytest

from runners.calls import ATTEMPTS, retry_dropped_connections


class FlakyRunner:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self, batch: list[int]) -> list[int]:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return [value * 2 for value in batch]


def test_a_dropped_connection_is_tried_again() -> None:
    runner = FlakyRunner([aiohttp.ServerDisconnectedError()])
    assert retry_dropped_connections(runner, "segment")([1, 2]) == [2, 4]
    assert runner.calls == 2


def test_it_gives_up_after_the_last_attempt() -> None:
    runner = FlakyRunner([aiohttp.ServerDisconnectedError() for _ in range(ATTEMPTS)])
    with pytest.raises(aiohttp.ServerDisconnectedError):
        retry_dropped_connections(runner, "segment")([1])
    assert runner.calls == ATTEMPTS


def test_other_errors_are_not_retried() -> None:
    runner = FlakyRunner([ValueError("bad canvas")])
    with pytest.raises(ValueError):
        retry_dropped_connections(runner, "segment")([1])
    assert runner.calls == 1
