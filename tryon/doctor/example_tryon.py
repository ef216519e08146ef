"""The pose source the runner opens (``pose_source.open_pose_source``) and its time per call; and one try-on of two photos, in process, written as a PNG for a person to look at."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from ..engines.fashn_vton.engine import MIN_PERSON_POINTS
from ..engines.fashn_vton.inputs import PRE_RESIZE_SIDE, TryOnRequest, prepare_canvases
from ..engines.fashn_vton.pipeline import FashnVtonPipeline
from ..engines.fashn_vton.pose_source import DWPOSE, PoseSource
from ..vision.canvas import pre_resize, unpad
from ..images import ImageLimits, decode_image, encode_png
from .report import Check, Status, plural

POSE_CALLS = 3  # timed, after one untimed call


def read_photo(path: Path) -> np.ndarray:
    """``HxWx3`` uint8 RGB, decoded as the service decodes uploads."""
    return decode_image(str(path), path.read_bytes(), ImageLimits())


def check_pose(source: PoseSource, image: np.ndarray, *, real_model: bool) -> Check:
    """Time per call of ``source`` on ``image`` (pre-resized): the median of ``POSE_CALLS`` after a first call.

    Warns when DWPose runs on the CPU of a GPU host (``source.cpu_fallback``), or when a real model
    has no DWPose stored.
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
        "providers": [list(providers) for providers in source.providers] or None,
        "seconds_per_call": statistics.median(calls),
        "first_call_seconds": first,
        "body_points_seen": int(np.count_nonzero(keypoints.body_seen)),
    }
    timing = f"{figures['seconds_per_call'] * 1000:.0f} ms per call (first {first * 1000:.0f} ms)"
    if source.name != DWPOSE:
        status = Status.WARN if real_model else Status.OK
        return Check("pose", status, f"DWPose not stored: mediapipe stand-in, {timing}", figures)
    reason = f"DWPose on {', '.join(source.providers[0])}, {timing}"
    if source.cpu_fallback:
        return Check("pose", Status.WARN, f"{reason}: on the CPU of a GPU host ({source.cpu_fallback})", figures)
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
    person = pre_resize(read_photo(person_path), PRE_RESIZE_SIDE)
    garment = pre_resize(read_photo(garment_path), PRE_RESIZE_SIDE)
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
