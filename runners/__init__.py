"""BentoML services that host the learned models, one model each, with adaptive batching."""

from .pose import PoseRunner
from .segmentation import SegmentationRunner

__all__ = ["PoseRunner", "SegmentationRunner"]
