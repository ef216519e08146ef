"""Segment Anything as the worn-garment masker: a garment photo and point prompts in, a mask out.

Loads the store's transformers ``SamModel`` and ``SamProcessor`` (``garment_masker_store``); the
prompts come from the wearer's keypoints (``tryon.vision.prompts``). On the GPU when this process
sees one.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class GarmentMasker:
    """``mask(image, points, labels)``: the mask Segment Anything is most confident in for the prompts."""

    def __init__(self, stored: Any) -> None:
        import torch
        from transformers import SamModel, SamProcessor

        self.stored = stored
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = SamModel.from_pretrained(stored.path, local_files_only=True).to(self.device).eval()
        self.processor = SamProcessor.from_pretrained(stored.path, local_files_only=True)

    def mask(self, image: np.ndarray, points: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """``HxWx3`` uint8 RGB, ``(n, 2)`` pixel ``(x, y)`` points and ``(n,)`` labels (1 on the object,
        0 off it) -> ``HxW`` bool: of SAM's three candidate masks, the one with the best predicted IoU."""
        import torch

        inputs = self.processor(
            images=image,
            input_points=[[np.asarray(points, np.float64).tolist()]],
            input_labels=[[np.asarray(labels, np.int64).tolist()]],
            return_tensors="pt",
        )
        model_inputs = {name: value.to(self.device) for name, value in inputs.items() if name in ("pixel_values", "input_points", "input_labels")}
        with torch.inference_mode():
            outputs = self.model(**model_inputs, multimask_output=True)
        masks = self.processor.image_processor.post_process_masks(
            outputs.pred_masks.cpu(), inputs["original_sizes"], inputs["reshaped_input_sizes"]
        )[0][0]
        best = int(outputs.iou_scores[0, 0].argmax())
        return masks[best].numpy().astype(bool)
