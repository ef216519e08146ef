"""Encode time and size of each output format (PNG, JPEG, WebP) on the test photos.

    python benchmarks/output_formats.py [--data tests/data] [--repeats 9] [--quality 90]

Each person photo of ``DATA/persons`` is decoded as the service decodes uploads, then encoded the way
the service encodes results (``tryon.images.encode_picture``): PNG at the service's zlib level
(``TRYON_PNG_COMPRESS_LEVEL``, default 1), JPEG and WebP at ``--quality``. One row per photo and
format: the median encode time of ``--repeats`` runs, the bytes, and the bytes relative to the PNG.
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


def median_encode(image, output: OutputFormat, repeats: int) -> tuple[float, int]:
    """(median seconds, bytes) of encoding ``image`` in ``output``'s format."""
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        encoded = encode_picture(image, output)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), len(encoded)


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
    print(f"{'photo':<28} {'size':>10} {'format':<6} {'encode ms':>9} {'KB':>8} {'of PNG':>7}")
    for path in sorted((args.data / "persons").iterdir()):
        image = decode_image(path.name, path.read_bytes(), ImageLimits())
        png_bytes = None
        for output in formats:
            seconds, size = median_encode(image, output, args.repeats)
            png_bytes = png_bytes or size
            print(
                f"{path.name:<28} {image.shape[1]:>4}x{image.shape[0]:<5} {output.name:<6} {seconds * 1000:>9.1f} "
                f"{size / 1024:>8.0f} {size / png_bytes:>7.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
