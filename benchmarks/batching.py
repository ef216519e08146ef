"""Throughput and latency of the parsing runner with adaptive batching on and off.

    python benchmarks/batching.py [--concurrency 1 4 8 16] [--requests-per-client 3] [--canvas 512]
    python benchmarks/batching.py --store ~/bentoml        # the imported SegFormer, e.g. on a GPU machine

It builds the test clothes parser in a temporary BENTOML_HOME (a tiny random SegFormer; ``--store``
uses that store's model instead), then serves ``BatchingBench``: a front service that, like the
try-on service, reaches the runners through ``bentoml.depends`` (pickle over the runners' sockets).
One runner is the real ``ParsingRunner`` (adaptive batching on); the other is the same model behind a
plain API that runs one request at a time (batching off). For each N, N concurrent clients each send
``--requests-per-client`` one-canvas requests; the table shows canvases per second, per-request
latency (p50, p95) and the mean batch the runner ran.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import bentoml
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from runners.gpus import gpu_services, share_gpus_when_too_few  # noqa: E402
from tryon.engines.classical.runners import ParsingRunner  # noqa: E402
from tryon.models.clothes_parser_store import PARSING_MODEL  # noqa: E402


@bentoml.service(resources={"gpu": 1}, workers=1, traffic={"timeout": 600})
class UnbatchedParsingRunner(ParsingRunner.inner):
    """``ParsingRunner``'s model behind a non-batchable API: one request, one model call."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    @bentoml.api
    def parse(self, canvases: np.ndarray) -> np.ndarray:
        with self._lock:
            self._batches.append(len(canvases))
            return self.model_in_memory().parse_batch(canvases)


@bentoml.service(workers=1, traffic={"timeout": 3600})
class BatchingBench:
    """Sends concurrent one-canvas requests to either runner and reports what each took."""

    batched = bentoml.depends(ParsingRunner)
    unbatched = bentoml.depends(UnbatchedParsingRunner)

    @bentoml.api
    async def burst(self, batching: bool, concurrency: int, requests_per_client: int, canvas: int) -> dict:
        """``concurrency`` clients each send ``requests_per_client`` requests of one ``canvas`` x
        ``canvas`` RGB canvas, one after another."""
        runner = self.batched if batching else self.unbatched
        latencies: list[float] = []

        async def client(index: int) -> None:
            rng = np.random.default_rng(index)
            for _ in range(requests_per_client):
                canvases = rng.integers(0, 256, (1, canvas, canvas, 3), dtype=np.uint8)
                started = time.perf_counter()
                labels = await runner.to_async.parse(canvases)
                latencies.append(time.perf_counter() - started)
                assert labels.shape == (1, canvas, canvas)

        before = await runner.to_async.batch_stats()
        started = time.perf_counter()
        await asyncio.gather(*(client(index) for index in range(concurrency)))
        seconds = time.perf_counter() - started
        after = await runner.to_async.batch_stats()
        batches = after["batches"] - before["batches"]
        return {"seconds": seconds, "latencies": latencies, "mean_batch": len(latencies) / max(1, batches)}


# Both runners ask for a GPU: on a one-GPU host, BentoML would give the second a device that does
# not exist, and it would run on the CPU.
share_gpus_when_too_few(gpu_services(BatchingBench))


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--requests-per-client", type=int, default=3)
    parser.add_argument("--canvas", type=int, default=512, help="side of the square canvases sent (px)")
    parser.add_argument("--store", type=Path, help="use this BENTOML_HOME's models instead of building test models")
    args = parser.parse_args()

    from tests.models.served_runner import ServedRunner

    with tempfile.TemporaryDirectory() as workdir:
        home = args.store or Path(workdir) / "bentoml"
        if args.store is None:  # in its own process: this one's BentoML already knows its store
            command = [sys.executable, str(REPO / "model_store_scripts" / "make_test_models.py"), PARSING_MODEL]
            subprocess.run(command, env={**os.environ, "BENTOML_HOME": str(home)}, check=True, capture_output=True)
        env = {"BENTOML_HOME": str(home), "TRYON_PARSING_ENGINE": "segformer"}
        model = "stored model" if args.store else "tiny test model"
        print(f"parsing runner, {args.canvas}x{args.canvas} canvases, {model}, {server_device()}")
        print(f"{'N':>3} {'batching':>8} {'img/s':>7} {'p50 s':>7} {'p95 s':>7} {'mean batch':>10} {'speed-up':>8}", flush=True)
        with ServedRunner("benchmarks.batching:BatchingBench", Path(workdir), env).start(timeout=900) as server:
            try:
                asyncio.run(run_all(server, args))
            except Exception:
                print(server.log(20_000), file=sys.stderr)
                raise


async def run_all(server, args) -> None:
    """Prints each N's two rows as soon as they are measured (a long GPU run may be cut short)."""
    async with server.client(BatchingBench, timeout=3600) as client:
        for batching in (False, True):
            await client.burst(batching=batching, concurrency=1, requests_per_client=1, canvas=args.canvas)  # warm-up
        for concurrency in args.concurrency:
            rows = {}
            for batching in (False, True):
                result = await client.burst(
                    batching=batching,
                    concurrency=concurrency,
                    requests_per_client=args.requests_per_client,
                    canvas=args.canvas,
                )
                rows[batching] = {
                    "throughput": len(result["latencies"]) / result["seconds"],
                    "p50": statistics.median(result["latencies"]),
                    "p95": percentile(result["latencies"], 95),
                    "mean_batch": result["mean_batch"],
                }
            for batching, row in rows.items():
                speedup = f"{row['throughput'] / rows[False]['throughput']:.2f}x" if batching else ""
                print(
                    f"{concurrency:>3} {'on' if batching else 'off':>8} {row['throughput']:>7.2f} {row['p50']:>7.3f}"
                    f" {row['p95']:>7.3f} {row['mean_batch']:>10.1f} {speedup:>8}",
                    flush=True,
                )


def server_device() -> str:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU ({os.cpu_count()} cores), float32"


if __name__ == "__main__":
    main()
