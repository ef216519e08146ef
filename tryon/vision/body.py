"""The wearer's body as the shared vision code reads it: named points, face and hands, in pixels.

Each engine's pose model numbers its points its own way (mediapipe's 33 landmarks, DWPose's OpenPose
18 plus whole-body points); each engine adapts its own to ``BodyPoints``, and everything in
``tryon.vision`` reads only this.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# The points the vision code reads; the person's own left and right.
POINT_NAMES = (
    "nose",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip


@dataclass(frozen=True)
class BodyPoints:
    """One person's seen points in pixels of a photo of ``size`` ``(height, width)``.

    ``points``: name (``POINT_NAMES``) -> ``(2,)`` float64 ``(x, y)``, only the points seen (they may
    lie a little outside the photo). ``face``: ``(n, 2)`` face points (empty when none were found).
    ``hands``: one ``(n, 2)`` array of points per hand found.
    """

    size: tuple[int, int]
    points: dict[str, np.ndarray]
    face: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    hands: tuple[np.ndarray, ...] = ()

    def __post_init__(self) -> None:
        unknown = set(self.points) - set(POINT_NAMES)
        if unknown:
            raise ValueError(f"unknown body point names: {sorted(unknown)}")
        object.__setattr__(self, "points", {name: np.asarray(p, np.float64) for name, p in self.points.items()})

    def has(self, *names: str) -> bool:
        """True when every named point is seen."""
        return all(name in self.points for name in names)

    def shows(self, *names: str) -> bool:
        """True when every named point is seen inside the photo."""
        height, width = self.size
        return self.has(*names) and all(
            0 <= self.points[name][0] < width and 0 <= self.points[name][1] < height for name in names
        )

    def mid(self, left: str, right: str) -> np.ndarray:
        """The midpoint of two seen points."""
        return (self.points[left] + self.points[right]) / 2

    def distance(self, first: str, second: str) -> float:
        return float(np.linalg.norm(self.points[first] - self.points[second]))
