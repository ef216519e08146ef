from __future__ import annotations

import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.redis_server import RedisServer
from tryon.jobs import JobStore, SQLiteJobStore

StoreFactory = Callable[..., JobStore]


@pytest.fixture
def redis_namespace() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["sqlite", "redis"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Builds stores of each implementation; every store made by one test shares its data."""
    stores: list[JobStore] = []

    if request.param == "sqlite":

        def build(lease_seconds: float, max_attempts: int) -> JobStore:
            return SQLiteJobStore(
                tmp_path / "jobs.sqlite3", lease_seconds=lease_seconds, max_attempts=max_attempts
            )

    else:
        from tryon.jobs import RedisJobStore

        server: RedisServer = request.getfixturevalue("redis_server")
        namespace = request.getfixturevalue("redis_namespace")

        def build(lease_seconds: float, max_attempts: int) -> JobStore:
            return RedisJobStore(
                server.url, lease_seconds=lease_seconds, max_attempts=max_attempts, namespace=namespace
            )

    def make(lease_seconds: float = 20, max_attempts: int = 3) -> JobStore:
        store = build(lease_seconds, max_attempts)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()
