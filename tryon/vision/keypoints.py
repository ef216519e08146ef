"""Whole-body keypoints in OpenPose's order (DWPose's and our mediapipe adapter's output), and the
wearer's points as the rest of ``tryon.vision`` reads them (``body_points``).

``Keypoints`` holds one person: coordinates normalised to [0, 1] by the image's width (x) and height
(y). A body point scored under the threshold keeps its coordinates and is marked not seen
(``body_visible``), as the reference's ``subset`` does; hand and face points are ``-1`` (both
coordinates) where not seen. Points may lie slightly outside [0, 1] when the detector places them
beyond the photo's edge.

The reference JSON (``candidate``/``subset``/``hands``/``faces``, optionally with ``candidate`` and
``subset`` under ``bodies``) converts both ways with ``Keypoints.from_reference`` and
``Keypoints.to_reference``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .body import POINT_NAMES, BodyPoints

NUM_BODY_POINTS = 18
NUM_HAND_POINTS = 21
NUM_FACE_POINTS = 68
NOT_SEEN = -1.0

# OpenPose body order.
BODY_POINT_NAMES = (
    "nose", "neck",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)  # fmt: skip


@dataclass(frozen=True)
class Keypoints:
    """One person's whole-body keypoints, normalised to [0, 1].

    ``body``: ``(18, 2)`` float64 ``(x, y)`` in OpenPose order (``BODY_POINT_NAMES``). ``hands``:
    ``(2, 21, 2)``, the person's left hand then right hand (COCO-WholeBody order), points as in
    OpenPose's hand model; ``-1`` where not seen. ``face``: ``(68, 2)``, the 68 iBUG face points;
    ``-1`` where not seen. ``body_visible``: ``(18,)`` bool, the body points seen (the reference's
    subset); by default those whose coordinates are not ``-1``.
    """

    body: np.ndarray
    hands: np.ndarray
    face: np.ndarray
    body_visible: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name, shape in (
            ("body", (NUM_BODY_POINTS, 2)),
            ("hands", (2, NUM_HAND_POINTS, 2)),
            ("face", (NUM_FACE_POINTS, 2)),
        ):
            value = np.asarray(getattr(self, name), dtype=np.float64)
            if value.shape != shape:
                raise ValueError(f"Keypoints.{name} must have shape {shape}, not {value.shape}")
            object.__setattr__(self, name, value)
        visible = ~np.all(self.body == NOT_SEEN, axis=1) if self.body_visible is None else self.body_visible
        visible = np.asarray(visible, dtype=bool)
        if visible.shape != (NUM_BODY_POINTS,):
            raise ValueError(f"Keypoints.body_visible must have shape ({NUM_BODY_POINTS},), not {visible.shape}")
        object.__setattr__(self, "body_visible", visible)

    @classmethod
    def none_seen(cls) -> Keypoints:
        """No point seen: what a garment photo without a person gives."""
        return cls(
            body=np.full((NUM_BODY_POINTS, 2), NOT_SEEN),
            hands=np.full((2, NUM_HAND_POINTS, 2), NOT_SEEN),
            face=np.full((NUM_FACE_POINTS, 2), NOT_SEEN),
        )

    def to_array(self) -> np.ndarray:
        """``(128, 3)`` float64 (to send between processes): ``(x, y, seen)`` of the body's 18 points,
        both hands' 42 and the face's 68, ``seen`` 1.0 or 0.0."""
        points = np.concatenate([self.body, self.hands.reshape(-1, 2), self.face])
        seen = np.concatenate([self.body_visible, ~np.all(points[NUM_BODY_POINTS:] == NOT_SEEN, axis=1)])
        return np.concatenate([points, seen[:, None].astype(np.float64)], axis=1)

    @classmethod
    def from_array(cls, points: np.ndarray) -> Keypoints:
        """The inverse of ``to_array``."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        hands_end = NUM_BODY_POINTS + 2 * NUM_HAND_POINTS
        return cls(
            body=points[:NUM_BODY_POINTS, :2],
            hands=points[NUM_BODY_POINTS:hands_end, :2].reshape(2, NUM_HAND_POINTS, 2),
            face=points[hands_end:, :2],
            body_visible=points[:NUM_BODY_POINTS, 2] > 0.5,
        )

    @property
    def body_seen(self) -> np.ndarray:
        """``(18,)`` bool, True where the body point was seen."""
        return self.body_visible

    @classmethod
    def from_reference(cls, pose: Mapping[str, Any]) -> Keypoints:
        """Read the reference's pose dict (``candidate``, ``subset``, ``hands``, ``faces``).

        ``candidate`` and ``subset`` may sit under ``bodies``. ``subset`` is ``1 x 18``: for each body
        point, its row in ``candidate`` or -1 when not seen; an unseen point keeps the coordinates
        ``candidate`` holds for it (one person's 18 rows) as the reference does, else ``-1``. Missing
        or empty ``hands`` or ``faces`` mean none seen; only the first face is read.
        """
        bodies = pose.get("bodies", pose)
        candidate = np.asarray(bodies.get("candidate", []), dtype=np.float64).reshape(-1, 2)
        rows = np.asarray(bodies.get("subset", [[-1] * NUM_BODY_POINTS]), dtype=np.float64)
        if rows.shape[0] != 1 or rows.shape[1] < NUM_BODY_POINTS:
            raise ValueError(f"expected one person's subset of {NUM_BODY_POINTS} entries, not shape {rows.shape}")
        body = candidate[:NUM_BODY_POINTS].copy() if len(candidate) == NUM_BODY_POINTS else np.full((NUM_BODY_POINTS, 2), NOT_SEEN)
        subset = rows[0, :NUM_BODY_POINTS].astype(int)
        for point, row in enumerate(subset):
            if row != -1:
                body[point] = candidate[row]
        keypoints = cls.none_seen()
        hands = np.asarray(pose["hands"], dtype=np.float64) if pose.get("hands") else keypoints.hands
        face = np.asarray(pose["faces"], dtype=np.float64)[0] if pose.get("faces") else keypoints.face
        return cls(body=body, hands=hands, face=face, body_visible=subset != -1)

    def to_reference(self) -> dict[str, Any]:
        """The reference's pose dict: ``candidate`` (18 x 2, unseen points' coordinates kept),
        ``subset`` (1 x 18, -1 where unseen), ``hands`` (2 x 21 x 2) and ``faces`` (1 x 68 x 2), as
        JSON-ready lists."""
        subset = [float(point) if seen else -1.0 for point, seen in enumerate(self.body_seen)]
        return {
            "candidate": self.body.tolist(),
            "subset": [subset],
            "hands": self.hands.tolist(),
            "faces": [self.face.tolist()],
        }


def load_keypoints(source: str | Path | Mapping[str, Any]) -> Keypoints:
    """``Keypoints`` from a reference-shaped JSON file (path) or an already parsed mapping."""
    if isinstance(source, Mapping):
        return Keypoints.from_reference(source)
    return Keypoints.from_reference(json.loads(Path(source).read_text()))


def body_points(keypoints: Keypoints, height: int, width: int) -> BodyPoints:
    """The seen body points, face and hands of ``keypoints`` (normalised to a ``height x width``
    photo) in that photo's pixels."""
    size = np.array([float(width), float(height)])
    points = {
        name: keypoints.body[BODY_POINT_NAMES.index(name)] * size
        for name in POINT_NAMES
        if keypoints.body_seen[BODY_POINT_NAMES.index(name)]
    }
    face = keypoints.face[~np.all(keypoints.face == NOT_SEEN, axis=1)] * size
    hands = tuple(
        hand[~np.all(hand == NOT_SEEN, axis=1)] * size for hand in keypoints.hands if not np.all(hand == NOT_SEEN)
    )
    return BodyPoints(size=(height, width), points=points, face=face, hands=hands)
