"""The pose source the runner would open (DWPose on onnxruntime, or mediapipe's stand-in) and its time
per call; and one try-on of two photos, in process, written as a PNG for a person to look at."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..engines.fashn_vton.canvas import pre_resize, unpad
from ..engines.fashn_vton.engine import MIN_PERSON_POINTS
from ..engines.fashn_vton.model_store import DWPOSE_FILES
from ..engines.fashn_vton.pipeline import FashnVtonPipeline, TryOnRequest, prepare_canvases
from ..engines.fashn_vton.pose_map import Keypoints
from ..images import ImageLimits, decode_image, encode_png
from .report import Check, Status, plural

POSE_CALLS = 3  # timed, after one untimed call
CUDA_PROVIDER = "CUDAExecutionProvider"


@dataclass(frozen=True)
class PoseSource:
    """What finds the keypoints: ``name``, onnxruntime's providers per session (DWPose; None for
    mediapipe), and photo (``HxWx3`` uint8 RGB, pre-resized) -> ``Keypoints``."""

    name: str
    providers: list[list[str]] | None
    estimate: Callable[[np.ndarray], Keypoints]


def open_pose_source(dwpose_folder: Path) -> PoseSource:
    """DWPose's two sessions when both files are stored (as ``dwpose.open_sessions`` opens them), else mediapipe."""
    if all((dwpose_folder / name).is_file() for name in DWPOSE_FILES):
        from ..engines.fashn_vton.dwpose import estimate_keypoints, open_sessions

        detector, pose_model = open_sessions(dwpose_folder)
        providers = [list(session.get_providers()) for session in (detector, pose_model)]
        return PoseSource("dwpose", providers, lambda image: estimate_keypoints(image, detector, pose_model))
    from ..engines.fashn_vton.mediapipe_keypoints import MediapipeKeypoints

    return PoseSource("mediapipe", None, MediapipeKeypoints())


def read_photo(path: Path) -> np.ndarray:
    """``HxWx3`` uint8 RGB, decoded as the service decodes uploads."""
    return decode_image(str(path), path.read_bytes(), ImageLimits())


def check_pose(source: PoseSource, image: np.ndarray, *, gpu_host: bool, real_model: bool) -> Check:
    """Time per call of ``source`` on ``image`` (pre-resized): the median of ``POSE_CALLS`` after a first call.

    Warns when DWPose runs without CUDA on a GPU host, or when a real model has no DWPose stored.
    """
    started = time.perf_counter()
    keypoints = source.estimate(image)
    first = time.perf_counter() - started
    calls = []
    for _ in range(POSE_CALLS):
        started = time.perf_counter()
        source.estimate(image)
        calls.append(time.perf_counter() - started)
    figures = {
        "source": source.name,
        "providers": source.providers,
        "seconds_per_call": statistics.median(calls),
        "first_call_seconds": first,
        "body_points_seen": int(np.count_nonzero(keypoints.body_seen)),
    }
    timing = f"{figures['seconds_per_call'] * 1000:.0f} ms per call (first {first * 1000:.0f} ms)"
    if source.providers is None:
        status = Status.WARN if real_model else Status.OK
        return Check("pose", status, f"DWPose not stored: mediapipe stand-in, {timing}", figures)
    on_cuda = all(CUDA_PROVIDER in providers for providers in source.providers)
    reason = f"DWPose on {', '.join(source.providers[0])}, {timing}"
    if gpu_host and not on_cuda:
        return Check("pose", Status.WARN, f"{reason}: on the CPU on a GPU host (install onnxruntime-gpu matching CUDA)", figures)
    return Check("pose", Status.OK, reason, figures)


def check_example_tryon(
    pipeline: FashnVtonPipeline,
    pose: PoseSource,
    person_path: Path,
    garment_path: Path,
    output: Path,
    *,
    num_steps: int,
    seed: int = 0,
) -> Check:
    """Dress the person of ``person_path`` in the flat-lay garment of ``garment_path`` ("tops"), as the
    engine does (pre-resize, keypoints, canvases, sampling, unpad), and write the PNG to ``output``."""
    for path in (person_path, garment_path):
        if not path.is_file():
            return Check("example try-on", Status.SKIPPED, f"{path}: no such photo (--person / --garment)")
    started = time.perf_counter()
    person = pre_resize(read_photo(person_path))
    garment = pre_resize(read_photo(garment_path))
    keypoints = pose.estimate(person)
    request = TryOnRequest(person, garment, "tops", keypoints, garment_photo_type="flat-lay", seed=seed)
    (canvas,) = prepare_canvases([request], pipeline.canvas_height, pipeline.canvas_width)
    (picture,) = pipeline.sample_canvases([canvas], ["tops"], [seed], num_steps=num_steps)
    image = unpad(picture, canvas.padding)
    output.write_bytes(encode_png(np.ascontiguousarray(image)))
    figures = {
        "output": str(output),
        "size": [int(image.shape[1]), int(image.shape[0])],
        "steps": num_steps,
        "seconds": time.perf_counter() - started,
        "body_points_seen": int(np.count_nonzero(keypoints.body_seen)),
    }
    reason = f"wrote {output} ({image.shape[1]}x{image.shape[0]}, {plural(num_steps, 'step')}, {figures['seconds']:.1f} s): look at it"
    if figures["body_points_seen"] < MIN_PERSON_POINTS:
        return Check("example try-on", Status.WARN, f"{reason}; only {figures['body_points_seen']} body points found", figures)
    return Check("example try-on", Status.OK, reason, figures)
