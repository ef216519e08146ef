"""Encode time and size of each output format (PNG, JPEG, WebP) on the test photos.

    python benchmarks/output_formats.py [--data tests/data] [--repeats 9] [--quality 90]

Each person photo of ``DATA/persons`` is decoded as the service decodes uploads, then encoded the way
the service encodes results (``tryon.images.encode_picture``): PNG at the service's zlib level
(``TRYON_PNG_COMPRESS_LEVEL``, default 1), JPEG and WebP at ``--quality``. One row per photo and
format: the median encode time of ``--repeats`` runs (wall clock, and CPU time of this process, the
steadier figure on a shared machine), the bytes, and the bytes relative to the PNG.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tryon.images import DEFAULT_OUTPUT_QUALITY, ImageLimits, OutputFormat, decode_image, encode_picture  # noqa: E402


def median_encode(image, output: OutputFormat, repeats: int) -> tuple[float, float, int]:
    """(median wall seconds, median CPU seconds, bytes) of encoding ``image`` in ``output``'s format."""
    wall, cpu = [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        encoded = encode_picture(image, output)
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return statistics.median(wall), statistics.median(cpu), len(encoded)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO / "tests" / "data")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--quality", type=int, default=DEFAULT_OUTPUT_QUALITY, help="JPEG and WebP quality")
    parser.add_argument("--png-level", type=int, default=1, help="PNG zlib level (the service's default 1)")
    args = parser.parse_args(argv)

    formats = [
        OutputFormat("png", png_compress_level=args.png_level),
        OutputFormat("jpeg", quality=args.quality),
        OutputFormat("webp", quality=args.quality),
    ]
    print(f"{'photo':<28} {'size':>10} {'format':<6} {'wall ms':>8} {'CPU ms':>7} {'KB':>6} {'of PNG':>7}")
    for path in sorted((args.data / "persons").iterdir()):
        image = decode_image(path.name, path.read_bytes(), ImageLimits())
        png_bytes = None
        for output in formats:
            wall, cpu, size = median_encode(image, output, args.repeats)
            png_bytes = png_bytes or size
            print(
                f"{path.name:<28} {image.shape[1]:>4}x{image.shape[0]:<5} {output.name:<6} {wall * 1000:>8.1f} "
                f"{cpu * 1000:>7.1f} {size / 1024:>6.0f} {size / png_bytes:>7.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
