from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bentoml
import numpy as np

from ...models import devices
from ...models.clothes_parser_store import PARSING_MODEL
from ...models.garment_masker_store import GARMENT_MASKER_MODEL
from ...models.store import declared_model, find_model, is_test_model, require_model, resolve_engine_runner
from ...vision.batching import sample_fitting_memory
from .batching import (
    CANCELLED,
    SampleLedger,
    group_by_settings,
    pack_results,
    unpack_requests,
)
from .pose_source import DWPOSE, PoseSource, open_pose_source
from .model_store import DWPOSE_FOLDER, FASHN_VTON_MODEL, TRANSFORMER_FOLDER

if TYPE_CHECKING:
    from .compile_warmup import CompileReport

log = logging.getLogger("tryon.runners")

ENGINE = "fashn-vton"
CUDA_CHECK_SECONDS = 60
MAX_BATCH_SIZE = 8  # requests in one ``sample`` batch; the compile warm-up covers each size up to it
# How worn garment photos are masked (the describe answer's "garment_mask", the job's notes).
SEGMENT_ANYTHING = "Segment Anything (Apache-2.0), prompted with the wearer's keypoints"
CLOTHES_PARSER = "the SegFormer clothes parser (non-commercial licence, allowed by TRYON_ALLOW_NON_COMMERCIAL)"
GEOMETRIC_MASK = (
    "a geometric mask: the wearer's silhouette (mediapipe selfie segmentation) cut to the category's "
    "body zone from the keypoints, face and hands removed"
)
# The callers' client replaces its HTTP session after this many calls or seconds and closes the old
# one with the calls still waiting on it (BentoML 1.4's SessionManager; docs/fashn-vton.md): far off.
RUNNER_CONNECTION = {"max_requests": 1_000_000, "max_age": 86_400.0}
ATTENTION_BACKENDS = {"flash": "FLASH_ATTENTION", "efficient": "EFFICIENT_ATTENTION", "cudnn": "CUDNN_ATTENTION", "math": "MATH"}


