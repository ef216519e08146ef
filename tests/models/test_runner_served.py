"""The parsing runner served by BentoML on the test models, reached through ``bentoml.depends`` as the
try-on service reaches it: a missing model stops start-up, and concurrent requests become one batch."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from benchmarks.batching import BatchingBench
from tests.models.served_runner import ServedRunner

pytestmark = pytest.mark.e2e

CANVAS = 512  # big enough that a model call lasts while the other requests queue behind it


def test_a_configured_model_missing_from_the_store_stops_the_runner(tmp_path: Path) -> None:
    env = {"BENTOML_HOME": str(tmp_path / "empty"), "TRYON_PARSING_ENGINE": "segformer"}
    runner = ServedRunner("tryon.engines.classical.runners:ParsingRunner", tmp_path, env)
    try:
        assert runner.wait_for_log("MissingModelError", timeout=90), runner.log()
    finally:
        runner.stop()
    assert "is not in the BentoML model store" in runner.log()
    assert "model_store_scripts/import_models.py" in runner.log()
    assert "could not be found locally" not in runner.log()  # BentoML's own, less helpful, message


def test_concurrent_requests_reach_the_model_as_one_batch(
    empty_store: Path, model_env: dict[str, str], tmp_path: Path
) -> None:
    env = {"BENTOML_HOME": str(empty_store), **model_env}

    async def bursts(server: ServedRunner) -> list[dict]:
        async with server.client(BatchingBench, timeout=300) as client:
            return [
                await client.burst(batching=True, concurrency=1, requests_per_client=1, canvas=CANVAS),
                await client.burst(batching=True, concurrency=6, requests_per_client=1, canvas=CANVAS),
                await client.burst(batching=False, concurrency=3, requests_per_client=1, canvas=CANVAS),
            ]

    with ServedRunner("benchmarks.batching:BatchingBench", tmp_path, env).start() as server:
        alone, together, unbatched = asyncio.run(bursts(server))
    assert alone["mean_batch"] == 1 and len(alone["latencies"]) == 1
    assert len(together["latencies"]) == 6
    assert together["mean_batch"] >= 2, together  # 6 concurrent requests in at most 3 batches
    assert unbatched["mean_batch"] == 1
