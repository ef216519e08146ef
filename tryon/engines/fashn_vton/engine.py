"""The FASHN VTON engine's adapter: uploaded bytes to pictures through ``FashnVtonRunner``.

Steps, as the service documents them:

- segmentation: garment preparation. Both photos decoded and pre-resized (the model's working
  size, ``inputs.PRE_RESIZE_SIDE``); the garment photo's type decided (``auto``: "model", worn, when the
  runner's person detector keeps a person in it, else "flat-lay"); the category decided when the
  client sent ``auto`` (``tryon.vision.garments``: a flat-lay's cut-out shape, a worn photo's
  keypoints and silhouette; undecidable fails the job naming the ``category`` field); a worn garment
  masked to its category (the runner's Segment Anything masker prompted with the wearer's keypoints,
  or the non-commercial clothes parser where the operator allows it, else a geometric mask: the
  wearer's silhouette cut to the category's body zone, face and hands removed);
- pose: the person's keypoints, from the runner (DWPose, or mediapipe);
- warp: the four canvases (``inputs.prepare_canvases``);
- inpainting: the runner samples (``num_samples`` pictures: one row per seed ``seed``, ``seed+1``,
  ..., in one ``sample`` call, so they share a batch); its denoising steps move the progress from 55
  towards 85 (one progress call per interval for all of the process's jobs); a job that ends
  meanwhile (cancelled, timed out) has its rows dropped by the runner at the next step;
- blend: each picture unpadded to the person photo's aspect; with ``result_size`` ``original`` (the
  default) composited onto the person photo at its own size where the model changed it (the
  garment's zone and what the model redrew around it; ``tryon.vision.composite``), with ``model``
  as it is, at the model's resolution (the service encodes them).
"""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ...errors import GarmentNotFound, NoPersonFound, TryOnError
from ...images import ImageLimits, decode_image
from ...vision.agnostic import FashnLabel, GarmentCategory, fashn_labels_from_parse, garment_labels
from ...vision.body import BodyPoints
from ...vision.canvas import pre_resize, unpad
from ...vision.composite import composite_at_photo_size
from ...vision.cutout import flat_lay_mask
from ...vision.garments import GarmentClass, classify_flat_lay, classify_worn, undecidable
from ...vision.keypoints import Keypoints, body_points
from ...vision.prompts import garment_prompts
from ...vision.zones import ZoneNotVisible, face_and_hands, garment_zone, geometric_garment_mask, seen_face_and_hands
from ..base import Category, EngineDescription, EngineRequest, EngineResult, ProgressCallback, RunnerAPI
from ..base import RunnerDescription, Step, job_seed
from .batching import DEFAULT_GUIDANCE_SCALE, SamplingRequest, pack_request, unpack_result
from .inputs import CANVAS_HEIGHT, CANVAS_WIDTH, PRE_RESIZE_SIDE, TryOnRequest, prepare_canvases
from .options import MODE_STEPS, FashnVtonDetails, FashnVtonOptions
from .progress import ProgressPoller
from .runner import FashnVtonRunner
from .runner import CLOTHES_PARSER, GEOMETRIC_MASK, SEGMENT_ANYTHING

RUNNERS = (FashnVtonRunner,)
MIN_PERSON_POINTS = 4
# Sampling calls in flight at once: one per job worker (TRYON_WORKERS is at most 64).
MAX_SAMPLING_CALLS = 64
# The service's categories in the model's terms (``AUTO`` is resolved before the model runs).
GARMENT_CATEGORY_OF_CATEGORY = {
    Category.UPPER_BODY: GarmentCategory.TOPS,
    Category.LOWER_BODY: GarmentCategory.BOTTOMS,
    Category.DRESSES: GarmentCategory.ONE_PIECES,
}
SEED_RANGE = 2**63  # seeds are in [0, 2^63): seed + k wraps round to 0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedGarment:
    """The pre-resized garment photo (``HxWx3`` uint8 RGB), its type, its category (never ``AUTO``),
    its wearer's keypoints and (worn) its ``FashnLabel`` map; ``notes`` for the job's answer."""

    image: np.ndarray
    photo_type: str
    category: Category
    keypoints: Keypoints | None
    parse: np.ndarray | None
    notes: tuple[str, ...]


