"""The try-on pipeline: pure functions over arrays, no web framework, no settings.

``run_tryon`` is the entry point; ``prepare_garment`` is its garment half, for callers that cache it.
"""

from .pipeline import prepare_garment, run_tryon
from .types import (
    BodyPose,
    GarmentCutout,
    GarmentLandmarks,
    PersonAnalyzer,
    PreparedGarment,
    Step,
    StepCallback,
    TryOnResult,
    WarpedGarment,
)

__all__ = [
    "BodyPose",
    "GarmentCutout",
    "GarmentLandmarks",
    "PersonAnalyzer",
    "PreparedGarment",
    "Step",
    "StepCallback",
    "TryOnResult",
    "WarpedGarment",
    "prepare_garment",
    "run_tryon",
]
