"""Runner calls are sent again when the kept-alive connection under them was dropped."""

from __future__ import annotations

import aiohttp
import pytest

from tryon.runner_calls import ATTEMPTS, retry_dropped_connections


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


def test_one_progress_call_per_interval_answers_every_watching_job() -> None:
    import threading
    import time

    from tryon.runner_calls import ProgressPoller

    calls: list[list[str]] = []

    def progress(request_ids: list[str]) -> dict[str, list[int]]:
        calls.append(request_ids)
        return {request_id: [len(calls), 50] for request_id in request_ids}

    poller = ProgressPoller(progress, interval=0.05)
    seen: dict[str, tuple[int, int]] = {}

    def job(request_id: str) -> None:
        with poller.watch(request_id) as latest:
            time.sleep(0.5)
            seen[request_id] = latest()

    jobs = [threading.Thread(target=job, args=(f"job-{index}",)) for index in range(5)]
    for thread in jobs:
        thread.start()
    for thread in jobs:
        thread.join()
    assert 3 <= len(calls) <= 15  # about one per interval for the five jobs, not one each
    assert max(len(ids) for ids in calls) == 5
    assert all(done > 0 and total == 50 for done, total in seen.values()) and len(seen) == 5
    idle = len(calls)
    time.sleep(0.2)
    assert len(calls) <= idle + 1  # nobody watching: no calls
