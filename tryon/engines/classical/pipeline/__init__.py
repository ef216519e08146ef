"""The try-on pipeline: pure functions over arrays, no web framework, no settings.

``run_tryon`` is the entry point; ``prepare_garment`` is its garment half, for callers that cache it.
"""

from .categories import BodyPartNotVisible, CategoryMismatch, classify_garment
from .pipeline import prepare_garment, run_tryon
from .types import (
    BodyPose,
    Category,
    GarmentCutout,
    GarmentLandmarks,
    LowerBodyLandmarks,
    PersonAnalyzer,
    PreparedGarment,
    Step,
    StepCallback,
    TryOnResult,
    WarpedGarment,
)

__all__ = [
    "BodyPartNotVisible",
    "BodyPose",
    "Category",
    "CategoryMismatch",
    "GarmentCutout",
    "GarmentLandmarks",
    "LowerBodyLandmarks",
    "PersonAnalyzer",
    "PreparedGarment",
    "Step",
    "StepCallback",
    "TryOnResult",
    "WarpedGarment",
    "classify_garment",
    "prepare_garment",
    "run_tryon",
]
