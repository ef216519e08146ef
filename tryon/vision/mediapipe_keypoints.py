"""DWPose-style keypoints from the mediapipe models bundled in its wheel, when DWPose's are not in the store.

An approximation: FASHN VTON was trained on DWPose's keypoints (``dwpose.py``), and mediapipe places
some points differently (its hips sit lower and wider than COCO's, its face points are picked from a
468-point mesh rather than predicted as the 68 iBUG points). Use DWPose whenever its two ONNX files
are available.

mediapipe 0.10.21's legacy ``mediapipe.solutions`` ship the models used here: Pose (BlazePose full,
with its detector), Hands (palm detector and hand landmarks) and Face Mesh (short-range face
detector and the 468-point mesh). Steps (``MediapipeKeypoints.__call__``):

1. Pose on the whole photo: 33 landmarks mapped to OpenPose's 18 body points (the neck is the
   shoulders' midpoint); a point is seen when its visibility is at least 0.5.
2. Hands on a square around each seen wrist, extended from the elbow (palm detection needs the hand
   large in its input): mediapipe's 21 hand points are OpenPose's, in the same order. The left
   wrist's hand goes first, as in COCO-WholeBody.
3. Face Mesh on a square around the head: 68 of its 468 points (``FACE_MESH_OF_IBUG``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from .keypoints import BODY_POINT_NAMES, NOT_SEEN, NUM_BODY_POINTS, Keypoints

VISIBILITY = 0.5

# mediapipe Pose's 33 landmarks: the index of each one read here (both engines), the person's own
# left and right.
POSE_LANDMARKS = {
    "nose": 0, "left_eye": 2, "right_eye": 5, "left_ear": 7, "right_ear": 8,
    "left_shoulder": 11, "right_shoulder": 12, "left_elbow": 13, "right_elbow": 14,
    "left_wrist": 15, "right_wrist": 16, "left_hip": 23, "right_hip": 24,
    "left_knee": 25, "right_knee": 26, "left_ankle": 27, "right_ankle": 28,
}  # fmt: skip
# mediapipe Pose's landmark at each OpenPose body point (None: the neck, made from the shoulders).
POSE_OF_OPENPOSE = tuple(None if name == "neck" else POSE_LANDMARKS[name] for name in BODY_POINT_NAMES)
_MP_LEFT_SHOULDER, _MP_RIGHT_SHOULDER = POSE_LANDMARKS["left_shoulder"], POSE_LANDMARKS["right_shoulder"]
# (elbow, wrist): the person's left arm, then right
_MP_ELBOWS_WRISTS = tuple((POSE_LANDMARKS[f"{side}_elbow"], POSE_LANDMARKS[f"{side}_wrist"]) for side in ("left", "right"))
_MP_NOSE = POSE_LANDMARKS["nose"]

# Face Mesh indices of the 68 iBUG face points, in iBUG order (the person's right side first, which
# is the photo's left): jaw 0-16, right brow 17-21, left brow 22-26, nose bridge 27-30, nostrils
# 31-35, right eye 36-41 and left eye 42-47 (each from its outer corner, along the upper lid first),
# outer lips 48-59 and inner lips 60-67 (each from the right corner, along the upper lip first).
FACE_MESH_OF_IBUG = (
    162, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 389,
    71, 63, 105, 66, 107,
    336, 296, 334, 293, 301,
    168, 197, 5, 4,
    75, 97, 2, 326, 305,
    33, 160, 158, 133, 153, 144,
    362, 385, 387, 263, 373, 380,
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,
    78, 82, 13, 312, 308, 317, 14, 87,
)  # fmt: skip

# Crop sizes, as multiples of a body length measured by Pose.
HAND_CROP_SIDE = 1.6  # x the forearm (elbow to wrist)
HAND_CROP_SHIFT = 0.4  # the crop's centre lies this far past the wrist, along the forearm
HEAD_CROP_SIDE = 1.2  # x the shoulder width, centred on the nose
MIN_CROP_SIDE = 32  # pixels


# The detection confidence at which a garment photo counts as worn. At mediapipe's default 0.5 the pose
# detector finds "people" in two of the shared flat tops; at 0.8 in none, while every shared person
# photo (whole and cut at the hips) is still found; at 0.95 one is lost.
PERSON_CONFIDENCE = 0.8

@dataclass(frozen=True)
class _Crop:
    """A region of the photo: its pixels (``hxwx3`` uint8 RGB) and its top-left corner ``(x, y)``."""

    image: np.ndarray
    origin: tuple[int, int]

    def to_photo(self, points: np.ndarray) -> np.ndarray:
        """``(n, 2)`` points normalised to the crop, as photo pixels."""
        height, width = self.image.shape[:2]
        return points * np.array([width, height]) + np.array(self.origin)


def _square_crop(image: np.ndarray, centre: np.ndarray, side: float) -> _Crop | None:
    """The square of ``side`` pixels around ``centre`` (pixels), cut to the photo; None if too small."""
    height, width = image.shape[:2]
    half = max(side, MIN_CROP_SIDE) / 2
    x0, y0 = (max(0, int(round(value - half))) for value in centre)
    x1, y1 = min(width, int(round(centre[0] + half))), min(height, int(round(centre[1] + half)))
    if x1 - x0 < MIN_CROP_SIDE or y1 - y0 < MIN_CROP_SIDE:
        return None
    return _Crop(image=np.ascontiguousarray(image[y0:y1, x0:x1]), origin=(x0, y0))


def _landmark_array(landmarks) -> np.ndarray:
    """``(n, 2)`` float64 normalised ``(x, y)`` of a mediapipe landmark list."""
    return np.array([(point.x, point.y) for point in landmarks.landmark], dtype=np.float64)


def body_points(pose_points: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """OpenPose's ``(18, 2)`` body points from mediapipe Pose's ``(33, 2)`` points (normalised) and
    ``(33,)`` bool, True where the landmark's visibility is at least ``VISIBILITY``; ``-1`` where not seen."""
    body = np.full((NUM_BODY_POINTS, 2), NOT_SEEN)
    for point, landmark in enumerate(POSE_OF_OPENPOSE):
        if landmark is None:
            shoulders = [_MP_LEFT_SHOULDER, _MP_RIGHT_SHOULDER]
            if seen[shoulders].all():
                body[point] = pose_points[shoulders].mean(axis=0)
        elif seen[landmark]:
            body[point] = pose_points[landmark]
    return body


