"""The try-on pipeline: pure functions over arrays, no web framework, no settings.

``run_tryon`` is the entry point; ``prepare_garment`` is its garment half, for callers that cache it.
"""

from .categories import BodyPartNotVisible, CategoryMismatch
from .pipeline import prepare_garment, run_tryon
from .types import BodyPose, Category, PreparedGarment, Step, TryOnResult

__all__ = [
    "BodyPartNotVisible",
    "BodyPose",
    "Category",
    "CategoryMismatch",
    "PreparedGarment",
    "Step",
    "TryOnResult",
    "prepare_garment",
    "run_tryon",
]
