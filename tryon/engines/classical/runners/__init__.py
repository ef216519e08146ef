"""The classical engine's BentoML runner services, one model each, with adaptive batching."""

from .parsing import ParsingRunner
from .pose import PoseRunner
from .segmentation import SegmentationRunner

__all__ = ["ParsingRunner", "PoseRunner", "SegmentationRunner"]
