"""Whole outfits: a bottom and a top dressed in one job, as two passes of any engine.

A job with a ``bottom_image`` runs its engine twice: the bottoms first (``bottom_image`` on the person
photo), then the top (``clothing_image``) over the first pass's picture, so the top's hem lies over
the bottoms' waistband. ``category`` names the top: ``auto`` or ``upper_body``
(``outfit_category_refusal``). Each garment's category is decided as for a single garment, by the
engine, with the shared garment classifier (``tryon.vision.garments``): a bottom that is a dress or a
top, or (under ``auto``) a top that is trousers or a dress, fails the job with a reason naming the
field; a photo whose category cannot be told is dressed as what its field says it is, with a note.

Progress: the bottoms' pass reports its steps within 0-50 and the top's within 50-100, each step's
documented figure halved (plus 50 for the top): segmentation 5, pose 12, warp 20, inpainting 27,
blend 42, then segmentation 55 ... blend 92, done 100. It never goes backwards.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from ..errors import TryOnError
from ..images import encode_png
from ..vision.garments import GarmentUndecidable
from .base import Category, EngineRequest, EngineResult, ProgressCallback, Step, TryOnEngine

OUTFIT_CATEGORIES = (Category.AUTO, Category.UPPER_BODY)
BOTTOMS_PASS_SUFFIX = "/bottoms"  # the bottoms' pass's job id: its own seed and sampling request
BOTTOMS_PASS, TOP_PASS = (0, 50), (50, 100)  # the parts of the job's progress each pass reports in


class JobPassesProgress(Protocol):
    """A job's progress (``tryon.jobs.progress.JobProgress``): a ``ProgressCallback`` for the whole
    job, and ``part(start, end)``, one for a pass that reports within ``[start, end]`` percent."""

    def __call__(self, step: Step, fraction: float = 0.0) -> None: ...

    def part(self, start: int, end: int) -> ProgressCallback: ...


class OutfitMismatch(TryOnError):
    """A garment of a whole outfit is not what its field says it is (a dress as the bottom, ...)."""


def outfit_category_refusal(category: Category) -> str | None:
    """Why ``category`` cannot come with a ``bottom_image`` (a sentence for a 400), or None when it can."""
    if category in OUTFIT_CATEGORIES:
        return None
    return (
        f"category {category.value} cannot be combined with bottom_image: with bottom_image, "
        "clothing_image is the top (category auto or upper_body) and bottom_image the trousers, "
        "shorts or skirt worn under it. Send a dress or one garment alone without bottom_image."
    )


def dress(
    engine: TryOnEngine, request: EngineRequest, bottom_image: bytes | None, progress: JobPassesProgress
) -> EngineResult:
    """The person of ``request`` in its garment, or with ``bottom_image`` in a whole outfit.

    Without ``bottom_image``: one run of ``engine``, its steps reported at their documented figures.
    With it: ``dress_outfit``.
    """
    if bottom_image is None:
        return engine.run(request, progress)
    return dress_outfit(engine, request, bottom_image, progress)


def dress_outfit(
    engine: TryOnEngine, request: EngineRequest, bottom_image: bytes, progress: JobPassesProgress
) -> EngineResult:
    """Two passes: ``bottom_image`` on ``request.person_image``, then ``request.clothing_image`` (the
    top, as ``request.category``: ``AUTO`` or ``UPPER_BODY``) over the first pass's picture.

    Returns the second pass's result, its ``category`` the top's and its ``notes`` both passes' (each
    marked ``bottoms:`` or ``top:``). Raises ``OutfitMismatch`` when the engine decided that the
    bottom is not a bottom, or (``AUTO``) that the top is not a top; the engines' own errors as they come.
    """
    bottoms_request = replace(
        request, clothing_image=bottom_image, category=Category.AUTO, job_id=request.job_id + BOTTOMS_PASS_SUFFIX
    )
    bottoms, bottoms_notes = _run_pass(
        engine, bottoms_request, "bottom_image", Category.LOWER_BODY, progress.part(*BOTTOMS_PASS),
        failed="The bottoms (bottom_image) could not be dressed",
    )  # fmt: skip
    top_request = replace(request, person_image=encode_png(bottoms.pictures[0]))  # lossless, as an upload
    top, top_notes = _run_pass(
        engine, top_request, "clothing_image", Category.UPPER_BODY, progress.part(*TOP_PASS),
        failed="The top (clothing_image) could not be dressed over the bottoms' picture",
    )  # fmt: skip
    notes = [
        "outfit: two passes, the bottoms (bottom_image) first, then the top (clothing_image) over them",
        *(f"bottoms: {note}" for note in bottoms_notes),
        *(f"top: {note}" for note in top_notes),
    ]
    if (seed := getattr(bottoms.details, "seed", None)) is not None:
        notes.append(f"bottoms: seed {seed}")
    return replace(top, notes=tuple(notes))


def _run_pass(
    engine: TryOnEngine,
    request: EngineRequest,
    field: str,
    expected: Category,
    on_progress: ProgressCallback,
    *,
    failed: str,
) -> tuple[EngineResult, list[str]]:
    """One garment of the outfit, and its notes. Under ``AUTO`` the engine decides the category
    from the photo; a photo that does not tell is dressed as ``expected``, one that tells otherwise
    fails the job (``OutfitMismatch``). The engine's errors (which call every garment
    ``clothing_image`` and every person photo ``person_image``) are raised again with ``failed``
    before their reason, so the client knows which pass failed."""
    notes: list[str] = []
    try:
        try:
            result = engine.run(request, on_progress)
        except GarmentUndecidable:
            if request.category is not Category.AUTO:
                raise
            notes.append(f"{field}'s category could not be told from its photo: dressed as {expected.value}")
            result = engine.run(replace(request, category=expected), on_progress)
    except TryOnError as error:
        raise type(error)(f"{failed}: {error}") from None
    if result.category is not expected:
        raise OutfitMismatch(_mismatch(field, result.category))
    return result, [*notes, *result.notes]


def _mismatch(field: str, used: Category) -> str:
    """The failed job's reason: ``field``'s photo was decided to show a ``used`` garment."""
    shows = {
        Category.UPPER_BODY: "a top",
        Category.LOWER_BODY: "trousers, shorts or a skirt",
        Category.DRESSES: "a dress or a one-piece",
    }[used]
    if field == "bottom_image":
        return (
            f"bottom_image shows {shows} (category {used.value}, decided from the photo), not a bottom: send "
            "trousers, shorts or a skirt as bottom_image, and the top as clothing_image."
        )
    return (
        f"clothing_image shows {shows} (category {used.value}, decided from the photo), but with bottom_image "
        "it must be the top: send the top as clothing_image, or category upper_body to wear it as a top."
    )