class FashnVtonEngine:
    """FASHN VTON v1.5 on the runner's GPU; image preparation here, in the API process (CPU, cheap)."""

    name = "fashn-vton"

    def __init__(
        self,
        runner_api: RunnerAPI,
        *,
        limits: ImageLimits,
        progress_poll_seconds: float = 0.2,
    ) -> None:
        self._sample = runner_api(FashnVtonRunner, "sample")
        self._cancel = runner_api(FashnVtonRunner, "cancel")
        self._estimate_pose = runner_api(FashnVtonRunner, "estimate_pose")
        self._parse = runner_api(FashnVtonRunner, "parse")
        self._detect_person = runner_api(FashnVtonRunner, "detect_person")
        self._segment_person = runner_api(FashnVtonRunner, "segment_person")
        self._mask_garment = runner_api(FashnVtonRunner, "mask_garment")
        self._describe = runner_api(FashnVtonRunner, "describe")
        self._limits = limits
        self._poll_seconds = progress_poll_seconds
        self._progress = ProgressPoller(runner_api(FashnVtonRunner, "progress"), progress_poll_seconds)
        self._sampling_calls = ThreadPoolExecutor(MAX_SAMPLING_CALLS, thread_name_prefix="fashn-sample")
        self._garment_masker = GEOMETRIC_MASK  # set by warm_up, from the runner's description

    def run(self, request: EngineRequest, on_progress: ProgressCallback) -> EngineResult:
        options: FashnVtonOptions = request.options
        seed = options.seed if options.seed is not None else job_seed(request.job_id)

        on_progress(Step.SEGMENTATION)
        photo = decode_image("person_image", request.person_image, self._limits)
        person = pre_resize(photo, PRE_RESIZE_SIDE)
        garment = self.prepare_garment(
            decode_image("clothing_image", request.clothing_image, self._limits), request.category, options
        )
        category = garment.category
        fashn_category = GARMENT_CATEGORY_OF_CATEGORY[category].value

        on_progress(Step.POSE)
        person_keypoints = self.keypoints(person)
        if np.count_nonzero(person_keypoints.body_seen) < MIN_PERSON_POINTS:
            raise NoPersonFound("No person was found in person_image: send a photo showing one person's body.")

        on_progress(Step.WARP)
        tryon = TryOnRequest(
            person_image=person,
            garment_image=garment.image,
            category=fashn_category,
            person_keypoints=person_keypoints,
            garment_photo_type=garment.photo_type,
            garment_keypoints=garment.keypoints,
            seed=seed,
            garment_parse=garment.parse,
        )
        (canvas,) = prepare_canvases([tryon], CANVAS_HEIGHT, CANVAS_WIDTH)

        on_progress(Step.INPAINTING)
        # Ids from the job's: a job run again (its worker lost) joins or reads its first sampling.
        request_ids = sample_request_ids(request.job_id or str(uuid.uuid4()), options.num_samples)
        seeds = sample_seeds(seed, options.num_samples)
        samplings = [
            SamplingRequest(
                request_id=request_id,
                category=fashn_category,
                seed=row_seed,
                num_steps=options.num_steps,
                guidance_scale=options.guidance_scale,
            )
            for request_id, row_seed in zip(request_ids, seeds)
        ]
        rows = np.concatenate([pack_request(sampling, canvas) for sampling in samplings])
        pictures = self.sample(samplings, rows, on_progress)

        on_progress(Step.BLEND)
        images = [unpad(picture, canvas.padding) for picture in pictures]
        size_notes: tuple[str, ...] = ()
        if options.result_size == "original":
            seen = unpad(canvas.person, canvas.padding)
            composited = [at_photo_size(photo, seen, image, person_keypoints, category) for image in images]
            images, size_notes = [image for image, _ in composited], (composited[0][1],)
        on_progress(Step.DONE)
        return EngineResult(
            pictures=tuple(np.ascontiguousarray(image) for image in images),
            category=category,
            notes=(*garment.notes, *steps_note(options), *size_notes),
            details=FashnVtonDetails(
                seed=seed,
                steps=options.num_steps,
                guidance_scale=options.guidance_scale,
                garment_photo_type=garment.photo_type,
                mode=options.mode,
            ),
            picture_details=tuple({"seed": each} for each in seeds) if "num_samples" in options.model_fields_set else (),
        )

    def prepare_garment(self, photo: np.ndarray, requested: Category, options: FashnVtonOptions) -> PreparedGarment:
        """The garment photo (``HxWx3`` uint8 RGB) pre-resized, its type and category decided and
        (worn) its garment masked. Raises ``GarmentUndecidable`` when ``requested`` is ``AUTO`` and
        the photo does not say which category, ``GarmentNotFound`` when no garment is found on it."""
        image = pre_resize(photo, PRE_RESIZE_SIDE)
        photo_type, notes = self.garment_photo_type(image, options.garment_photo_type)
        if photo_type == "flat-lay":
            category, note = decide_category(requested, lambda: flat_lay_shape(image))
            return PreparedGarment(image, photo_type, category, None, None, (*notes, note))
        keypoints = self.keypoints(image)
        body = body_points(keypoints, *image.shape[:2])
        silhouette = np.asarray(self._segment_person(image)) > 0.5
        category, note = decide_category(requested, lambda: classify_worn(image, body, silhouette))
        parse, mask_note = self.worn_garment_parse(image, body, silhouette, category)
        return PreparedGarment(image, photo_type, category, keypoints, parse, (*notes, note, mask_note))

    def garment_photo_type(self, image: np.ndarray, option: str) -> tuple[str, list[str]]:
        """``option`` when the client chose; under ``auto``, "model" when the runner's person detector
        keeps a person in ``image``, else "flat-lay" (with a note)."""
        if option != "auto":
            return option, []
        if self._detect_person(image):
            return "model", ["garment photo type: model (the person detector found a person in it)"]
        return "flat-lay", ["garment photo type: flat-lay (the person detector found nobody in it)"]

    def worn_garment_parse(
        self, image: np.ndarray, body: BodyPoints, silhouette: np.ndarray, category: Category
    ) -> tuple[np.ndarray, str]:
        """The worn photo's ``HxW`` uint8 ``FashnLabel`` map (the garment of ``category``, the rest
        background) and a note saying which mask made it."""
        fashn_category = GARMENT_CATEGORY_OF_CATEGORY[category]
        if self._garment_masker == CLOTHES_PARSER:
            return fashn_labels_from_parse(np.asarray(self._parse(image), np.uint8)), f"worn garment masked by {self._garment_masker}"
        try:
            if self._garment_masker == SEGMENT_ANYTHING:
                prompts = garment_prompts(body, category.value)
                packed = np.concatenate([prompts.points, prompts.labels[:, None]], axis=1)
                found = np.asarray(self._mask_garment(image, packed), bool)
                mask = found & garment_zone(body, category.value) & ~face_and_hands(body)
            else:
                mask = geometric_garment_mask(silhouette, body, category.value)
        except ZoneNotVisible as missing:
            raise GarmentNotFound(
                f"The garment photo shows a person, but {missing}: a {category.value} garment cannot be "
                "found on them. Send a photo showing the garment worn whole, or a flat-lay photo."
            ) from None
        if not mask.any():
            raise GarmentNotFound(f"No {category.value} garment was found on the person in the garment photo.")
        labels = np.where(mask, garment_labels(fashn_category)[0], FashnLabel.BACKGROUND).astype(np.uint8)
        return labels, f"worn garment masked by {self._garment_masker}"

    def keypoints(self, image: np.ndarray) -> Keypoints:
        return Keypoints.from_array(np.asarray(self._estimate_pose(image)))

    def sample(
        self, samplings: list[SamplingRequest], packed: np.ndarray, on_progress: ProgressCallback
    ) -> list[np.ndarray]:
        """The runner's pictures of the whole canvas, one per row of ``packed`` (one call: the rows
        share a batch), reporting the denoising steps of the first while they sample.

        The call waits in a thread of its own. This (the job's) thread reports the progress the
        poller last heard; when the job ends first (``on_progress`` raises: cancelled, timed out), it
        tells the runner to drop the job's rows and returns at once.
        """
        request_ids = [sampling.request_id for sampling in samplings]
        call: Future = self._sampling_calls.submit(self._sample, packed)
        with self._progress.watch(request_ids[0]) as progress:
            try:
                while not wait([call], timeout=self._poll_seconds).done:
                    done, total = progress()
                    on_progress(Step.INPAINTING, done / total if total else 0.0)
            except BaseException:
                self.cancel_sampling(request_ids)
                raise
        results = [unpack_result(row) for row in np.asarray(call.result())]
        failed = next((result for result in results if isinstance(result, str)), None)
        if failed is not None:
            raise TryOnError(failed)
        return results

    def cancel_sampling(self, request_ids: list[str]) -> None:
        """Ask the runner to drop these rows from their batch; a failure is only logged (the job has ended)."""
        try:
            self._cancel(request_ids)
        except Exception as error:
            log.warning(
                "could not cancel the sampling of %s: %s: %s", ", ".join(request_ids), type(error).__name__, error
            )

    def warm_up(self) -> None:
        """Ask the runner how it masks worn garments, then run the pose model and one denoising step."""
        runner = self._runner_description()
        self._garment_masker = runner.steps.get("garment_mask", GEOMETRIC_MASK)
        blank = np.zeros((CANVAS_HEIGHT, CANVAS_WIDTH, 3), np.uint8)
        self.keypoints(blank)
        warm = TryOnRequest(blank, blank, "tops", Keypoints.none_seen(), garment_photo_type="flat-lay")
        sampling = SamplingRequest("warm-up", "tops", 0, 1, DEFAULT_GUIDANCE_SCALE)
        self._sample(pack_request(sampling, prepare_canvases([warm], CANVAS_HEIGHT, CANVAS_WIDTH)[0]))

    def describe(self) -> EngineDescription:
        runner = self._runner_description()
        return EngineDescription(
            engine=self.name,
            available=runner.available,
            reason=f"{runner.service}: {runner.reason}",
            test_model=runner.test_model,
            steps=step_performers(runner),
            runners=[runner],
        )

    def _runner_description(self) -> RunnerDescription:
        return RunnerDescription.model_validate(self._describe())


