"""Small images built in memory, in any format and mode Pillow writes."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def image_bytes(
    fmt: str = "PNG", size: tuple[int, int] = (96, 128), mode: str = "RGB", **save_args
) -> bytes:
    """An image with a gradient (so formats cannot encode it as nothing), saved as ``fmt``."""
    width, height = size
    gradient = np.linspace(0, 255, width * height, dtype=np.float32).reshape(height, width)
    rgb = np.stack([gradient, gradient[::-1], np.full_like(gradient, 128)], axis=-1).astype(np.uint8)
    image = Image.fromarray(rgb).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save_args)
    return buffer.getvalue()


def undecodable_uploads() -> dict[str, bytes]:
    """Files that pass for photos by name or first bytes but decode to nothing, by what they are."""
    png = image_bytes("PNG", size=(400, 300))
    noise = np.random.default_rng(7).bytes(20_000)
    return {
        "truncated PNG": png[: len(png) // 2],
        "random bytes after a JPEG signature": b"\xff\xd8\xff" + noise,
        "random bytes after a PNG signature": b"\x89PNG\r\n\x1a\n" + noise,
        "HTML page named .jpg": b"<!DOCTYPE html><html><head><title>Not found</title></head>"
        b"<body><p>The page at 0x1f was not found.</p></body></html>\n" * 20,
    }


def reads_like_a_sentence(detail: str) -> bool:
    """No Python object repr or memory address in a message meant for a person."""
    return not any(internal in detail for internal in ("<", ">", "0x", "object at"))
