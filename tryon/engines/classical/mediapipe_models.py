"""mediapipe's bundled models (they ship inside the 0.10.21 wheel, so nothing is downloaded)."""

from __future__ import annotations

import threading

import numpy as np

POSE_LANDMARKS = 33


class PoseEstimator:
    """mediapipe Pose (full model, complexity 1), one person per image, static images."""

    def __init__(self) -> None:
        import mediapipe as mp

        self._model = mp.solutions.pose.Pose(
            static_image_mode=True, model_complexity=1, enable_segmentation=False
        )
        self._lock = threading.Lock()

    def estimate_batch(self, canvases: np.ndarray) -> np.ndarray:
        """``(N, S, S, 3)`` uint8 RGB canvases -> ``(N, 33, 3)`` float32 ``(x, y, visibility)``.

        ``x`` and ``y`` are canvas pixels. Where no person is found, that image's rows are NaN.
        """
        batch, size = canvases.shape[0], canvases.shape[1]
        out = np.full((batch, POSE_LANDMARKS, 3), np.nan, np.float32)
        with self._lock:
            for index, canvas in enumerate(canvases):
                landmarks = self._model.process(canvas).pose_landmarks
                if landmarks is None:
                    continue
                out[index] = [(lm.x * size, lm.y * size, lm.visibility) for lm in landmarks.landmark]
        return out
