"""Shared fixtures: the test photos (``tests/data``, with their licence notice) and small image factories."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis_server import RedisServer
from tests.s3_server import SeaweedS3

REPO = Path(__file__).resolve().parents[1]
E2E_FOLDER = REPO / "tests" / "e2e"
DATA_DIR = Path(os.environ.get("TRYON_TEST_DATA", REPO / "tests" / "data"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    assert DATA_DIR.is_dir(), f"test photos not found at {DATA_DIR} (set TRYON_TEST_DATA)"
    return DATA_DIR


@pytest.fixture(scope="session")
def person_bytes(data_dir: Path) -> bytes:
    return (data_dir / "persons" / "studio_man_hoodie.png").read_bytes()


@pytest.fixture(scope="session")
def garment_bytes(data_dir: Path) -> bytes:
    return (data_dir / "garments" / "shirt_oxford_blue.jpg").read_bytes()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """A real S3 server (SeaweedFS) on loopback, with its own credentials."""
    with SeaweedS3(tmp_path_factory.mktemp("seaweed")) as server:
        yield server


@pytest.fixture()
def bucket(s3_server: SeaweedS3) -> str:
    return s3_server.create_bucket()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server for the session; tests keep apart by namespace."""
    with RedisServer() as server:
        yield server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under ``tests/e2e`` is an end-to-end test (``-m "not e2e"`` runs the rest); tests
    elsewhere that start a server carry ``@pytest.mark.e2e`` themselves."""
    for item in items:
        if E2E_FOLDER in item.path.parents:
            item.add_marker(pytest.mark.e2e)