def steps_note(options: FashnVtonOptions) -> tuple[str, ...]:
    """A note when the client's ``steps`` overrode the ``mode`` it also chose, else none."""
    if options.steps is None or "mode" not in options.model_fields_set:
        return ()
    return (f"{options.steps} denoising steps as sent in steps (mode {options.mode} alone would run {MODE_STEPS[options.mode]})",)


def sample_seeds(seed: int, num_samples: int) -> list[int]:
    """One seed per picture: ``seed``, ``seed+1``, ... (modulo 2^63, the seeds' range)."""
    return [(seed + index) % SEED_RANGE for index in range(num_samples)]


def sample_request_ids(job_request_id: str, num_samples: int) -> list[str]:
    """The runner's request id of each picture of a job: the job's own for the first (as for a
    one-picture job), ``{id}#{n}`` for picture n > 0."""
    return [job_request_id, *(f"{job_request_id}#{index}" for index in range(1, num_samples))]


def decide_category(requested: Category, classify: Callable[[], GarmentClass]) -> tuple[Category, str]:
    """The category to run with and a note: ``requested`` unless ``AUTO``, else what ``classify``
    says of the garment (it raises ``GarmentUndecidable`` when nothing)."""
    if requested is not Category.AUTO:
        return requested, f"category {requested.value} (as requested)"
    shape = classify()
    return Category(shape.category), f"category auto -> {shape.category} ({shape.reason})"