def probe_cuda(touch: Callable[[], Any], timeout: float = CUDA_CHECK_SECONDS) -> str | None:
    """Why the CUDA device cannot be used, or None when ``touch`` (a first allocation on it) works.

    ``touch`` runs in a thread of its own, so a busy or wedged GPU is reported after ``timeout``
    seconds instead of hanging the runner's start-up.
    """
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            touch()
            outcome.append(None)
        except BaseException as error:  # a CUDA init error, whatever its class
            outcome.append(error)

    thread = threading.Thread(target=run, name="fashn-cuda-check", daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        return f"the CUDA device did not answer within {timeout:.0f} s (busy or wedged GPU?)"
    if outcome[0] is not None:
        return f"the CUDA device cannot be used: {type(outcome[0]).__name__}: {outcome[0]}"
    return None


def cuda_problem() -> str | None:
    """Why this process cannot sample on CUDA, or None when it can: no CUDA device or driver (or a
    CPU build of torch), CUDA unusable, or the device busy (``probe_cuda``'s first allocation)."""
    import torch

    if not torch.cuda.is_available():
        if torch.version.cuda is None:
            return f"torch {torch.__version__} is a CPU build (no CUDA support)"
        return "no CUDA device or driver (torch.cuda.is_available() is False)"
    return probe_cuda(lambda: torch.zeros(1, device="cuda"))


class DeviceUnavailableError(RuntimeError):
    """The FASHN VTON runner cannot sample where it was told to: start-up stops, naming the cause."""


@dataclass(frozen=True)
class DeviceChoice:
    """Where the runner samples: ``device`` "cuda" or "cpu", or None (nothing is loaded); ``note``
    says why, for its ``describe`` reason (empty when CUDA is used as expected)."""

    device: str | None
    note: str = ""


def choose_device(
    setting: str, *, engine_setting: str, model: str, test_model: bool, problem: Callable[[], str | None]
) -> DeviceChoice:
    """The device for ``TRYON_FASHN_DEVICE=setting`` (auto, cuda or cpu) under ``TRYON_ENGINE=engine_setting``.

    ``cpu`` samples there on purpose; otherwise ``problem()`` (why CUDA is unusable, or None) decides:
    with CUDA usable, CUDA. Without it, ``cuda`` stops start-up, a test model (``test_model``, random
    weights for tests) samples on the CPU, and the real ``model``: under ``TRYON_ENGINE=fashn-vton``
    stops start-up (``DeviceUnavailableError`` naming the cause and the override; on the CPU in
    float32 a job takes hours), under ``auto`` is not loaded (the classical engine serves; the note
    says why).
    """
    if setting == "cpu":
        return DeviceChoice("cpu", "TRYON_FASHN_DEVICE=cpu: sampling runs on the CPU in float32 (slow)")
    problem_found = problem()
    if problem_found is None:
        return DeviceChoice("cuda")
    if setting == "cuda":
        raise DeviceUnavailableError(f"TRYON_FASHN_DEVICE=cuda, but this runner cannot use CUDA: {problem_found}")
    if test_model:
        return DeviceChoice("cpu", f"{problem_found}: the test model samples on the CPU")
    if engine_setting == ENGINE:
        raise DeviceUnavailableError(
            f"TRYON_ENGINE={ENGINE} with the model {model}, but this runner cannot use CUDA: {problem_found}. "
            "On the CPU (float32) one try-on takes hours, so the runner stops here. Fix the GPU (`tryon "
            "doctor` checks it), set TRYON_FASHN_DEVICE=cpu to sample on the CPU anyway, or set "
            "TRYON_ENGINE=auto to fall back to the classical engine."
        )
    return DeviceChoice(None, f"{problem_found}: not loaded, the classical engine serves")


def attention_context(backend: str, device: str, dtype: Any) -> Callable[[], AbstractContextManager]:
    """A context restricting SDPA to ``backend`` (``TRYON_FASHN_ATTENTION``), after checking it runs here.

    ``auto`` lets torch choose. A backend this device or dtype cannot run stops start-up with a
    ``ValueError`` naming the setting.
    """
    if backend == "auto":
        return nullcontext
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    chosen = getattr(SDPBackend, ATTENTION_BACKENDS[backend])
    probe = torch.zeros((1, 1, 8, 64), device=device, dtype=dtype)
    try:
        with sdpa_kernel([chosen]):
            F.scaled_dot_product_attention(probe, probe, probe)
    except RuntimeError as error:
        raise ValueError(
            f"TRYON_FASHN_ATTENTION={backend}: that attention backend cannot run on {device} in "
            f"{str(dtype).removeprefix('torch.')} ({str(error).splitlines()[0]}); use auto or another backend"
        ) from None
    return lambda: sdpa_kernel([chosen])


class ProgressBoard:
    """Denoising steps done per request id, for the ``progress`` API (bounded: old ids are dropped)."""

    def __init__(self, max_items: int = 10_000) -> None:
        self._steps: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_items = max_items

    def set(self, request_ids: list[str], done: int, total: int) -> None:
        with self._lock:
            for request_id in request_ids:
                self._steps[request_id] = (done, total)
                self._steps.move_to_end(request_id)
            while len(self._steps) > self._max_items:
                self._steps.popitem(last=False)

    def get(self, request_id: str) -> tuple[int, int]:
        with self._lock:
            return self._steps.get(request_id, (0, 0))


@bentoml.service(resources={"gpu": 1}, workers=1, traffic={"timeout": 900}, runner_connection=RUNNER_CONNECTION)
class FashnVtonRunner:
    """FASHN VTON v1.5 from the model store, with its pose detector, the worn-garment masker (Segment
    Anything, when stored), the selfie segmenter, and (when stored and allowed) the clothes parser.

    ``sample`` is batchable over the fixed 864x576 canvas: concurrent jobs' rows are merged into one
    batch; inside it, requests with different step counts or guidance are grouped and each group is
    sampled together. A batch the GPU has no memory for is halved and retried; a request that does
    not fit alone fails with a readable reason. ``estimate_pose``, ``detect_person``,
    ``segment_person``, ``mask_garment``, ``parse``, ``progress`` and ``describe`` answer while a
    batch samples.

    Loads its model when ``TRYON_ENGINE`` is ``fashn-vton`` (a missing model stops start-up, naming
    the import command) or, under ``auto``, when the store holds a real (not test) model and this
    process sees CUDA. Where it samples: ``choose_device`` (``TRYON_FASHN_DEVICE``); bfloat16 on GPUs
    that support it, float32 on the CPU. With ``TRYON_FASHN_COMPILE`` every graph ``sample`` runs is
    compiled before the runner is ready (``compile_warmup``).
    """

    # Declared so `bentoml build` records them; absent when the store lacks them (see declared_model).
    model = declared_model(FASHN_VTON_MODEL)
    parser_model = declared_model(PARSING_MODEL)
    masker_model = declared_model(GARMENT_MASKER_MODEL)

    def __init__(self) -> None:
        from ...settings import ModelSettings

        settings = ModelSettings()
        self.resolution = resolve_engine_runner(settings.engine, ENGINE, FASHN_VTON_MODEL)
        self.stored = require_model(f"{FASHN_VTON_MODEL}:latest") if self.resolution.engine == ENGINE else None
        self.reason = self.resolution.reason
        self.pipeline = None
        self.pose: PoseSource | None = None
        self.pose_source = None
        self.compiled: CompileReport | None = None
        self.parser = None
        self.masker = None
        self.person_segmenter = None
        self.sampling_context: Callable[[], AbstractContextManager] = nullcontext
        self.progress_board = ProgressBoard()
        self.ledger = SampleLedger()
        logging.getLogger("tryon").setLevel(settings.log_level)  # its sampling runs and cancels, at INFO
        # Pose and parsing run on one thread of their own: mediapipe's graphs on the thread that
        # made them, beside (not queued behind) a sampling batch.
        self.image_models = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fashn-pose")
        if self.stored is not None:
            self._load(Path(self.stored.path), settings)

    def _load(self, folder: Path, settings: Any) -> None:
        """The model on the device ``choose_device`` picks (or nothing, and the reason why), its pose
        source, its parser; with ``TRYON_FASHN_COMPILE``, every graph compiled before returning."""
        # The model's modules (torch, diffusers) load here, in the runner's process only.
        from .compile_warmup import compile_before_ready
        from .pipeline import FashnVtonPipeline
        from .transformer import inference_dtype

        choice = choose_device(
            settings.fashn_device,
            engine_setting=settings.engine,
            model=str(self.stored.tag),
            test_model=is_test_model(self.stored),
            problem=cuda_problem,
        )
        if choice.note:
            log.warning("FashnVtonRunner: %s", choice.note)
            self.reason = f"{self.reason}; {choice.note}"
        if choice.device is None:
            return
        device = choice.device
        dtype = inference_dtype(device)
        self.sampling_context = attention_context(settings.fashn_attention, device, dtype)
        pipeline = FashnVtonPipeline.from_pretrained(folder / TRANSFORMER_FOLDER, device=device, dtype=dtype)
        check_canvas(pipeline)
        if settings.fashn_compile:
            with self.sampling_context():
                self.compiled = compile_before_ready(pipeline, MAX_BATCH_SIZE)
            log.info("FashnVtonRunner: %s", self.compiled.describe())
        self.pose = self.image_models.submit(open_pose_source, folder / DWPOSE_FOLDER, cuda_host=devices.cuda_available()).result()
        if self.pose.cpu_fallback:
            log.warning("FashnVtonRunner: DWPose runs on the CPU of a GPU host: %s", self.pose.cpu_fallback)
        self.pose_source, self.estimate_keypoints, self.finds_person = self.pose.describe(), self.pose.estimate, self.pose.finds_person
        self.load_garment_maskers(settings)
        self.pipeline = pipeline
        log.info("FashnVtonRunner: %s on %s (%s), pose from %s", self.stored.tag, device, dtype, self.pose_source)

    def load_garment_maskers(self, settings: Any) -> None:
        """The worn-garment masker (Segment Anything) and the clothes parser when stored (test models
        only beside a test try-on model; the parser only when non-commercial models are allowed), and
        the selfie segmenter of the geometric mask, on the image models' thread."""
        from ...models.selfie_segmenter import SelfieSegmenter

        test_model = is_test_model(self.stored)
        self.masker = load_masker(test_model=test_model)
        self.parser = load_parser(test_model=test_model, allow_non_commercial=settings.allow_non_commercial)
        self.person_segmenter = self.image_models.submit(SelfieSegmenter).result()

    @property
    def garment_mask(self) -> str:
        """How worn garments are masked: the masker, else the parser, else geometrically."""
        return SEGMENT_ANYTHING if self.masker else CLOTHES_PARSER if self.parser else GEOMETRIC_MASK

    def model_in_memory(self) -> Any:
        if self.pipeline is None:
            raise RuntimeError(f"this runner holds no model ({self.reason})")
        return self.pipeline

    @bentoml.api(batchable=True, max_batch_size=MAX_BATCH_SIZE, max_latency_ms=600_000)
    def sample(self, packed: np.ndarray) -> np.ndarray:
        """``(N, ...)`` uint8 rows of ``batching.pack_request`` -> ``(N, ...)`` rows of ``pack_results``.

        Each request id is sampled once (``SampleLedger``): a row whose id arrived before (a resent
        call) waits for that first computation, or reads its kept result. New requests are grouped
        by (steps, guidance); each group is sampled together, split in halves when the GPU runs out
        of memory; a request cancelled (``cancel``) leaves its group at the next step and gets the
        ``CANCELLED`` sentence.
        """
        self.model_in_memory()
        requests = unpack_requests(packed)
        claims = [self.ledger.claim(request.request_id) for request, _ in requests]
        new = [requests[index] for index, (_, first) in enumerate(claims) if first]
        try:
            self._sample_new(new)
        except BaseException as error:
            for request, _ in new:
                self.ledger.abandon(request.request_id, error)
            raise
        return pack_results([result.result() for result, _ in claims])

    def _sample_new(self, members: list) -> None:
        """Sample requests seen for the first time, each result handed to the ledger."""
        import torch

        for request, _ in members:
            if self.ledger.cancelled(request.request_id):
                self.ledger.finish(request.request_id, CANCELLED)  # before it was sampled
            else:  # one line per sampling run (benchmarks/load_fashn_vton.py counts them)
                log.info("sampling %s: %d steps", request.request_id, request.num_steps)
        members = [member for member in members if not self.ledger.cancelled(member[0].request_id)]
        free_memory = torch.cuda.empty_cache if torch.cuda.is_available() else (lambda: None)
        for group in group_by_settings([request for request, _ in members]):
            grouped = [members[index] for index in group]
            for (request, _), result in zip(grouped, sample_fitting_memory(grouped, self._sample_group, free_memory=free_memory)):
                self.ledger.finish(request.request_id, result)

    def _sample_group(self, members: list) -> list[np.ndarray]:
        """Sample requests of equal settings together, reporting each step on the progress board and
        dropping cancelled requests at the next step."""
        requests = [request for request, _ in members]
        ids = [request.request_id for request in requests]
        num_steps, guidance_scale = requests[0].settings
        log.debug("sampling %d request(s), %d steps, guidance %s", len(requests), num_steps, guidance_scale)

        dropped: set[str] = set()

        def keep_rows() -> list[bool]:
            keep = [not self.ledger.cancelled(request_id) for request_id in ids]
            for request_id in {request_id for request_id, kept in zip(ids, keep) if not kept} - dropped:
                dropped.add(request_id)
                done, _ = self.progress_board.get(request_id)
                log.info("%s dropped from its batch after %d of %d steps", request_id, done, num_steps)
            return keep

        with self.sampling_context():
            return self.pipeline.sample_canvases(
                [canvas for _, canvas in members],
                [request.category for request in requests],
                [request.seed for request in requests],
                num_steps=num_steps,
                guidance_scale=guidance_scale,
                callback=lambda done, total: self.progress_board.set(ids, done, total),
                keep_rows=keep_rows,
            )

    @bentoml.api
    async def progress(self, request_ids: list[str]) -> dict[str, list[int]]:
        """``{request id: [steps done, steps in all]}`` for each of ``request_ids`` ([0, 0] until its
        group starts): one call answers for every job a process is sampling."""
        return {request_id: list(self.progress_board.get(request_id)) for request_id in request_ids}

    @bentoml.api
    async def cancel(self, request_ids: list[str]) -> list[str]:
        """Drop these requests from their batch at its next denoising step (or, not yet arrived, at
        once when they do); their ``sample`` rows answer ``CANCELLED``. Returns the ids."""
        self.ledger.cancel(request_ids)
        log.info("cancelled %s", ", ".join(request_ids))
        return request_ids

    @bentoml.api
    async def estimate_pose(self, image: np.ndarray) -> np.ndarray:
        """``HxWx3`` uint8 RGB (the pre-resized photo) -> ``(128, 3)`` float64 ``Keypoints.to_array()``."""
        self.model_in_memory()
        keypoints = await asyncio.get_running_loop().run_in_executor(self.image_models, self.estimate_keypoints, image)
        return keypoints.to_array()

    @bentoml.api
    async def parse(self, image: np.ndarray) -> np.ndarray:
        """``HxWx3`` uint8 RGB -> ``HxW`` uint8 ``ParseLabel`` map (only when a parser is loaded)."""
        if self.parser is None:
            raise RuntimeError(f"no clothes parser loaded ({PARSING_MODEL} is not in the model store)")
        labels = await asyncio.get_running_loop().run_in_executor(self.image_models, self.parser.parse_batch, image[None])
        return labels[0]

    @bentoml.api
    async def detect_person(self, image: np.ndarray) -> bool:
        """Whether the person detector keeps a person in ``image`` (``HxWx3`` uint8 RGB): DWPose's
        YOLOX box, or mediapipe's pose detector."""
        self.model_in_memory()
        return bool(await asyncio.get_running_loop().run_in_executor(self.image_models, self.finds_person, image))

    @bentoml.api
    async def segment_person(self, image: np.ndarray) -> np.ndarray:
        """``HxWx3`` uint8 RGB -> ``HxW`` float32 person probability in [0, 1] (selfie segmentation)."""
        self.model_in_memory()
        masks = await asyncio.get_running_loop().run_in_executor(
            self.image_models, self.person_segmenter.segment_batch, image[None]
        )
        return masks[0]

    @bentoml.api
    async def mask_garment(self, image: np.ndarray, prompts: np.ndarray) -> np.ndarray:
        """``HxWx3`` uint8 RGB and ``(n, 3)`` point prompts ``(x, y, label)`` (pixels; label 1 on the
        garment, 0 off it) -> ``HxW`` bool: the garment Segment Anything outlines."""
        if self.masker is None:
            raise RuntimeError(f"no garment masker loaded ({GARMENT_MASKER_MODEL} is not in the model store)")
        return await asyncio.get_running_loop().run_in_executor(
            self.image_models, self.masker.mask, image, prompts[:, :2], prompts[:, 2].astype(np.int64)
        )

    @bentoml.api
    async def describe(self) -> dict[str, Any]:
        """A ``RunnerDescription``; ``steps`` says the pose source (with DWPose's onnxruntime provider, and
        why it runs on the CPU of a GPU host), how worn garments are masked and (compiled) the compile;
        ``models`` lists every model in use with its licences."""
        from ..base import describe_runner

        loaded = self.pipeline.transformer if self.pipeline is not None else None
        steps = {}
        if loaded is not None:
            steps = {"pose": self.pose_source, "garment_mask": self.garment_mask}
            if self.compiled is not None:
                steps["compile"] = self.compiled.describe()
        return describe_runner(
            type(self).__name__, reason=self.reason, model=self.stored, loaded=loaded, steps=steps,
            models=self.models_in_use() if loaded is not None else (),
        ).model_dump()

    def models_in_use(self) -> list[Any]:
        """``ModelInUse`` of every model this runner serves with, with its licence (for /health)."""
        from ...models.licences import model_in_use, stored_model_in_use

        models = [stored_model_in_use(self.stored, "try-on model (FASHN VTON v1.5)")]
        models.append(model_in_use("dwpose" if self.pose.name == DWPOSE else "mediapipe-pose"))
        models.append(model_in_use("mediapipe-selfie-segmentation"))
        if self.masker is not None:
            models.append(stored_model_in_use(self.masker.stored, "worn-garment masker"))
        if self.parser is not None:
            models.append(stored_model_in_use(find_model(f"{PARSING_MODEL}:latest"), "clothes parser"))
        return models


def check_canvas(pipeline: Any) -> None:
    """Refuse a stored model whose canvas is not the one the service packs requests on."""
    from .inputs import CANVAS_HEIGHT, CANVAS_WIDTH

    if (pipeline.canvas_height, pipeline.canvas_width) != (CANVAS_HEIGHT, CANVAS_WIDTH):
        raise ValueError(
            f"the stored {FASHN_VTON_MODEL} model works on a {pipeline.canvas_height}x{pipeline.canvas_width} "
            f"canvas; the service needs {CANVAS_HEIGHT}x{CANVAS_WIDTH}"
        )


def load_parser(*, test_model: bool, allow_non_commercial: bool) -> Any | None:
    """The stored clothes parser, or None: a random test parser only beside a test try-on model, a
    non-commercial one only when ``allow_non_commercial`` (``TRYON_ALLOW_NON_COMMERCIAL``)."""
    from ...models.licences import stored_commercial_use

    stored = find_model(f"{PARSING_MODEL}:latest")
    if stored is None or (is_test_model(stored) and not test_model):
        return None
    if not stored_commercial_use(stored) and not allow_non_commercial:
        log.info("FashnVtonRunner: %s is not for commercial use; not loaded (TRYON_ALLOW_NON_COMMERCIAL)", stored.tag)
        return None
    from ...models.clothes_parser import ClothesParser

    return ClothesParser(stored.path)


def load_masker(*, test_model: bool) -> Any | None:
    """The stored Segment Anything masker, or None: a random test one only beside a test try-on model."""
    stored = find_model(f"{GARMENT_MASKER_MODEL}:latest")
    if stored is None or (is_test_model(stored) and not test_model):
        return None
    from ...models.garment_masker import GarmentMasker

    return GarmentMasker(stored)
