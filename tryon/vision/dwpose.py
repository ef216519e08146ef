"""DWPose whole-body keypoints (Apache-2.0): the pose source FASHN VTON (and many try-on models) was trained with.

Two ONNX models from the model store: a YOLOX-L person detector (``yolox_l.onnx``: ``images``
1x3x640x640 -> ``output`` 1x8400x85) and RTMPose whole-body (``dw-ll_ucoco_384.onnx``: ``input``
1x3x384x288 -> ``simcc_x`` 1x133x576, ``simcc_y`` 1x133x768). Sessions are passed in: anything with
onnxruntime's ``get_inputs()``, ``get_outputs()`` and ``run(names, feed)``; ``open_sessions`` opens
real ones (CUDA first where onnxruntime-gpu offers it) and ``cpu_fallback_reason`` says why sessions
on a GPU host run on the CPU. Input and output names are read from the sessions.

Steps (``estimate_keypoints``): the photo goes in as BGR; the detector sees it letterboxed onto
640x640 grey; its boxes are decoded, suppressed (IoU 0.45) and kept when their person score is over
0.3; each box, enlarged 1.25 times to the pose model's 3:4, is cropped by an affine warp and its 133
COCO-WholeBody points read off the SimCC maxima; a neck is added between the shoulders and the body
reordered to OpenPose's 18 points; one person is kept (the largest product of summed scores and
extent of the points below the head); points under the visibility threshold are not seen (body
points keep their coordinates, as the reference's subset marks them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from .keypoints import NOT_SEEN, NUM_BODY_POINTS, NUM_FACE_POINTS, NUM_HAND_POINTS, Keypoints

DETECTOR_FILE = "yolox_l.onnx"
POSE_MODEL_FILE = "dw-ll_ucoco_384.onnx"
CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"

DETECTOR_SIZE = 640  # square input side
DETECTOR_FILL = 114  # grey around the letterboxed photo
DETECTOR_STRIDES = (8, 16, 32)
NMS_IOU = 0.45
CANDIDATE_SCORE = 0.1  # boxes entering suppression
PERSON_SCORE = 0.3  # boxes kept after it
PERSON_CLASS = 0
BOX_PADDING = 1.25
POSE_MEAN = np.array([123.675, 116.28, 103.53])
POSE_STD = np.array([58.395, 57.12, 57.375])
SIMCC_SPLIT_RATIO = 2.0
VISIBILITY = 0.3

# COCO-WholeBody's 133 points: 17 body, 6 feet, 68 face, 21 left hand, 21 right hand.
_FACE = slice(23, 23 + NUM_FACE_POINTS)
_LEFT_HAND = slice(91, 91 + NUM_HAND_POINTS)
_RIGHT_HAND = slice(112, 112 + NUM_HAND_POINTS)
_LEFT_SHOULDER, _RIGHT_SHOULDER = 5, 6
# The COCO body point at each OpenPose body point (the neck, 1, is made from the shoulders).
_COCO_OF_OPENPOSE = (0, None, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3)


class OnnxSession(Protocol):
    """What is used of ``onnxruntime.InferenceSession``."""

    def get_inputs(self) -> Sequence[Any]: ...

    def get_outputs(self) -> Sequence[Any]: ...

    def get_providers(self) -> list[str]: ...

    def run(
        self, output_names: Sequence[str] | None, input_feed: dict[str, np.ndarray]
    ) -> list[np.ndarray]: ...


@dataclass(frozen=True)
class WholeBodyPoses:
    """Every detected person's 134 points in image pixels: ``points`` ``(n, 134, 2)`` float64 ``(x, y)``,
    ``scores`` ``(n, 134)`` float64; OpenPose's 18 body points first, then COCO-WholeBody's feet (6),
    face (68), left hand (21) and right hand (21)."""

    points: np.ndarray
    scores: np.ndarray


def open_sessions(
    model_dir: str | Path, *, use_cuda: bool | None = None, runtime: ModuleType | None = None
) -> tuple[OnnxSession, OnnxSession]:
    """onnxruntime sessions of the detector and the pose model in ``model_dir``.

    Providers: CUDA first, then the CPU, when ``use_cuda`` (default: when onnxruntime offers CUDA,
    i.e. onnxruntime-gpu is installed); else the CPU alone. onnxruntime falls back to the CPU without
    an error when CUDA's provider cannot load (a CUDA or cuDNN it was not built for): check each
    session's ``get_providers()`` (``cpu_fallback_reason``). ``runtime``: the onnxruntime module
    (tests pass a fake).
    """
    if runtime is None:
        import onnxruntime as runtime

    if use_cuda is None:
        use_cuda = CUDA_PROVIDER in runtime.get_available_providers()
    providers = [CUDA_PROVIDER, CPU_PROVIDER] if use_cuda else [CPU_PROVIDER]
    model_dir = Path(model_dir)
    return tuple(
        runtime.InferenceSession(str(model_dir / name), providers=providers)
        for name in (DETECTOR_FILE, POSE_MODEL_FILE)
    )


def cpu_fallback_reason(
    sessions: Sequence[OnnxSession], *, available: Sequence[str], runtime_version: str
) -> str | None:
    """Why ``sessions`` run on the CPU although CUDA was wanted, or None when each runs CUDA first.

    ``available``: ``onnxruntime.get_available_providers()``; ``runtime_version``: its ``__version__``.
    """
    if all(session.get_providers()[:1] == [CUDA_PROVIDER] for session in sessions):
        return None
    if CUDA_PROVIDER not in available:
        return (
            f"onnxruntime {runtime_version} offers no CUDA provider (providers: {', '.join(available)}): "
            "the CPU package is installed; install onnxruntime-gpu in its place (README, GPU hosts)"
        )
    return (
        f"onnxruntime {runtime_version} offers CUDA, but its sessions fell back to the CPU: its CUDA "
        "provider could not load (usually a CUDA or cuDNN version this onnxruntime-gpu was not built "
        "for; onnxruntime's own warning in the log names the library)"
    )


def estimate_keypoints(image: np.ndarray, detector: OnnxSession, pose_model: OnnxSession) -> Keypoints:
    """The keypoints of the main person in ``image`` (``HxWx3`` uint8 RGB, the pre-resized photo).

    With no person detected the whole photo is read as one person's box.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 RGB image, got shape {image.shape} of {image.dtype}")
    bgr = np.ascontiguousarray(image[..., ::-1])
    boxes = detect_people(bgr, detector)
    poses = estimate_poses(bgr, boxes, pose_model)
    return main_person_keypoints(poses, height=image.shape[0], width=image.shape[1])


