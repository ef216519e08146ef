"""A real ``bentoml serve`` of the service on a free loopback port, driven over HTTP."""

from __future__ import annotations

import pytest

from .served import ServedService


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory):
    served = ServedService(tmp_path_factory.mktemp("served")).start()
    yield served
    served.stop()
