"""Hostile uploads, built in memory (no binaries in the repository): files of a few bytes to a few
hundred KB that cost far more to decode than their size, or that pass for photos and are not.

``HOSTILE`` maps a name to how its bytes are made and whether the service must refuse it at
submit (400) or decode it within the documented budget. Used by tests/test_images.py,
tests/e2e/test_hostile_uploads.py and benchmarks/large_photos.py.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from functools import cache
from typing import Callable

from PIL import Image

from tests.factories import image_bytes

SCAN_BOMB_SCANS = 10_000


@dataclass(frozen=True)
class Hostile:
    build: Callable[[], bytes]
    refused: str | None  # a phrase of the 400's detail, or None: decoded within the budget


HOSTILE: dict[str, Hostile] = {
    "progressive JPEG 8000x5000 of 10,000 scans": Hostile(lambda: progressive_scan_bomb(), "more than 100 scans"),
    "lossless WEBP 6320x6320 of 38 bytes": Hostile(
        lambda: _solid("RGB", (6320, 6320), "WEBP", lossless=True, method=0), "of memory to decode"
    ),
    "progressive JPEG 8000x5000, 4:4:4": Hostile(
        lambda: _solid("RGB", (8000, 5000), "JPEG", progressive=True, subsampling=0), "of memory to decode"
    ),
    "PNG with a short IDAT": Hostile(lambda: png_with_short_idat(), "truncated or corrupt"),
    "PNG 64x12000": Hostile(lambda: image_bytes("PNG", size=(64, 12000)), "too thin"),
    "16-bit grayscale PNG 6000x6000": Hostile(lambda: _solid("I;16", (6000, 6000), "PNG"), None),
    "1-bit PNG 6320x6320": Hostile(lambda: _solid("1", (6320, 6320), "PNG"), None),
    "palette PNG 6320x6320 with transparency": Hostile(
        lambda: _solid("P", (6320, 6320), "PNG", transparency=0), "of memory to decode"
    ),
    "palette PNG 6320x6320": Hostile(lambda: _solid("P", (6320, 6320), "PNG"), None),
    "progressive JPEG 8000x5000, 4:2:0": Hostile(lambda: _solid("RGB", (8000, 5000), "JPEG", progressive=True), None),
    "lossless WEBP 4000x4000": Hostile(
        lambda: _solid("RGB", (4000, 4000), "WEBP", lossless=True, method=0), "of memory to decode"
    ),
    "lossless WEBP 3000x3000": Hostile(lambda: _solid("RGB", (3000, 3000), "WEBP", lossless=True, method=0), None),
    "RGBA PNG 5000x5000": Hostile(lambda: _solid("RGBA", (5000, 5000), "PNG"), None),
}


@cache
def hostile_bytes(name: str) -> bytes:
    """The bytes of ``HOSTILE[name]``, built once per process (under a second each)."""
    return HOSTILE[name].build()


def progressive_scan_bomb(scans: int = SCAN_BOMB_SCANS) -> bytes:
    """An 8000x5000 progressive JPEG whose last scan (an AC refinement, a few bytes of end-of-band
    runs) is repeated until it has ``scans`` scans: libjpeg reads every one over the whole image."""
    jpeg = _solid("RGB", (8000, 5000), "JPEG", progressive=True)
    last_scan = jpeg.rindex(b"\xff\xda")
    end = jpeg.rindex(b"\xff\xd9")
    original = jpeg.count(b"\xff\xda")
    return jpeg[:end] + jpeg[last_scan:end] * (scans - original) + jpeg[end:]


def png_with_short_idat(size: tuple[int, int] = (640, 480)) -> bytes:
    """A PNG whose chunks are all sound (lengths, CRCs, IEND) but whose pixel data ends halfway."""
    png = image_bytes("PNG", size=size)
    chunks, position = [], 8
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        chunks.append((png[position + 4 : position + 8], png[position + 8 : position + 8 + length]))
        position += 12 + length
    rows = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    short = zlib.compress(rows[: len(rows) // 2])
    kept = [(kind, body) for kind, body in chunks if kind != b"IDAT"]
    kept.insert(len(kept) - 1, (b"IDAT", short))  # before IEND
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body)) for kind, body in kept
    )


def _solid(mode: str, size: tuple[int, int], fmt: str, **save_args) -> bytes:
    """One colour over ``size``: compresses to almost nothing, whatever the pixel count."""
    buffer = io.BytesIO()
    Image.new(mode, size, 1 if mode in ("1", "P", "I;16") else (200, 40, 30)).save(buffer, format=fmt, **save_args)
    return buffer.getvalue()
