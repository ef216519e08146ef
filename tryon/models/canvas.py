"""Fit photos onto fixed-size square canvases and map model outputs back."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CANVAS_SIZE = 512


@dataclass(frozen=True)
class CanvasPlacement:
    """Where a photo of ``height`` x ``width`` sits on its canvas: scaled by ``scale``, top-left aligned."""

    height: int
    width: int
    scale: float

    @property
    def placed_height(self) -> int:
        return max(1, round(self.height * self.scale))

    @property
    def placed_width(self) -> int:
        return max(1, round(self.width * self.scale))


def to_canvas(image: np.ndarray, size: int = CANVAS_SIZE) -> tuple[np.ndarray, CanvasPlacement]:
    """Scale an ``HxWx3`` uint8 image to fit a ``size`` square (top-left, zero padding)."""
    height, width = image.shape[:2]
    placement = CanvasPlacement(height, width, size / max(height, width))
    resized = cv2.resize(
        image, (placement.placed_width, placement.placed_height), interpolation=cv2.INTER_AREA
    )
    canvas = np.zeros((size, size, 3), np.uint8)
    canvas[: placement.placed_height, : placement.placed_width] = resized
    return canvas, placement


def mask_from_canvas(canvas_mask: np.ndarray, placement: CanvasPlacement) -> np.ndarray:
    """Crop a canvas-sized float mask to the photo's area and scale it back to the photo's size."""
    cropped = canvas_mask[: placement.placed_height, : placement.placed_width]
    return cv2.resize(cropped, (placement.width, placement.height), interpolation=cv2.INTER_LINEAR)


def points_from_canvas(canvas_points: np.ndarray, placement: CanvasPlacement) -> np.ndarray:
    """Map ``(N, 2)`` pixel coordinates on the canvas to pixel coordinates in the photo."""
    return (canvas_points / placement.scale).astype(np.float32)
