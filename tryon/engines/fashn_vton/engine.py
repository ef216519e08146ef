"""The FASHN VTON engine's adapter: uploaded bytes to PNG bytes through ``FashnVtonRunner``.

Steps, as the service documents them:

- segmentation: garment preparation. Both photos decoded and pre-resized (the model's working
  size, ``canvas.pre_resize``); the garment photo's type decided (``auto``: a person found in it
  means "model", worn, else "flat-lay"); a worn garment parsed by the runner's clothes parser (when
  the store has one; else used unmasked, with a note);
- pose: the person's keypoints, from the runner (DWPose, or mediapipe);
- warp: the four canvases (``pipeline.prepare_canvases``);
- inpainting: the runner samples; its denoising steps move the progress from 55 towards 85 (one
  progress call per interval for all of the process's jobs); a job that ends meanwhile (cancelled,
  timed out) has its request dropped by the runner at the next step;
- blend: the picture unpadded to the person photo's aspect, at the model's resolution, as a PNG.
"""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ...errors import NoPersonFound, TryOnError
from ...images import ImageLimits, decode_image, encode_png
from ..base import Category, EngineDescription, EngineRequest, EngineResult, ProgressCallback, RunnerAPI
from ..base import RunnerDescription, Step, job_seed
from .agnostic import GARMENT_CATEGORY_OF_CATEGORY, fashn_labels_from_parse, garment_labels
from .batching import SamplingRequest, pack_request, unpack_result
from .canvas import CANVAS_HEIGHT, CANVAS_WIDTH, pre_resize, unpad
from .pipeline import TryOnRequest, prepare_canvases
from .pose_map import Keypoints
from .progress import ProgressPoller
from .runner import FashnVtonRunner
from .sampling import DEFAULT_GUIDANCE_SCALE, DEFAULT_NUM_STEPS

RUNNERS = (FashnVtonRunner,)
AUTO_CATEGORY = Category.UPPER_BODY
# Body points a garment photo must show for a wearer to count as found (a waist-down shot shows 6).
MIN_WEARER_POINTS = 6
MIN_PERSON_POINTS = 4
# Sampling calls in flight at once: one per job worker (TRYON_WORKERS is at most 64).
MAX_SAMPLING_CALLS = 64
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FashnOptions:
    """The job's sampling options (validated by the API): ``seed`` in [0, 2^63), ``num_steps`` and
    ``guidance_scale`` of the denoising loop, ``garment_photo_type`` auto, flat-lay or model."""

    seed: int
    num_steps: int = DEFAULT_NUM_STEPS
    guidance_scale: float = DEFAULT_GUIDANCE_SCALE
    garment_photo_type: str = "auto"

    @classmethod
    def of(cls, options: Mapping[str, Any], job_id: str) -> FashnOptions:
        """From ``EngineRequest.options``; without a seed, one derived from the job id."""
        return cls(
            seed=int(options["seed"]) if options.get("seed") is not None else job_seed(job_id),
            num_steps=int(options.get("steps") or DEFAULT_NUM_STEPS),
            guidance_scale=float(options.get("guidance_scale") or DEFAULT_GUIDANCE_SCALE),
            garment_photo_type=str(options.get("garment_photo_type") or "auto"),
        )


