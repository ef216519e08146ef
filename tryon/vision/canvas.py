"""A model's canvas: photos fitted into a fixed ``height x width`` without distortion, and back.

Two resizes (FASHN VTON's, whose sizes its engine passes in):

1. ``pre_resize``: the photo is fitted into a ``side x side`` square (never enlarged) with Pillow's
   LANCZOS filter. Pose detection, parsing and the pose maps work at this size.
2. ``resize_pad``: the pre-resized image is scaled to fit the canvas with OpenCV (``INTER_AREA``
   when it shrinks, ``INTER_LANCZOS4`` when it grows; ``INTER_NEAREST_EXACT`` for pose maps, whose
   grey levels are labels) and centred on black. The returned ``Padding`` undoes it.

Images are ``HxWx3`` uint8 (any channel order) or ``HxW`` uint8; shapes are ``(height, width)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Padding:
    """Black borders added around a resized image, in pixels of the canvas."""

    left: int
    top: int
    right: int
    bottom: int


def _fit_scale(height: int, width: int, box_height: int, box_width: int) -> float:
    """The factor that makes ``height x width`` just fit inside ``box_height x box_width``."""
    return min(box_width / width, box_height / height)


def pre_resize(image: np.ndarray, side: int) -> np.ndarray:
    """Fit ``image`` (``HxWx3`` or ``HxW`` uint8) into a ``side x side`` square, never enlarging it.

    Pillow LANCZOS; each new side is the old one times the scale, truncated. An image that already
    fits is returned unchanged (the same array).
    """
    height, width = image.shape[:2]
    scale = _fit_scale(height, width, side, side)
    if scale >= 1.0:
        return image
    size = (int(scale * width), int(scale * height))
    return np.asarray(Image.fromarray(image).resize(size, Image.LANCZOS))


def resize_pad(
    image: np.ndarray,
    height: int,
    width: int,
    *,
    nearest_exact: bool = False,
) -> tuple[np.ndarray, Padding]:
    """Scale ``image`` to fit ``height x width`` and centre it on black.

    ``image``: ``hxwx3`` or ``hxw`` uint8. Shrinking uses ``INTER_AREA``, growing ``INTER_LANCZOS4``;
    ``nearest_exact=True`` uses ``INTER_NEAREST_EXACT`` either way (for pose maps). Returns the
    ``height x width`` canvas (same channels and dtype as ``image``) and the padding added; an odd
    total puts the extra pixel on the right or bottom.
    """
    image_height, image_width = image.shape[:2]
    scale = _fit_scale(image_height, image_width, height, width)
    if scale != 1.0:
        if nearest_exact:
            interpolation = cv2.INTER_NEAREST_EXACT
        else:
            interpolation = cv2.INTER_LANCZOS4 if scale > 1.0 else cv2.INTER_AREA
        size = (int(scale * image_width), int(scale * image_height))
        image = cv2.resize(image, size, interpolation=interpolation)
    padding = _centring_padding(image.shape[0], image.shape[1], height, width)
    canvas = cv2.copyMakeBorder(
        image, padding.top, padding.bottom, padding.left, padding.right, cv2.BORDER_CONSTANT, value=(0, 0, 0)
    )
    return canvas, padding


def _centring_padding(height: int, width: int, canvas_height: int, canvas_width: int) -> Padding:
    """Borders that centre ``height x width`` on the canvas (the odd pixel goes right and bottom)."""
    extra_x = max(canvas_width - width, 0)
    extra_y = max(canvas_height - height, 0)
    left, top = extra_x // 2, extra_y // 2
    return Padding(left=left, top=top, right=extra_x - left, bottom=extra_y - top)


def unpad(canvas: np.ndarray, padding: Padding) -> np.ndarray:
    """The part of ``canvas`` (``HxWx...``) inside ``padding``: the resized image ``resize_pad`` placed."""
    height, width = canvas.shape[:2]
    return canvas[padding.top : height - padding.bottom, padding.left : width - padding.right]
