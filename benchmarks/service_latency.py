"""End-to-end latency of one job through the served API vs the same work called in-process.

    python benchmarks/service_latency.py [--runs 7] [--url http://127.0.0.1:3000]

Without --url it starts ``bentoml serve`` itself (on a free loopback port, data in a temp dir).
The in-process figure is ``TryOnEngine.run``: decode both photos, the pipeline, encode the PNG;
the service adds the upload, validation, the job store, the runner calls and polling.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from photos import in_process_runner_api  # noqa: E402

from tests.conftest import DATA_DIR  # noqa: E402
from tests.e2e.helpers import poll_until_finished, submit  # noqa: E402
from tests.e2e.served import ServedService  # noqa: E402
from tryon.engines.base import EngineRequest  # noqa: E402
from tryon.engines.registry import engine_spec  # noqa: E402
from tryon.settings import Settings  # noqa: E402

PERSON = DATA_DIR / "persons" / "studio_man_hoodie.png"
GARMENT = DATA_DIR / "garments" / "shirt_oxford_blue.jpg"


def in_process_seconds(person: bytes, garment: bytes, runs: int) -> list[float]:
    engine = engine_spec("classical").build(Settings(), in_process_runner_api())
    engine.warm_up()
    request = EngineRequest(person_image=person, clothing_image=garment)
    engine.run(request, lambda step, fraction=0.0: None)  # the garment's preparation is cached from here on
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        engine.run(request, lambda step, fraction=0.0: None)
        timings.append(time.perf_counter() - started)
    return timings


def served_seconds(url: str, person: bytes, garment: bytes, runs: int) -> list[float]:
    poll_until_finished(url, submit(url, person, garment).json()["job_id"])  # warm-up
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        job_id = submit(url, person, garment).json()["job_id"]
        final = poll_until_finished(url, job_id, interval=0.005).final
        timings.append(time.perf_counter() - started)
        assert final["status"] == "completed", final
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--url", help="an already running service; default: start one")
    args = parser.parse_args()
    person, garment = PERSON.read_bytes(), GARMENT.read_bytes()

    local = statistics.median(in_process_seconds(person, garment, args.runs))
    if args.url:
        served = statistics.median(served_seconds(args.url, person, garment, args.runs))
    else:
        with tempfile.TemporaryDirectory() as workdir:
            server = ServedService(Path(workdir)).start()
            try:
                served = statistics.median(served_seconds(server.url, person, garment, args.runs))
            finally:
                server.stop()

    print(f"pair: {PERSON.name} + {GARMENT.name}, {args.runs} runs, medians")
    print(f"in-process (decode + pipeline + PNG encode): {local * 1000:7.0f} ms")
    print(f"through the service (submit -> completed):   {served * 1000:7.0f} ms")
    print(f"service overhead: {(served - local) * 1000:.0f} ms, ratio {served / local:.2f}x")


if __name__ == "__main__":
    main()
