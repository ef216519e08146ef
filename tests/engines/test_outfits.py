"""Whole outfits (``tryon.engines.outfits``) over a fake engine: two passes, bottoms first, progress
spanning both without going backwards, the categories checked, the notes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from tryon.engines.base import STEP_PROGRESS, Category, EngineDetails, EngineRequest, EngineResult, Step
from tryon.engines.outfits import OutfitMismatch, dress, outfit_category_refusal
from tryon.errors import NoPersonFound
from tryon.images import encode_png
from tryon.jobs.progress import JobProgress
from tryon.vision.garments import undecidable

PERSON, TOP, BOTTOMS = b"person-photo", b"top-photo", b"bottoms-photo"


class FakeDetails(EngineDetails):
    seed: int


@dataclass
class FakeEngine:
    """Reports every step (inpainting in fractions, as a sampler does) and answers a picture filled
    with its run's number (1, 2, ...); ``decides`` is the category it finds in each garment photo (None: undecidable)."""

    decides: dict[bytes, Category | None] = field(default_factory=lambda: {TOP: Category.UPPER_BODY, BOTTOMS: Category.LOWER_BODY})
    runs: list[EngineRequest] = field(default_factory=list)
    name: str = "fake"

    def run(self, request: EngineRequest, on_progress) -> EngineResult:
        self.runs.append(request)
        on_progress(Step.SEGMENTATION)
        category = request.category
        if category is Category.AUTO:
            category = self.decides[request.clothing_image]
            if category is None:
                raise undecidable("the fake cannot tell")
        for step in (Step.POSE, Step.WARP):
            on_progress(step)
        for fraction in (0.0, 0.3, 0.9):
            on_progress(Step.INPAINTING, fraction)
        on_progress(Step.BLEND)
        on_progress(Step.DONE)
        return EngineResult(
            pictures=(run_picture(len(self.runs)),),
            category=category,
            notes=(f"dressed as {category.value}",),
            details=FakeDetails(seed=len(request.job_id)),
        )


def run_picture(number: int) -> np.ndarray:
    return np.full((3, 2, 3), number, np.uint8)


def run_job(engine: FakeEngine, bottom: bytes | None, category: Category = Category.AUTO) -> tuple[EngineResult, list[tuple[Step, int]]]:
    reported: list[tuple[Step, int]] = []
    progress = JobProgress(lambda step, percent: reported.append((Step(step), percent)) or True)
    request = EngineRequest(person_image=PERSON, clothing_image=TOP, category=category, job_id="job-1")
    return dress(engine, request, bottom, progress), reported


def test_one_garment_is_one_run_at_the_documented_figures() -> None:
    engine = FakeEngine()
    result, reported = run_job(engine, None)
    assert len(engine.runs) == 1 and np.array_equal(result.pictures[0], run_picture(1))
    starts = {step: percent for step, percent in reversed(reported)}  # the first report of each step
    assert starts == STEP_PROGRESS


def test_an_outfit_dresses_the_bottoms_first_then_the_top_over_them() -> None:
    engine = FakeEngine()
    result, _ = run_job(engine, BOTTOMS)
    bottoms, top = engine.runs
    assert (bottoms.person_image, bottoms.clothing_image, bottoms.category) == (PERSON, BOTTOMS, Category.AUTO)
    assert (top.person_image, top.clothing_image) == (encode_png(run_picture(1)), TOP)  # the bottoms' picture
    assert np.array_equal(result.pictures[0], run_picture(2))
    # Each pass has its own job id, so its own seed and its own sampling request on the runner.
    assert top.job_id == "job-1" and bottoms.job_id != top.job_id


def test_an_outfits_progress_spans_both_passes_and_never_goes_backwards() -> None:
    _, reported = run_job(FakeEngine(), BOTTOMS)
    percents = [percent for _, percent in reported]
    assert percents == sorted(percents)
    starts = [report for index, report in enumerate(reported) if index == 0 or reported[index - 1][0] is not report[0]]
    assert starts == [
        (Step.SEGMENTATION, 5), (Step.POSE, 12), (Step.WARP, 20), (Step.INPAINTING, 27), (Step.BLEND, 42),
        (Step.SEGMENTATION, 55), (Step.POSE, 62), (Step.WARP, 70), (Step.INPAINTING, 77), (Step.BLEND, 92),
        (Step.DONE, 100),
    ]  # fmt: skip