@dataclass(frozen=True)
class PreparedGarment:
    """The pre-resized garment photo (``HxWx3`` uint8 RGB), its type, its wearer's keypoints and
    (worn, when parsed) its ``FashnLabel`` map; ``notes`` for the job's answer."""

    image: np.ndarray
    photo_type: str
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
        png_compress_level: int = 1,
        progress_poll_seconds: float = 0.2,
    ) -> None:
        self._sample = runner_api(FashnVtonRunner, "sample")
        self._cancel = runner_api(FashnVtonRunner, "cancel")
        self._estimate_pose = runner_api(FashnVtonRunner, "estimate_pose")
        self._parse = runner_api(FashnVtonRunner, "parse")
        self._describe = runner_api(FashnVtonRunner, "describe")
        self._limits = limits
        self._png_compress_level = png_compress_level
        self._poll_seconds = progress_poll_seconds
        self._progress = ProgressPoller(runner_api(FashnVtonRunner, "progress"), progress_poll_seconds)
        self._sampling_calls = ThreadPoolExecutor(MAX_SAMPLING_CALLS, thread_name_prefix="fashn-sample")
        self._parser_loaded = False  # set by warm_up, from the runner's description

    def run(self, request: EngineRequest, on_progress: ProgressCallback) -> EngineResult:
        options = FashnOptions.of(request.options, request.job_id)
        category, notes = resolve_category(request.category)
        fashn_category = GARMENT_CATEGORY_OF_CATEGORY[category].value

        on_progress(Step.SEGMENTATION)
        person = pre_resize(decode_image("person_image", request.person_image, self._limits))
        garment = self.prepare_garment(
            decode_image("clothing_image", request.clothing_image, self._limits), fashn_category, options
        )

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
            seed=options.seed,
            garment_parse=garment.parse,
        )
        (canvas,) = prepare_canvases([tryon], CANVAS_HEIGHT, CANVAS_WIDTH)

        on_progress(Step.INPAINTING)
        sampling = SamplingRequest(
            # The job's id: a job run again (its worker lost) joins or reads its first sampling.
            request_id=request.job_id or str(uuid.uuid4()),
            category=fashn_category,
            seed=options.seed,
            num_steps=options.num_steps,
            guidance_scale=options.guidance_scale,
        )
        picture = self.sample(sampling, pack_request(sampling, canvas), on_progress)

        on_progress(Step.BLEND)
        image = unpad(picture, canvas.padding)
        png = encode_png(np.ascontiguousarray(image), self._png_compress_level)
        on_progress(Step.DONE)
        return EngineResult(
            png=png,
            details={
                "category": category.value,
                "notes": [*notes, *garment.notes],
                "seed": options.seed,
                "steps": options.num_steps,
                "guidance_scale": options.guidance_scale,
                "garment_photo_type": garment.photo_type,
            },
        )

    def prepare_garment(self, photo: np.ndarray, category: str, options: FashnOptions) -> PreparedGarment:
        """The garment photo (``HxWx3`` uint8 RGB) pre-resized, its type decided and (worn) its labels
        parsed; ``category`` is FASHN's ("tops", ...)."""
        image = pre_resize(photo)
        keypoints = self.keypoints(image) if options.garment_photo_type != "flat-lay" else None
        photo_type = options.garment_photo_type
        notes: list[str] = []
        if photo_type == "auto":
            worn = np.count_nonzero(keypoints.body_seen) >= MIN_WEARER_POINTS
            photo_type = "model" if worn else "flat-lay"
            notes.append(f"garment photo type: {photo_type} (a person was {'' if worn else 'not '}found in it)")
        if photo_type == "flat-lay":
            return PreparedGarment(image, photo_type, None, None, tuple(notes))
        if not self._parser_loaded:
            notes.append("the garment photo is worn, but no clothes parser is in the model store: used unmasked")
            # Every pixel labelled as the category's garment: nothing is greyed out.
            whole = np.full(image.shape[:2], garment_labels(category)[0], np.uint8)
            return PreparedGarment(image, "model", keypoints, whole, tuple(notes))
        parse = fashn_labels_from_parse(np.asarray(self._parse(image), np.uint8))
        return PreparedGarment(image, "model", keypoints, parse, tuple(notes))

    def keypoints(self, image: np.ndarray) -> Keypoints:
        return Keypoints.from_array(np.asarray(self._estimate_pose(image)))

    def sample(self, sampling: SamplingRequest, packed: np.ndarray, on_progress: ProgressCallback) -> np.ndarray:
        """The runner's picture of the whole canvas, reporting its denoising steps while it samples.

        The call waits in a thread of its own. This (the job's) thread reports the progress the
        poller last heard; when the job ends first (``on_progress`` raises: cancelled, timed out), it
        tells the runner to drop the request and returns at once.
        """
        call: Future = self._sampling_calls.submit(self._sample, packed)
        with self._progress.watch(sampling.request_id) as progress:
            try:
                while not wait([call], timeout=self._poll_seconds).done:
                    done, total = progress()
                    on_progress(Step.INPAINTING, done / total if total else 0.0)
            except BaseException:
                self.cancel_sampling(sampling.request_id)
                raise
        result = unpack_result(np.asarray(call.result())[0])
        if isinstance(result, str):
            raise TryOnError(result)
        return result

    def cancel_sampling(self, request_id: str) -> None:
        """Ask the runner to drop ``request_id`` from its batch; a failure is only logged (the job has ended)."""
        try:
            self._cancel([request_id])
        except Exception as error:
            log.warning("could not cancel the sampling of %s: %s: %s", request_id, type(error).__name__, error)

    def warm_up(self) -> None:
        """Ask the runner whether it parses garments, then run the pose model and one denoising step."""
        runner = self._runner_description()
        self._parser_loaded = runner.steps.get("segmentation") == "clothes parser"
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


def resolve_category(category: Category) -> tuple[Category, list[str]]:
    """The service category the model is run with, and a note when ``auto`` had to choose."""
    if category is Category.AUTO:
        return AUTO_CATEGORY, [
            "category auto: this engine does not classify garments; used upper_body (send category to choose)"
        ]
    return category, []


def step_performers(runner: RunnerDescription) -> dict[str, str]:
    """What performs each step, from the runner's description."""
    model = runner.model_tag or "fashn-vton (not loaded)"
    parser = runner.steps.get("segmentation") == "clothes parser"
    return {
        Step.SEGMENTATION.value: "garment photo type from its keypoints"
        + ("; worn garments masked by the SegFormer clothes parser" if parser else "; worn garments unmasked (no parser)"),
        Step.POSE.value: runner.steps.get("pose", "none (model not loaded)"),
        Step.WARP.value: "resize-pad onto the 576x864 canvas, grey pose maps",
        Step.INPAINTING.value: f"FASHN VTON v1.5 rectified-flow sampling, model {model} ({runner.license or 'licence unknown'})",
        Step.BLEND.value: "unpad to the person photo's aspect at the model's resolution",
    }