def detector_input(bgr: np.ndarray) -> tuple[np.ndarray, float]:
    """The detector's ``1x3x640x640`` float32 input (the photo scaled to fit, top left, on grey 114,
    channels as given) and the scale applied."""
    height, width = bgr.shape[:2]
    scale = min(DETECTOR_SIZE / height, DETECTOR_SIZE / width)
    resized = cv2.resize(bgr, (int(width * scale), int(height * scale)), interpolation=cv2.INTER_LINEAR)
    letterbox = np.full((DETECTOR_SIZE, DETECTOR_SIZE, 3), DETECTOR_FILL, np.uint8)
    letterbox[: resized.shape[0], : resized.shape[1]] = resized
    return np.ascontiguousarray(letterbox.transpose(2, 0, 1)[None], dtype=np.float32), scale


def detect_people(bgr: np.ndarray, detector: OnnxSession) -> np.ndarray:
    """``(n, 4)`` float64 person boxes ``(x0, y0, x1, y1)`` in pixels of ``bgr`` (``HxWx3`` uint8 BGR),
    highest score first; empty when nobody is found."""
    feed, scale = detector_input(bgr)
    (output,) = detector.run([detector.get_outputs()[0].name], {detector.get_inputs()[0].name: feed})
    return person_boxes(output[0], scale)


def _anchor_grid() -> tuple[np.ndarray, np.ndarray]:
    """``(8400, 2)`` cell coordinates ``(column, row)`` and ``(8400, 1)`` strides of YOLOX's three levels."""
    cells, strides = [], []
    for stride in DETECTOR_STRIDES:
        side = DETECTOR_SIZE // stride
        columns, rows = np.meshgrid(np.arange(side), np.arange(side))
        cells.append(np.stack((columns, rows), axis=-1).reshape(-1, 2))
        strides.append(np.full((side * side, 1), stride))
    return np.concatenate(cells), np.concatenate(strides)


def person_boxes(predictions: np.ndarray, scale: float) -> np.ndarray:
    """Decode YOLOX's ``(8400, 85)`` float32 predictions (centre offsets, log sizes, objectness, 80 class
    scores) into the kept person boxes, ``(n, 4)`` float64 ``xyxy`` in pixels of the photo that was
    scaled by ``scale``; empty when none."""
    cells, strides = _anchor_grid()
    # float32 like the model's output: the decoded values are stored back at its precision.
    centres = ((predictions[:, :2] + cells) * strides).astype(np.float32)
    sizes = (np.exp(predictions[:, 2:4]) * strides).astype(np.float32)
    scores = predictions[:, 4] * predictions[:, 5 + PERSON_CLASS]
    corners = np.concatenate((centres - sizes / 2.0, centres + sizes / 2.0), axis=1) / scale
    candidates = scores > CANDIDATE_SCORE
    if not candidates.any():
        return np.array([])
    boxes, scores = corners[candidates], scores[candidates]
    keep = _suppress_overlaps(boxes, scores)
    boxes, scores = boxes[keep].astype(np.float64), scores[keep].astype(np.float64)
    return boxes[scores > PERSON_SCORE]