class MediapipeKeypoints:
    """Callable: ``HxWx3`` uint8 RGB photo -> ``Keypoints`` of its most prominent person.

    Holds mediapipe's Pose, Hands and Face Mesh graphs (static-image mode, CPU); ``close()`` frees them.
    Calls from several threads are served one at a time (a mediapipe graph runs one image at a time).
    """

    def __init__(self) -> None:
        from mediapipe.python.solutions import face_mesh, hands, pose

        self._pose = pose.Pose(static_image_mode=True, model_complexity=1)
        self._person_detector = pose.Pose(
            static_image_mode=True, model_complexity=1, min_detection_confidence=PERSON_CONFIDENCE
        )
        self._hands = hands.Hands(static_image_mode=True, max_num_hands=1, model_complexity=1)
        self._face_mesh = face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1)
        self._lock = threading.Lock()

    def close(self) -> None:
        for graph in (self._pose, self._person_detector, self._hands, self._face_mesh):
            graph.close()

    def __enter__(self) -> MediapipeKeypoints:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __call__(self, image: np.ndarray) -> Keypoints:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an HxWx3 uint8 RGB image, got shape {image.shape} of {image.dtype}")
        with self._lock:
            return self._keypoints(np.ascontiguousarray(image))

    def finds_person(self, image: np.ndarray) -> bool:
        """Whether mediapipe Pose's person detector keeps someone in ``image`` (``HxWx3`` uint8 RGB) at
        ``PERSON_CONFIDENCE``."""
        with self._lock:
            return self._person_detector.process(np.ascontiguousarray(image)).pose_landmarks is not None

    def _keypoints(self, image: np.ndarray) -> Keypoints:
        unseen = Keypoints.none_seen()
        found = self._pose.process(image).pose_landmarks
        if found is None:
            return unseen
        size = np.array([image.shape[1], image.shape[0]], dtype=np.float64)
        pose_pixels = _landmark_array(found) * size
        seen = np.array([point.visibility for point in found.landmark]) >= VISIBILITY
        hands = [self._hand(image, pose_pixels, seen, arm) for arm in _MP_ELBOWS_WRISTS]
        face = self._face(image, pose_pixels, seen)
        return Keypoints(
            body=body_points(pose_pixels / size, seen),
            hands=np.stack([unseen.hands[0] if hand is None else hand / size for hand in hands]),
            face=unseen.face if face is None else face / size,
        )

    def _hand(
        self, image: np.ndarray, pose_pixels: np.ndarray, seen: np.ndarray, arm: tuple[int, int]
    ) -> np.ndarray | None:
        """``(21, 2)`` photo pixels of the hand at one arm's (elbow, wrist); None when not found."""
        elbow, wrist = arm
        if not seen[[elbow, wrist]].all():
            return None
        forearm = pose_pixels[wrist] - pose_pixels[elbow]
        centre = pose_pixels[wrist] + HAND_CROP_SHIFT * forearm
        crop = _square_crop(image, centre, HAND_CROP_SIDE * np.linalg.norm(forearm))
        found = None if crop is None else self._hands.process(crop.image).multi_hand_landmarks
        return crop.to_photo(_landmark_array(found[0])) if found else None

    def _face(self, image: np.ndarray, pose_pixels: np.ndarray, seen: np.ndarray) -> np.ndarray | None:
        """``(68, 2)`` photo pixels of the iBUG face points; None when no face is found."""
        shoulders = [_MP_LEFT_SHOULDER, _MP_RIGHT_SHOULDER]
        if not seen[_MP_NOSE] or not seen[shoulders].all():
            return None
        shoulder_width = np.linalg.norm(pose_pixels[shoulders[0]] - pose_pixels[shoulders[1]])
        crop = _square_crop(image, pose_pixels[_MP_NOSE], HEAD_CROP_SIDE * shoulder_width)
        found = None if crop is None else self._face_mesh.process(crop.image).multi_face_landmarks
        return crop.to_photo(_landmark_array(found[0])[list(FACE_MESH_OF_IBUG)]) if found else None
