"""mediapipe's selfie segmentation (in the 0.10.21 wheel, nothing downloaded): the person vs the
background. Shared: the classical engine's segmentation runner and the FASHN runner's geometric
garment mask use it."""

from __future__ import annotations

import threading

import numpy as np


class SelfieSegmenter:
    """mediapipe SelfieSegmentation (general model): per-pixel person probability."""

    def __init__(self) -> None:
        import mediapipe as mp

        self._model = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
        self._lock = threading.Lock()  # a mediapipe graph runs one image at a time

    def segment_batch(self, canvases: np.ndarray) -> np.ndarray:
        """``(N, S, S, 3)`` uint8 RGB canvases -> ``(N, S, S)`` float32 person probability in [0, 1]."""
        with self._lock:
            masks = [self._model.process(canvas).segmentation_mask for canvas in canvases]
        return np.stack(masks).astype(np.float32)
