"""Load seconds and peak host memory of the full-size FASHN VTON transformer from a stored (``save_pretrained``)
folder: the runner's meta-device load against the load it replaced (diffusers' ``from_pretrained``
without accelerate, which builds and randomly initialises the whole model, then copies the weights in).

    python benchmarks/fashn_vton_load.py         # random full-size weights saved in bfloat16 (as imported), ~1.8 GiB
    python benchmarks/fashn_vton_load.py --folder DIR --dtypes float32 --repeats 3

The weights are written by a process of their own, and each load runs in a fresh process onto
``--device`` (default cpu) in each of ``--dtypes`` (bfloat16: a GPU's serving dtype; float32: the
CPU's). A row per load: the method, seconds (the load, then one read of every page of the weights:
``touch_every_page``), the process's peak resident memory (``VmHWM``, GiB) and that peak minus its
resident memory after the imports (what the load itself cost; mapped file pages count).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.fashn_vton import DTYPES, build_model  # noqa: E402  (the full-size random model)
from tryon.engines.fashn_vton.pipeline import FashnVtonPipeline  # noqa: E402
from tryon.engines.fashn_vton.transformer import FashnVtonTransformer  # noqa: E402

METHODS = ("built-then-loaded", "meta-device")


def memory_gib(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, from /proc (getrusage's maxrss would include
    the parent's memory at fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 2**20  # kB
    raise RuntimeError(f"no {field} in /proc/self/status")


def load(method: str, folder: Path, device: str, dtype: torch.dtype) -> torch.nn.Module:
    """``meta-device``: what the runner runs now; ``built-then-loaded``: what it ran before."""
    if method == "meta-device":
        return FashnVtonPipeline.from_pretrained(folder, device=device, dtype=dtype).transformer
    transformer = FashnVtonTransformer.from_pretrained(
        folder, torch_dtype=dtype, local_files_only=True, low_cpu_mem_usage=False
    )
    return transformer.to(device)


def touch_every_page(model: torch.nn.Module) -> float:
    """Read one element of every memory page of every tensor: safetensors maps the file, so a tensor
    taken from it as it is becomes resident only when first read (here, not in the first forward)."""
    return sum(
        float(tensor.detach().reshape(-1)[:: max(1, 4096 // tensor.element_size())].float().sum())
        for tensor in model.state_dict().values()
    )


def measure_in_this_process(method: str, folder: Path, device: str, dtype: torch.dtype) -> dict[str, float]:
    baseline = memory_gib("VmRSS")
    started = time.perf_counter()
    touch_every_page(load(method, folder, device, dtype))
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    peak = memory_gib("VmHWM")
    return {"seconds": seconds, "peak_gib": peak, "load_gib": peak - baseline}


def measure(method: str, folder: Path, device: str, dtype_name: str) -> dict[str, float]:
    """One load in a fresh process."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", method, "--folder", str(folder), "--device", device, "--dtype", dtype_name],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def save_random_weights(folder: Path) -> None:
    """The full-size architecture with random weights, saved in bfloat16 (the published checkpoint's dtype)."""
    build_model(torch.device("cpu"), torch.bfloat16).save_pretrained(folder, safe_serialization=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, help="a stored transformer folder (default: random full-size weights)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtypes", choices=sorted(DTYPES), nargs="+", default=["bfloat16", "float32"])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--child", choices=(*METHODS, "save"), help=argparse.SUPPRESS)
    parser.add_argument("--dtype", choices=sorted(DTYPES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "save":
        save_random_weights(args.folder)
        return
    if args.child:
        print(json.dumps(measure_in_this_process(args.child, args.folder, args.device, DTYPES[args.dtype])))
        return

    with tempfile.TemporaryDirectory(prefix="fashn-load-") as temporary:
        folder = args.folder
        if folder is None:
            folder = Path(temporary) / "transformer"
            started = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--child", "save", "--folder", str(folder)], check=True)
            size = sum(path.stat().st_size for path in folder.iterdir()) / 2**30
            print(f"random full-size weights saved in {time.perf_counter() - started:.1f} s ({size:.2f} GiB)", flush=True)
        print(f"loading onto {args.device}", flush=True)
        print("dtype     method             seconds  peak RSS GiB  load GiB", flush=True)
        for dtype in args.dtypes:
            for _ in range(args.repeats):
                for method in METHODS:
                    row = measure(method, folder, args.device, dtype)
                    print(f"{dtype:8s}  {method:17s}  {row['seconds']:7.1f}  {row['peak_gib']:12.2f}  "
                          f"{row['load_gib']:8.2f}", flush=True)


if __name__ == "__main__":
    main()