def test_an_outfits_notes_say_two_passes_and_mark_each_garments_own() -> None:
    result, _ = run_job(FakeEngine(), BOTTOMS)
    notes = result.notes
    assert notes[0].startswith("outfit: two passes, the bottoms (bottom_image) first")
    assert "bottoms: dressed as lower_body" in notes and "top: dressed as upper_body" in notes
    assert result.category is Category.UPPER_BODY
    assert f"bottoms: seed {len('job-1/bottoms')}" in notes and result.details.seed == len("job-1")


@pytest.mark.parametrize("bottom_is", [Category.DRESSES, Category.UPPER_BODY])
def test_a_bottom_photo_that_shows_no_bottom_fails_the_job_naming_the_field(bottom_is: Category) -> None:
    engine = FakeEngine(decides={TOP: Category.UPPER_BODY, BOTTOMS: bottom_is})
    with pytest.raises(OutfitMismatch, match=f"^bottom_image shows .* \\(category {bottom_is.value}, decided from the photo\\), not a bottom"):
        run_job(engine, BOTTOMS)
    assert len(engine.runs) == 1  # the top was never dressed


@pytest.mark.parametrize("top_is", [Category.LOWER_BODY, Category.DRESSES])
def test_under_auto_a_top_photo_that_shows_no_top_fails_the_job(top_is: Category) -> None:
    engine = FakeEngine(decides={TOP: top_is, BOTTOMS: Category.LOWER_BODY})
    with pytest.raises(OutfitMismatch, match=f"^clothing_image shows .* \\(category {top_is.value}, .*must be the top"):
        run_job(engine, BOTTOMS)


def test_an_explicit_upper_body_is_passed_on_as_the_tops_category() -> None:
    engine = FakeEngine(decides={TOP: Category.LOWER_BODY, BOTTOMS: Category.LOWER_BODY})
    result, _ = run_job(engine, BOTTOMS, Category.UPPER_BODY)
    assert engine.runs[1].category is Category.UPPER_BODY and result.category is Category.UPPER_BODY


def test_a_photo_whose_category_cannot_be_told_is_dressed_as_its_fields_garment() -> None:
    engine = FakeEngine(decides={TOP: None, BOTTOMS: None})
    result, reported = run_job(engine, BOTTOMS)
    assert [run.category for run in engine.runs] == [Category.AUTO, Category.LOWER_BODY, Category.AUTO, Category.UPPER_BODY]
    notes = result.notes
    assert "bottoms: bottom_image's category could not be told from its photo: dressed as lower_body" in notes
    assert "top: clothing_image's category could not be told from its photo: dressed as upper_body" in notes
    percents = [percent for _, percent in reported]
    assert percents == sorted(percents)


def test_an_engines_error_says_which_pass_failed() -> None:
    class NoPersonInTheBottomsPicture(FakeEngine):
        def run(self, request: EngineRequest, on_progress) -> EngineResult:
            if request.person_image != PERSON:
                on_progress(Step.SEGMENTATION)
                raise NoPersonFound("No person was found in person_image.")
            return super().run(request, on_progress)

    with pytest.raises(NoPersonFound) as failed:
        run_job(NoPersonInTheBottomsPicture(), BOTTOMS)
    assert str(failed.value) == (
        "The top (clothing_image) could not be dressed over the bottoms' picture: No person was found in person_image."
    )


@pytest.mark.parametrize("category", list(Category))
def test_only_auto_and_upper_body_come_with_a_bottom_image(category: Category) -> None:
    refusal = outfit_category_refusal(category)
    if category in (Category.AUTO, Category.UPPER_BODY):
        assert refusal is None
    else:
        assert refusal.startswith(f"category {category.value} cannot be combined with bottom_image")
