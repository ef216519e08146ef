from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from tryon.jobs import JobStore, SQLiteJobStore

StoreFactory = Callable[..., JobStore]


@pytest.fixture(params=["sqlite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Builds stores of each implementation; every store made by one test shares its data."""
    stores: list[JobStore] = []

    def make(lease_seconds: float = 20, max_attempts: int = 3) -> JobStore:
        store = SQLiteJobStore(
            tmp_path / "jobs.sqlite3", lease_seconds=lease_seconds, max_attempts=max_attempts
        )
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()
