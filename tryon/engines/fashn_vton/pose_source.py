"""The keypoint model of the FASHN engine: DWPose on onnxruntime when its two files are stored, else
mediapipe's bundled models; with its person detector and, for DWPose, the providers its sessions run on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .model_store import DWPOSE_FILES

DWPOSE = "dwpose"
MEDIAPIPE = "mediapipe (approximates the DWPose keypoints the model was trained on)"


@dataclass(frozen=True)
class PoseSource:
    """The keypoint model behind ``estimate_pose``: ``name`` DWPOSE or MEDIAPIPE; ``estimate`` photo ->
    ``Keypoints``; ``finds_person`` photo -> whether its person detector keeps a person; for DWPose,
    ``providers`` (each session's ``get_providers()``, detector then pose model) and ``cpu_fallback``:
    why it runs on the CPU of a GPU host (None when it does not)."""

    name: str
    estimate: Callable[[np.ndarray], Any]
    finds_person: Callable[[np.ndarray], bool]
    providers: tuple[tuple[str, ...], ...] = ()
    cpu_fallback: str | None = None

    def describe(self) -> str:
        """The pose step for ``describe`` and /health."""
        if self.name != DWPOSE:
            return self.name
        if self.cpu_fallback:
            return f"{DWPOSE} on the CPU although this host has CUDA: {self.cpu_fallback}"
        return f"{DWPOSE} (onnxruntime {self.providers[0][0]})"


def open_pose_source(dwpose_folder: Path, *, cuda_host: bool) -> PoseSource:
    """DWPose when both its ONNX files are stored (onnxruntime, CUDA first when it offers it), else
    mediapipe's bundled models. ``cuda_host``: torch can use CUDA here, so DWPose on the CPU is a fault
    to report (``PoseSource.cpu_fallback``)."""
    if all((dwpose_folder / name).is_file() for name in DWPOSE_FILES):
        import onnxruntime

        from ...vision.dwpose import cpu_fallback_reason, detect_people, estimate_keypoints, open_sessions

        detector, pose_model = open_sessions(dwpose_folder)
        sessions = (detector, pose_model)
        fallback = None
        if cuda_host:
            fallback = cpu_fallback_reason(
                sessions, available=onnxruntime.get_available_providers(), runtime_version=onnxruntime.__version__
            )
        return PoseSource(
            DWPOSE,
            lambda image: estimate_keypoints(image, detector, pose_model),
            lambda image: len(detect_people(np.ascontiguousarray(image[..., ::-1]), detector)) > 0,
            providers=tuple(tuple(session.get_providers()) for session in sessions),
            cpu_fallback=fallback,
        )
    from ...vision.mediapipe_keypoints import MediapipeKeypoints

    estimate = MediapipeKeypoints()
    return PoseSource(MEDIAPIPE, estimate, estimate.finds_person)
