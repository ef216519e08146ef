"""Time and memory of one try-on with a large person photo: at the working size, and unbounded.

    python benchmarks/large_photos.py [--runs 3]

Each measurement is a fresh process (peak memory is per process) running ``TryOnEngine.run`` in
process: decode both photos, the classical pipeline (mediapipe in the same process), the PNG
encode. The engine is first warmed up with the reference pair; then it runs once with the case's
person photo. Printed, as medians over ``--runs`` processes: wall and CPU seconds of that run, its
peak resident memory above the resident memory before it (Linux: the peak is reset through
/proc/self/clear_refs), the resident memory it kept afterwards, and the result's size (as PNG, and
as the base64 a poll answers without S3).

"Unbounded" is a working side of 12000 px (``TRYON_MAX_SIDE_PX``): the photo's own size, as
before the working size existed.

    python benchmarks/large_photos.py --hostile [--runs 3] [--limit-s 120]

measures instead, for each image of the hostile corpus (``tests/hostile_images.py``), in a fresh
process per run: the upload check (``validate_image``, what a submit does) and the decode
(``decode_image``, what the job does), each its CPU seconds and its peak resident memory above
the process's before it, and the answer (a 400's first words, or the decoded size). A child still
running after ``--limit-s`` is stopped and shown as over the limit.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from tests.conftest import DATA_DIR  # noqa: E402

PERSON = DATA_DIR / "persons" / "studio_man_hoodie.png"
GARMENT = DATA_DIR / "garments" / "shirt_oxford_blue.jpg"
UNBOUNDED = 12_000
UPLOAD_LIMIT = 20 * 1024 * 1024


def large_photo(canvas: tuple[int, int], fmt: str) -> bytes:
    """The reference person scaled up to fill ``canvas`` (width, height), on its own background.
    A JPEG gets sensor-like noise and the best quality under the 20 MB upload limit; a PNG stays
    smooth (a noisy one that large would not fit the limit)."""
    person = Image.open(PERSON).convert("RGB")
    scale = min(canvas[0] / person.width, canvas[1] / person.height)
    person = person.resize((round(person.width * scale), round(person.height * scale)), Image.Resampling.BICUBIC)
    background = tuple(int(v) for v in np.asarray(person)[:8].reshape(-1, 3).mean(axis=0))
    photo = Image.new("RGB", canvas, background)
    photo.paste(person, ((canvas[0] - person.width) // 2, (canvas[1] - person.height) // 2))
    if fmt == "PNG":
        buffer = io.BytesIO()
        photo.save(buffer, format="PNG", compress_level=9)
        assert buffer.tell() <= UPLOAD_LIMIT, f"{canvas} PNG is {buffer.tell() / 2**20:.1f} MB"
        return buffer.getvalue()
    noise = np.random.default_rng(0).normal(0, 14, (canvas[1], canvas[0], 3))
    pixels = np.clip(np.asarray(photo, np.float32) + noise, 0, 255).astype(np.uint8)
    quality = 100
    while True:
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
        if buffer.tell() <= UPLOAD_LIMIT:
            return buffer.getvalue()
        quality -= 2


def measure(person_path: Path, working_side: int) -> dict:
    """One run in this process (called in a child): seconds, memory and result size."""
    from photos import in_process_runner_api

    from tryon.engines.base import EngineRequest
    from tryon.images import encode_png
    from tryon.engines.registry import engine_spec
    from tryon.settings import Settings

    settings = Settings(max_megapixels=40, max_side_px=UNBOUNDED, working_side_px=working_side)
    engine = engine_spec("classical").build(settings, in_process_runner_api())
    garment = GARMENT.read_bytes()
    engine.run(EngineRequest(PERSON.read_bytes(), garment), lambda step, fraction=0.0: None)  # warm-up
    person = person_path.read_bytes()
    Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) starts again from now (Linux)
    resident_before = _status_bytes("VmRSS")
    wall, cpu = time.perf_counter(), time.process_time()
    output = engine.run(EngineRequest(person, garment), lambda step, fraction=0.0: None)
    png = encode_png(output.pictures[0])  # as the service publishes it
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_mb": (_status_bytes("VmHWM") - resident_before) / 2**20,
        "kept_mb": (_status_bytes("VmRSS") - resident_before) / 2**20,
        "size": (output.width, output.height),
        "png_mb": len(png) / 2**20,
        "base64_mb": len(base64.b64encode(png)) / 2**20,
    }


def _status_bytes(field: str) -> int:
    """A memory figure of this process from /proc/self/status (VmRSS: resident now; VmHWM: peak)."""
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(field))
    return int(line.split()[1]) * 1024


def measure_hostile(name: str) -> dict:
    """The check and the decode of one hostile image, in this process (called in a child)."""
    from tests.hostile_images import hostile_bytes

    from tryon.errors import InvalidImage
    from tryon.images import ImageLimits, decode_image, validate_image

    data, limits, figures = hostile_bytes(name), ImageLimits(), {}
    for stage, function in (("check", validate_image), ("decode", decode_image)):
        Path("/proc/self/clear_refs").write_text("5")
        resident_before, cpu, decoded = _status_bytes("VmRSS"), time.process_time(), None
        try:
            decoded = function("person_image", data, limits)
            answer = "accepted" if decoded is None else "x".join(map(str, decoded.shape[1::-1]))
        except InvalidImage as error:
            answer = "400: " + " ".join(str(error).split()[1:6])
        figures[stage] = {
            "cpu_s": time.process_time() - cpu,
            "peak_mb": (_status_bytes("VmHWM") - resident_before) / 2**20,
            "answer": answer,
        }
        del decoded
    return {"bytes": len(data), **figures}


def run_hostile(runs: int, limit_s: float) -> None:
    from tests.hostile_images import HOSTILE

    print(f"hostile uploads: check (submit) and decode (job), medians of {runs} processes", flush=True)
    print(f"{'image':<44} {'bytes':>8} {'check CPU s':>11} {'+peak MB':>8} {'decode CPU s':>12} {'+peak MB':>8}  answer")
    for name in HOSTILE:
        try:
            results = [_child(["--measure-hostile", name], limit_s) for _ in range(runs)]
        except subprocess.TimeoutExpired:
            print(f"{name:<44} {'':>8} {f'> {limit_s:g} s':>11}", flush=True)
            continue

        def median(stage: str, key: str) -> float:
            return statistics.median(result[stage][key] for result in results)

        print(
            f"{name:<44} {results[0]['bytes']:>8} {median('check', 'cpu_s'):11.2f} {median('check', 'peak_mb'):8.0f} "
            f"{median('decode', 'cpu_s'):12.2f} {median('decode', 'peak_mb'):8.0f}  {results[0]['decode']['answer']}",
            flush=True,
        )


def _child(arguments: list[str], limit_s: float | None = None) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, *arguments], capture_output=True, text=True, check=True, timeout=limit_s
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run_in_child(person_path: Path, working_side: int) -> dict:
    return _child(["--measure", str(person_path), "--working-side", str(working_side)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--working-side", type=int, default=2048, help="the working size measured (px)")
    parser.add_argument("--hostile", action="store_true", help="measure the hostile-upload corpus instead")
    parser.add_argument("--limit-s", type=float, default=120, help="with --hostile: stop a child after this")
    parser.add_argument("--measure-hostile", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.working_side)))
        return
    if args.measure_hostile:
        print(json.dumps(measure_hostile(args.measure_hostile)))
        return
    if args.hostile:
        run_hostile(args.runs, args.limit_s)
        return

    with tempfile.TemporaryDirectory() as folder:
        cases = {"768x1376 PNG (reference)": PERSON}
        for canvas, fmt in (((4000, 5300), "JPEG"), ((3000, 12000), "JPEG"), ((5000, 8000), "PNG")):
            path = Path(folder) / f"person-{canvas[0]}x{canvas[1]}.{fmt.lower()}"
            path.write_bytes(large_photo(canvas, fmt))
            cases[f"{canvas[0]}x{canvas[1]} {fmt}, {path.stat().st_size / 2**20:.1f} MB"] = path

        print(
            f"one try-on with the person photo below (garment {GARMENT.name}); medians of {args.runs} processes",
            flush=True,
        )
        print(f"{'person photo':<28} {'working side':>12} {'wall s':>7} {'CPU s':>6} {'+peak MB':>9} "
              f"{'kept MB':>8} {'result':>10} {'PNG MB':>7} {'base64 MB':>9}", flush=True)
        for name, path in cases.items():
            for side in (args.working_side, UNBOUNDED):
                runs = [run_in_child(path, side) for _ in range(args.runs)]

                def median(key: str) -> float:
                    return statistics.median(run[key] for run in runs)

                width, height = runs[0]["size"]
                shown_side = "unbounded" if side == UNBOUNDED else f"{side} px"
                print(
                    f"{name:<28} {shown_side:>12} {median('wall_s'):7.2f} {median('cpu_s'):6.2f} "
                    f"{median('peak_mb'):9.0f} {median('kept_mb'):8.0f} {f'{width}x{height}':>10} "
                    f"{median('png_mb'):7.1f} {median('base64_mb'):9.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
