"""The inpainting runner served by BentoML on the test models: a missing model stops start-up, and
concurrent requests reach the model as one batch."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from tests.models.conftest import TEST_SIZE, person_batch
from tests.models.served_runner import ServedRunner
from runners.inpainting import InpaintingRunner
from tryon.vision.diffusion import pack_requests

SERVICE = "runners.inpainting:InpaintingRunner"


def test_a_configured_model_missing_from_the_store_stops_the_runner(tmp_path: Path) -> None:
    env = {"BENTOML_HOME": str(tmp_path / "empty"), "TRYON_INPAINT_ENGINE": "diffusers"}
    runner = ServedRunner(SERVICE, tmp_path, env)
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
    with ServedRunner(SERVICE, tmp_path, env) as runner:
        images, masks, garments, seeds = person_batch(4)
        requests = [pack_requests(images[i : i + 1], masks[i : i + 1], garments[i : i + 1], seeds[i : i + 1]) for i in range(4)]

        async def send_all() -> list[np.ndarray]:
            async with runner.client(InpaintingRunner, timeout=120) as client:
                await client.inpaint(requests=requests[0])  # warm-up: one batch of one
                return await asyncio.gather(*(client.inpaint(requests=request) for request in requests))

        before_items, before_batches = runner.batch_totals("inpaint")
        results = asyncio.run(send_all())
        items, batches = runner.batch_totals("inpaint")
    assert [result.shape for result in results] == [(1, *TEST_SIZE, 3)] * 4
    assert all(result.dtype == np.uint8 for result in results)
    # 5 requests (the warm-up alone, then 4 at once) in fewer than 5 batches: some were merged.
    assert items - before_items == 5
    assert batches - before_batches < 5, runner.log()
