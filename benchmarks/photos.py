"""Helpers the benchmarks share: the shared test photos, the per-step report with a contact sheet, and
engines built in process."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import DATA_DIR as DEFAULT_DATA  # noqa: E402, F401 (used by quality.py)
from tryon.engines.base import RunnerAPI  # noqa: E402

ROW_HEIGHT = 480


def in_process_runner_api() -> RunnerAPI:
    """``runner_api`` over runner services instantiated in this process, each once, on its first call:
    the models load here instead of in runner processes."""
    instances: dict[str, Any] = {}

    def runner_api(runner: Any, api_name: str) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            if runner.name not in instances:
                instances[runner.name] = runner()
            return getattr(instances[runner.name], api_name)(*args)

        return call

    return runner_api


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
