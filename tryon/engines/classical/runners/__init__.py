"""The classical engine's BentoML runner services, one model each, with adaptive batching."""

from .inpainting import InpaintingRunner
from .parsing import ParsingRunner
from .pose import PoseRunner
from .segmentation import SegmentationRunner

__all__ = ["InpaintingRunner", "ParsingRunner", "PoseRunner", "SegmentationRunner"]