def flat_lay_shape(image: np.ndarray) -> GarmentClass:
    """What a flat-lay garment photo's (``HxWx3`` uint8 RGB) cut-out shape says."""
    try:
        found = flat_lay_mask(image)
    except GarmentNotFound:
        raise undecidable("no garment could be told from its background") from None
    return classify_flat_lay(found.mask)


def at_photo_size(
    photo: np.ndarray, seen: np.ndarray, picture: np.ndarray, keypoints: Keypoints, category: Category
) -> tuple[np.ndarray, str]:
    """The model's ``picture`` composited onto the person ``photo`` (``HxWx3`` uint8 RGB, its own size)
    where it changed what the model saw (``seen``, the picture's size): near the garment's zone of
    ``category``, never on the face or hands (their points' hulls: the sleeve's end may change); and a
    note saying so."""
    body = body_points(keypoints, *seen.shape[:2])
    try:
        zone = garment_zone(body, category.value)
    except ZoneNotVisible:
        zone = None  # changes anywhere count, face and hands still kept
    result = composite_at_photo_size(photo, seen, picture, zone=zone, keep=seen_face_and_hands(body))
    height, width = photo.shape[:2]
    return result.image, (
        f"result at the person photo's size, {width}x{height}: the model's picture "
        f"({picture.shape[1]}x{picture.shape[0]}) where it changed the photo, {result.changed_share:.0%} of it"
    )


def step_performers(runner: RunnerDescription) -> dict[str, str]:
    """What performs each step, from the runner's description."""
    model = runner.model_tag or "fashn-vton (not loaded)"
    masker = runner.steps.get("garment_mask", GEOMETRIC_MASK)
    return {
        Step.SEGMENTATION.value: "garment photo type by the person detector; category from the garment's "
        f"shape (flat-lay) or the wearer's keypoints and silhouette (worn); worn garments masked by {masker}",
        Step.POSE.value: runner.steps.get("pose", "none (model not loaded)"),
        Step.WARP.value: "resize-pad onto the 576x864 canvas, grey pose maps",
        Step.INPAINTING.value: f"FASHN VTON v1.5 rectified-flow sampling, model {model} ({runner.license or 'licence unknown'})"
        + (f"; {runner.steps['compile']}" if "compile" in runner.steps else ""),
        Step.BLEND.value: "unpad to the person photo's aspect; composited onto the photo at its own size where "
        "the model changed it (result_size original), or as it is at the model's resolution (model)",
    }
