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
