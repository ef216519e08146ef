"""Time each pipeline step on the shared test photos and draw a contact sheet of the results.

Runs every person x garment pair (category auto) in-process ``--repeats`` times (after one warm-up
run), prints the median seconds per step and in total, and writes rows of person | garment | result.
``benchmarks/quality.py`` measures the results.

    python benchmarks/pipeline_steps.py [--data DIR] [--repeats N] [--sheet out/pipeline_sheet.png]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tryon.pipeline import Step, run_tryon  # noqa: E402
from tryon.vision.analyzer import local_person_analyzer  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ROW_HEIGHT = 480


def load_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"cannot read {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def photos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".webp"})


def fit_height(image: np.ndarray, height: int) -> np.ndarray:
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def contact_sheet(rows: list[tuple[np.ndarray, ...]], path: Path) -> None:
    """Write rows of RGB images, each scaled to ``ROW_HEIGHT`` and placed side by side, as a PNG."""
    lines = [np.hstack([fit_height(image, ROW_HEIGHT) for image in row]) for row in rows]
    width = max(line.shape[1] for line in lines)
    padded = [np.pad(line, ((0, 0), (0, width - line.shape[1]), (0, 0)), constant_values=255) for line in lines]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(np.vstack(padded), cv2.COLOR_RGB2BGR))


def report(timings: dict[str, list[float]], rows: list[tuple[np.ndarray, ...]], sheet: Path, runs: str) -> None:
    """Print the median seconds of each step and write the contact sheet."""
    print(f"\nmedian seconds over {runs}")
    for name, values in timings.items():
        print(f"  {name:<13} {statistics.median(values):.3f}")
    contact_sheet(rows, sheet)
    print(f"contact sheet: {sheet}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with persons/ and garments/")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per pair")
    parser.add_argument(
        "--sheet", type=Path, default=Path("out/pipeline_sheet.png"), help="contact sheet PNG"
    )
    args = parser.parse_args()

    persons = [(p.stem, load_rgb(p)) for p in photos(args.data / "persons")]
    garments = [(g.stem, load_rgb(g)) for g in photos(args.data / "garments")]
    analyzer = local_person_analyzer()
    run_tryon(persons[0][1], garments[0][1], analyzer)  # warm up the models

    steps = [step.value for step in Step if step is not Step.DONE]
    timings: dict[str, list[float]] = {name: [] for name in [*steps, "total"]}
    rows = []
    for person_name, person in persons:
        for garment_name, garment in garments:
            for _ in range(args.repeats):
                result = run_tryon(person, garment, analyzer)
                for name in steps:
                    timings[name].append(result.step_seconds[name])
                timings["total"].append(sum(result.step_seconds.values()))
            rows.append((person, garment, result.image))
            print(f"{person_name} + {garment_name}: {sum(result.step_seconds.values()):.3f} s")

    report(timings, rows, args.sheet, f"{len(persons) * len(garments)} pairs x {args.repeats} runs")


if __name__ == "__main__":
    main()