def _suppress_overlaps(boxes: np.ndarray, scores: np.ndarray) -> list[int]:
    """Greedy non-maximum suppression: indices of the boxes kept, best first (IoU over ``NMS_IOU``
    with a better box drops a box; sizes count both end pixels, as YOLOX's)."""
    x0, y0, x1, y1 = boxes.T
    areas = (x1 - x0 + 1) * (y1 - y0 + 1)
    order = scores.argsort()[::-1]
    keep = []
    while order.size > 0:
        best, rest = order[0], order[1:]
        keep.append(best)
        overlap_width = np.maximum(0.0, np.minimum(x1[best], x1[rest]) - np.maximum(x0[best], x0[rest]) + 1)
        overlap_height = np.maximum(0.0, np.minimum(y1[best], y1[rest]) - np.maximum(y0[best], y0[rest]) + 1)
        overlap = overlap_width * overlap_height
        iou = overlap / (areas[best] + areas[rest] - overlap)
        order = rest[iou <= NMS_IOU]
    return keep


@dataclass(frozen=True)
class PoseCrop:
    """A person box cropped for the pose model: ``image`` ``hxwx3`` uint8 (the model's input size),
    ``centre`` and ``size`` ``(2,)`` float64 of the cropped region in photo pixels."""

    image: np.ndarray
    centre: np.ndarray
    size: np.ndarray


def pose_crop(bgr: np.ndarray, box: np.ndarray, input_width: int, input_height: int) -> PoseCrop:
    """The region of ``box`` (``xyxy`` pixels), padded 1.25 times and widened or heightened to the pose
    input's aspect ratio, warped (bilinear, black outside the photo) to ``input_width x input_height``."""
    box = np.asarray(box, dtype=np.float64)
    centre = (box[:2] + box[2:]) * 0.5
    size = (box[2:] - box[:2]) * BOX_PADDING
    aspect = input_width / input_height
    if size[0] > size[1] * aspect:
        size = np.array([size[0], size[0] / aspect])
    else:
        size = np.array([size[1] * aspect, size[1]])
    warp = _crop_warp(centre, size[0], input_width, input_height)
    image = cv2.warpAffine(bgr, warp, (input_width, input_height), flags=cv2.INTER_LINEAR)
    return PoseCrop(image=image, centre=centre, size=size)


def _crop_warp(centre: np.ndarray, source_width: float, width: int, height: int) -> np.ndarray:
    """The 2x3 affine map from photo pixels to the crop: ``centre`` to the crop's centre, scaled so that
    ``source_width`` spans ``width`` (built from three float32 point pairs, as MMPose does)."""

    def triangle(middle: np.ndarray, half_width: float) -> np.ndarray:
        # The middle, the point half a width above it, and that offset turned a quarter turn.
        points = np.zeros((3, 2), dtype=np.float32)
        points[0] = middle
        points[1] = middle + np.array([0.0, -half_width])
        offset = points[0] - points[1]
        points[2] = points[1] + np.array([-offset[1], offset[0]], dtype=np.float32)
        return points

    source = triangle(centre, source_width * 0.5)
    target = triangle(np.array([width * 0.5, height * 0.5]), width * 0.5)
    return cv2.getAffineTransform(source, target)


def pose_model_input(crop: np.ndarray) -> np.ndarray:
    """``1x3xhxw`` float32: the crop (``hxwx3`` uint8) normalised by ImageNet's mean and std."""
    normalised = (crop - POSE_MEAN) / POSE_STD
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[None], dtype=np.float32)


