"""Human parsing with a SegFormer clothes parser: per-pixel labels of clothes, skin and hair.

Label maps are ``HxW`` uint8 arrays of ``ParseLabel`` values. A checkpoint's own classes (its
``config.id2label``) are mapped onto this fixed set by name, so any human-parsing checkpoint whose class
names follow ATR / LIP (``Upper-clothes``, ``Left-arm``, ``Face``, ...) works.
"""

from __future__ import annotations

import re
from enum import IntEnum
from pathlib import Path
from typing import Callable, Mapping

import cv2
import numpy as np

from .canvas import CanvasPlacement, to_canvas


class ParseLabel(IntEnum):
    """The labels ``ClothesParser`` returns.

    ``HANDS`` only appears with checkpoints that have a hand (or glove) class; the ATR-trained default
    (``mattmdjaga/segformer_b2_clothes``) counts hands as ``ARMS``. ``OTHER`` is the rest of the person:
    hat, shoes, socks, belt, bag, scarf, and any class name not recognised.
    """

    BACKGROUND = 0
    UPPER_CLOTHES = 1  # tops, shirts, coats, jackets
    LOWER_CLOTHES = 2  # pants, skirts, shorts
    ONE_PIECE = 3  # dresses, jumpsuits
    ARMS = 4
    HANDS = 5
    FACE = 6  # face, sunglasses
    HAIR = 7
    LEGS = 8
    NECK = 9
    OTHER = 10


# First match wins; names are lower-cased and compared as whole words.
_NAME_RULES: tuple[tuple[str, ParseLabel], ...] = (
    (r"background|null|unlabeled", ParseLabel.BACKGROUND),
    (r"upper|top|shirt|coat|jacket|sweater|blouse|hoodie", ParseLabel.UPPER_CLOTHES),
    (r"pants|trousers|skirt|shorts|jeans|lower", ParseLabel.LOWER_CLOTHES),
    (r"dress|jumpsuit|jumpsuits|one.?piece", ParseLabel.ONE_PIECE),
    (r"hand|hands|glove|gloves", ParseLabel.HANDS),
    (r"arm|arms", ParseLabel.ARMS),
    (r"face|sunglasses|glasses", ParseLabel.FACE),
    (r"hair", ParseLabel.HAIR),
    (r"leg|legs", ParseLabel.LEGS),
    (r"neck", ParseLabel.NECK),
)


def label_for(name: str) -> ParseLabel:
    """The ``ParseLabel`` of a checkpoint class name (``"Left-arm"`` -> ``ARMS``)."""
    words = " ".join(re.split(r"[^a-z]+", name.lower()))
    for pattern, label in _NAME_RULES:
        if re.search(rf"\b(?:{pattern})\b", words):
            return label
    return ParseLabel.OTHER


def label_lookup(id2label: Mapping[int | str, str]) -> np.ndarray:
    """``(num_classes,)`` uint8: checkpoint class id -> ``ParseLabel``."""
    ids = {int(key): value for key, value in id2label.items()}
    table = np.full(max(ids) + 1, ParseLabel.OTHER, np.uint8)
    for class_id, name in ids.items():
        table[class_id] = label_for(name)
    return table


class ClothesParser:
    """A transformers SegFormer semantic segmentation model and its image processor from a store folder.

    Runs in float16 on CUDA, float32 on the CPU.
    """

    def __init__(self, model_dir: str | Path) -> None:
        import torch
        from transformers import AutoImageProcessor, SegformerForSemanticSegmentation

        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.dtype = torch.float16 if self.device == "cuda" else torch.float32
        self.processor = AutoImageProcessor.from_pretrained(model_dir, local_files_only=True)
        model = SegformerForSemanticSegmentation.from_pretrained(model_dir, local_files_only=True)
        self.model = model.to(self.device, self.dtype).eval()
        self.lookup = label_lookup(model.config.id2label)

    def parse_batch(self, canvases: np.ndarray) -> np.ndarray:
        """``(N, S, S, 3)`` uint8 RGB canvases -> ``(N, S, S)`` uint8 ``ParseLabel`` maps."""
        import torch
        import torch.nn.functional as F

        if canvases.ndim != 4 or canvases.shape[3] != 3 or canvases.dtype != np.uint8:
            raise ValueError(f"canvases must be (N, S, S, 3) uint8, got {canvases.shape} {canvases.dtype}")
        count, height, width = canvases.shape[:3]
        if count == 0:
            return np.zeros((0, height, width), np.uint8)
        inputs = self.processor(images=list(canvases), return_tensors="pt")
        pixels = inputs["pixel_values"].to(self.device, self.dtype)
        with torch.inference_mode():
            logits = self.model(pixel_values=pixels).logits
            logits = F.interpolate(logits.float(), size=(height, width), mode="bilinear", align_corners=False)
            classes = logits.argmax(dim=1).cpu().numpy()
        return self.lookup[classes]


def labels_from_canvas(canvas_labels: np.ndarray, placement: CanvasPlacement) -> np.ndarray:
    """Crop a canvas label map to the photo's area and scale it back to the photo (nearest label)."""
    cropped = canvas_labels[: placement.placed_height, : placement.placed_width]
    return cv2.resize(cropped, (placement.width, placement.height), interpolation=cv2.INTER_NEAREST)


class CanvasClothesParser:
    """Parses one photo as a one-canvas batch (runner or in-process) and maps the labels back."""

    def __init__(self, parse_batch: Callable[[np.ndarray], np.ndarray]) -> None:
        self._parse_batch = parse_batch

    def parse(self, image: np.ndarray) -> np.ndarray:
        """``HxW`` uint8 ``ParseLabel`` map of ``image`` (``HxWx3`` uint8 RGB)."""
        canvas, placement = to_canvas(image)
        labels = np.asarray(self._parse_batch(canvas[None])[0], np.uint8)
        return labels_from_canvas(labels, placement)
