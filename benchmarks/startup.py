"""Start-up cost of the service: ``import service``, and ``bentoml serve`` to ready with each process's memory.

    python benchmarks/startup.py [--runs 3] [CHECKOUT ...]

For each checkout (default: this repository; give two, say a worktree of main and this one, to
compare them in one run: their runs alternate), ``--runs`` times:

- ``import service`` in a fresh interpreter: seconds, peak RSS, which model frameworks it loaded;
- ``bentoml serve`` on 127.0.0.1 with the default settings (``TRYON_ENGINE=auto``: the classical
  engine, no model stored) and an empty model store: seconds until ``/readyz`` answers 200, then the
  resident memory (RSS) of each process of the server, named by its service (``serve`` is the
  supervisor; ``TryOnService`` the API process).

Medians are printed as a markdown table. Every checkout runs on this interpreter (its packages);
its own code comes first on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.served import BENTOML, free_port  # noqa: E402

IMPORT_SCRIPT = """
import json, resource, sys, time
started = time.perf_counter()
import service
seconds = time.perf_counter() - started
frameworks = [name for name in ("torch", "diffusers", "transformers") if name in sys.modules]
print(json.dumps({"seconds": seconds, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "frameworks": frameworks}))
"""
READY_TIMEOUT_S = 180


def checkout_env(checkout: Path, workdir: Path) -> dict[str, str]:
    """The environment of a run of ``checkout``: its code first, a model store and data of its own."""
    return {
        **os.environ,
        "PYTHONPATH": str(checkout),
        "BENTOML_HOME": str(workdir / "bentoml"),
        "TRYON_DATA_DIR": str(workdir / "data"),
    }


def measure_import(checkout: Path, workdir: Path) -> dict:
    """``{"seconds", "rss" (bytes, peak), "frameworks" (names loaded)}`` of ``import service``."""
    run = subprocess.run(
        [sys.executable, "-c", IMPORT_SCRIPT], cwd=checkout, env=checkout_env(checkout, workdir),
        capture_output=True, text=True, check=True, timeout=120,
    )
    return json.loads(run.stdout.splitlines()[-1])


def process_name(process: psutil.Process) -> str:
    """The service a BentoML worker serves (``--service-name``), or ``serve`` for the supervisor."""
    command = process.cmdline()
    return command[command.index("--service-name") + 1] if "--service-name" in command else "serve"


def measure_serve(checkout: Path, workdir: Path) -> dict[str, float]:
    """``{"ready_s": seconds from start to /readyz 200, NAME: RSS bytes of each process}``."""
    port = free_port()
    log = (workdir / "server.log").open("wb")
    started = time.perf_counter()
    server = subprocess.Popen(
        [str(BENTOML), "serve", "service:TryOnService", "--host", "127.0.0.1", "--port", str(port)],
        cwd=checkout, env=checkout_env(checkout, workdir), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        ready = wait_ready(f"http://127.0.0.1:{port}/readyz", server, started)
        figures = {"ready_s": ready}
        for process in server_processes(server):
            figures[process_name(process)] = process.memory_info().rss
        return figures
    finally:
        stop(server)


def wait_ready(url: str, server: subprocess.Popen, started: float) -> float:
    """Seconds from ``started`` until ``url`` answers 200."""
    while time.perf_counter() - started < READY_TIMEOUT_S:
        if server.poll() is not None:
            raise RuntimeError("bentoml serve exited before it was ready (see server.log)")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return time.perf_counter() - started
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"not ready after {READY_TIMEOUT_S} s")


def server_processes(server: subprocess.Popen) -> list[psutil.Process]:
    root = psutil.Process(server.pid)
    return [root, *root.children(recursive=True)]


def stop(server: subprocess.Popen) -> None:
    """SIGTERM the server's group, then SIGKILL whatever of its tree is left."""
    processes = server_processes(server) if server.poll() is None else []
    if processes:
        os.killpg(server.pid, signal.SIGTERM)
    _, alive = psutil.wait_procs(processes, timeout=30)
    for process in alive:
        process.kill()
    server.wait(timeout=30)


def table(label: str, runs: list[dict]) -> str:
    """A markdown table of the medians (min-max) of ``runs``."""
    mib = 1024 * 1024
    rows = [
        ("`import service` (s)", [run["import"]["seconds"] for run in runs], 1, 2),
        ("`import service` peak RSS (MiB)", [run["import"]["rss"] for run in runs], mib, 0),
        ("`bentoml serve` to `/readyz` 200 (s)", [run["serve"]["ready_s"] for run in runs], 1, 1),
    ]
    names = [name for name in runs[0]["serve"] if name != "ready_s"]
    for name in names:
        rows.append((f"RSS {name} (MiB)", [run["serve"].get(name, 0) for run in runs], mib, 0))
    rows.append(("RSS all processes (MiB)", [sum(run["serve"][name] for name in names) for run in runs], mib, 0))
    frameworks = sorted({name for run in runs for name in run["import"]["frameworks"]}) or ["none"]
    lines = [f"{label}: {len(runs)} runs; `import service` loads: {', '.join(frameworks)}", "",
             "| figure | median | min-max |", "|---|---:|---:|"]
    for title, values, unit, digits in rows:
        scaled = [value / unit for value in values]
        lines.append(f"| {title} | {statistics.median(scaled):.{digits}f} | {min(scaled):.{digits}f}-{max(scaled):.{digits}f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkouts", nargs="*", type=Path, default=[REPO])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results: dict[Path, list[dict]] = {checkout.resolve(): [] for checkout in args.checkouts}
    print(f"load average before: {' '.join(f'{value:.2f}' for value in os.getloadavg())}", flush=True)
    for _ in range(args.runs):
        for checkout, runs in results.items():
            with tempfile.TemporaryDirectory() as workdir:
                runs.append({"import": measure_import(checkout, Path(workdir)), "serve": measure_serve(checkout, Path(workdir))})
    print(f"load average after: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    for checkout, runs in results.items():
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=checkout, capture_output=True, text=True).stdout.strip()
        print()
        print(table(f"{checkout} ({commit})", runs))


if __name__ == "__main__":
    main()