def decode_simcc(simcc_x: np.ndarray, simcc_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points and scores from one person's SimCC outputs (``1xKxWx``, ``1xKxWy``).

    Returns ``(K, 2)`` float32 ``(x, y)`` in crop pixels (``-0.5`` where the score is not positive) and
    ``(K,)`` scores: the smaller of the two maxima.
    """
    x_score, y_score = simcc_x[0].max(axis=1), simcc_y[0].max(axis=1)
    points = np.stack((simcc_x[0].argmax(axis=1), simcc_y[0].argmax(axis=1)), axis=-1).astype(np.float32)
    scores = np.minimum(x_score, y_score)
    points[scores <= 0.0] = -1
    return points / SIMCC_SPLIT_RATIO, scores


def estimate_poses(bgr: np.ndarray, boxes: np.ndarray, pose_model: OnnxSession) -> WholeBodyPoses:
    """Run the pose model on each box's crop (the whole photo when ``boxes`` is empty), in order."""
    model_input = pose_model.get_inputs()[0]
    simcc_names = [output.name for output in pose_model.get_outputs()[:2]]  # x, then y
    input_height, input_width = model_input.shape[2:]
    if len(boxes) == 0:
        boxes = np.array([[0, 0, bgr.shape[1], bgr.shape[0]]])
    input_size = np.array([input_width, input_height])
    points, scores = [], []
    for box in boxes:
        crop = pose_crop(bgr, box, input_width, input_height)
        feed = {model_input.name: pose_model_input(crop.image)}
        simcc_x, simcc_y = pose_model.run(simcc_names, feed)
        crop_points, crop_scores = decode_simcc(simcc_x, simcc_y)
        # Crop pixels back to photo pixels.
        points.append(crop_points / input_size * crop.size + crop.centre - crop.size / 2)
        scores.append(crop_scores)
    return _openpose_body(np.array(points), np.array(scores, dtype=np.float64))


def _openpose_body(points: np.ndarray, scores: np.ndarray) -> WholeBodyPoses:
    """COCO-WholeBody's 133 points to 134: its 17 body points become OpenPose's 18 (with a neck at the
    shoulders' midpoint, scored 1 when both shoulders score over 0.3, else 0)."""
    shoulders = [_LEFT_SHOULDER, _RIGHT_SHOULDER]
    neck = points[:, shoulders].mean(axis=1)
    neck_score = np.all(scores[:, shoulders] > VISIBILITY, axis=1).astype(scores.dtype)
    body_points = np.stack(
        [neck if coco is None else points[:, coco] for coco in _COCO_OF_OPENPOSE], axis=1
    )
    body_scores = np.stack(
        [neck_score if coco is None else scores[:, coco] for coco in _COCO_OF_OPENPOSE], axis=1
    )
    return WholeBodyPoses(
        points=np.concatenate((body_points, points[:, 17:]), axis=1),
        scores=np.concatenate((body_scores, scores[:, 17:]), axis=1),
    )


def main_person_index(poses: WholeBodyPoses) -> int:
    """The person kept: the largest summed score times extent of the body points below the head.

    Over the neck, shoulders, elbows, wrists, hips, knees and ankles scoring over 0.3; the extent is
    the area of the box around those points' positive coordinates. As DWPose's selection, every
    person's extent is measured over the points the first person has seen. With no extent anywhere,
    the largest summed score.
    """
    scores = poses.scores[:, 1:14]
    seen = scores > VISIBILITY
    summed = np.sum(scores * seen, axis=1)
    areas = np.array([_extent(points[seen[0]]) for points in poses.points[:, 1:14]])
    with np.errstate(invalid="ignore"):
        products = summed * areas
    products[~np.isfinite(products)] = 0
    if np.all(products == 0):
        return int(np.argmax(summed))
    return int(np.nanargmax(products))


def _extent(points: np.ndarray) -> float:
    """Area of the box around ``points``' positive x and positive y values (0 when there are none)."""
    xs, ys = points[:, 0][points[:, 0] > 0], points[:, 1][points[:, 1] > 0]
    if not len(xs) or not len(ys):
        return 0
    return (xs.max() - xs.min()) * (ys.max() - ys.min())


def main_person_keypoints(poses: WholeBodyPoses, height: int, width: int) -> Keypoints:
    """The main person's ``Keypoints``, normalised by the photo's ``height`` and ``width``.

    Body points are seen when they score over 0.3 (the others keep their coordinates, marked not
    seen), hand and face points when they score at least 0.3 (the others are ``-1``).
    """
    person = main_person_index(poses) if len(poses.points) > 1 else 0
    points = poses.points[person] / np.array([float(width), float(height)])
    scores = poses.scores[person]
    body, body_visible = points[:NUM_BODY_POINTS], scores[:NUM_BODY_POINTS] > VISIBILITY
    # Without the neck (index 1) the points after the body have their COCO-WholeBody indices again.
    wholebody = np.delete(np.where((scores >= VISIBILITY)[:, None], points, NOT_SEEN), 1, axis=0)
    face, hands = wholebody[_FACE], np.stack((wholebody[_LEFT_HAND], wholebody[_RIGHT_HAND]))
    return Keypoints(body=body, hands=hands, face=face, body_visible=body_visible)
