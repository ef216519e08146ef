"""``num_samples`` 4 against 4 separate jobs on the FASHN engine: seconds per picture.

    python benchmarks/num_samples.py [--steps 30] [--repeats 3] [--samples 4]
    python benchmarks/num_samples.py --store ~/bentoml          # the stored real model, e.g. on a GPU host

It builds the FASHN test model (tiny random weights) in a temporary BENTOML_HOME (``--store`` uses
that store's ``fashn-vton`` instead), starts ``FashnVtonRunner`` in this process (CUDA when it has
one, else the CPU) and runs its adapter over it, as the job workers do, on studio_man_hoodie.png +
shirt_oxford_blue.jpg:

- one job with ``num_samples`` N: its N rows in one ``sample`` call, sampled together;
- N jobs of one picture, one after the other (each its own photo preparation and ``sample`` call).

One row each: the medians over ``--repeats`` (the two alternate) of the whole job(s) (photo
preparation, pose, canvases, sampling, unpadding; not the result's encoding, the same per picture),
in wall-clock seconds and in CPU seconds of this process (all its threads: on a shared machine the
CPU figure is the steadier one), and each divided by N.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conftest import DATA_DIR  # noqa: E402
from tests.fashn_vton.test_garment_photos import in_process  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--store", type=Path, help="a BENTOML_HOME holding fashn-vton (default: build the test model)")
    parser.add_argument("--data", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)

    os.environ["BENTOML_HOME"] = str(args.store or tempfile.mkdtemp(prefix="bench-samples-"))
    os.environ["TRYON_ENGINE"] = "fashn-vton"
    if args.store is None:
        from model_store_scripts.make_test_models import make_test_models

        make_test_models(["fashn-vton"])
    from tryon.engines.base import Category, EngineRequest
    from tryon.engines.fashn_vton.engine import FashnVtonEngine
    from tryon.engines.fashn_vton.runner import FashnVtonRunner
    from tryon.images import ImageLimits

    runner = FashnVtonRunner()
    engine = FashnVtonEngine(in_process(runner), limits=ImageLimits())
    engine.warm_up()
    person = (args.data / "persons" / "studio_man_hoodie.png").read_bytes()
    garment = (args.data / "garments" / "shirt_oxford_blue.jpg").read_bytes()

    def job(job_id: str, num_samples: int) -> int:
        options = {"steps": args.steps, "seed": 1, "garment_photo_type": "flat-lay", "num_samples": num_samples}
        request = EngineRequest(person, garment, Category.UPPER_BODY, options, job_id=job_id)
        return len(engine.run(request, lambda step, fraction=0.0: None).pictures)

    def timed(run) -> tuple[float, float]:
        """(wall seconds, CPU seconds) of ``run()``."""
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        return time.perf_counter() - wall, time.process_time() - cpu

    n = args.samples
    job("warm", n)  # the first batch of n rows pays for its allocations
    together, apart = [], []
    for repeat in range(args.repeats):
        together.append(timed(lambda: job(f"together-{repeat}", n)))
        apart.append(timed(lambda: [job(f"apart-{repeat}-{index}", 1) for index in range(n)]))
        print(f"run {repeat + 1}: together {together[-1][0]:.2f} s ({together[-1][1]:.2f} CPU s), "
              f"apart {apart[-1][0]:.2f} s ({apart[-1][1]:.2f} CPU s)", flush=True)
    device = runner.pipeline.transformer.device
    print(f"FASHN VTON {runner.stored.tag} on {device}, {args.steps} steps, medians of {args.repeats}")
    print(f"{'':<28} {'wall s':>8} {'per picture':>12} {'CPU s':>8} {'per picture':>12}")
    medians = {}
    for name, runs in ((f"1 job, num_samples {n}", together), (f"{n} jobs of 1 picture", apart)):
        wall, cpu = (statistics.median(run[index] for run in runs) for index in (0, 1))
        medians[name] = (wall, cpu)
        print(f"{name:<28} {wall:>8.2f} {wall / n:>12.2f} {cpu:>8.2f} {cpu / n:>12.2f}")
    (wall_together, cpu_together), (wall_apart, cpu_apart) = medians.values()
    print(f"num_samples {n} / {n} jobs: {wall_together / wall_apart:.2f}x the wall time, "
          f"{cpu_together / cpu_apart:.2f}x the CPU time")


if __name__ == "__main__":
    main()
