from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import bentoml
import numpy as np

from ...models.clothes_parser_store import PARSING_MODEL
from ...models.store import declared_model, find_model, is_test_model, require_model, resolve_engine_runner
from .batching import (
    CANCELLED,
    SampleLedger,
    group_by_settings,
    pack_results,
    sample_fitting_memory,
    unpack_requests,
)
from .model_store import DWPOSE_FILES, DWPOSE_FOLDER, FASHN_VTON_MODEL, TRANSFORMER_FOLDER

log = logging.getLogger("tryon.runners")

ENGINE = "fashn-vton"
CUDA_CHECK_SECONDS = 60
DWPOSE = "dwpose"
MEDIAPIPE = "mediapipe (approximates the DWPose keypoints the model was trained on)"
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
    """FASHN VTON v1.5 from the model store, with its pose detector and (when stored) the clothes parser.

    ``sample`` is batchable over the fixed 864x576 canvas: concurrent jobs' rows are merged into one
    batch; inside it, requests with different step counts or guidance are grouped and each group is
    sampled together. A batch the GPU has no memory for is halved and retried; a request that does
    not fit alone fails with a readable reason. ``estimate_pose``, ``parse``, ``progress`` and
    ``describe`` answer while a batch samples.

    Loads its model when ``TRYON_ENGINE`` is ``fashn-vton`` (a missing model stops start-up, naming
    the import command) or, under ``auto``, when the store holds a real (not test) model and this
    process sees CUDA. bfloat16 on GPUs that support it, float32 on the CPU.
    """

    # Declared so `bentoml build` records them; absent when the store lacks them (see declared_model).
    model = declared_model(FASHN_VTON_MODEL)
    parser_model = declared_model(PARSING_MODEL)

    def __init__(self) -> None:
        from ...settings import ModelSettings

        settings = ModelSettings()
        self.resolution = resolve_engine_runner(settings.engine, ENGINE, FASHN_VTON_MODEL)
        self.stored = require_model(f"{FASHN_VTON_MODEL}:latest") if self.resolution.engine == ENGINE else None
        self.reason = self.resolution.reason
        self.pipeline = None
        self.pose_source = None
        self.parser = None
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
        """The model on the device this process sees, or (CUDA unusable) nothing and the reason why."""
        import torch

        from .pipeline import FashnVtonPipeline
        from .transformer import inference_dtype

        device = "cpu"
        if torch.cuda.is_available():
            problem = probe_cuda(lambda: torch.zeros(1, device="cuda"))
            if problem is not None:
                log.error("FashnVtonRunner: %s", problem)
                self.reason = f"{self.reason}; {problem}"
                return
            device = "cuda"
        else:
            self.reason = f"{self.reason}; no CUDA device: sampling runs on the CPU (slow)"
        dtype = inference_dtype(device)
        self.sampling_context = attention_context(settings.fashn_attention, device, dtype)
        pipeline = FashnVtonPipeline.from_pretrained(folder / TRANSFORMER_FOLDER, device=device, dtype=dtype)
        check_canvas(pipeline)
        if settings.fashn_compile:
            pipeline.transformer = torch.compile(pipeline.transformer)
        self.pose_source, self.estimate_keypoints = self.image_models.submit(open_pose_source, folder / DWPOSE_FOLDER).result()
        self.parser = load_parser(test_model=is_test_model(self.stored))
        self.pipeline = pipeline
        log.info("FashnVtonRunner: %s on %s (%s), pose from %s", self.stored.tag, device, dtype, self.pose_source)

    def model_in_memory(self) -> Any:
        if self.pipeline is None:
            raise RuntimeError(f"this runner holds no model ({self.reason})")
        return self.pipeline

    @bentoml.api(batchable=True, max_batch_size=8, max_latency_ms=600_000)
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
        """``HxWx3`` uint8 RGB (the pre-resized photo) -> ``(128, 2)`` float64 ``Keypoints.to_array()``."""
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
    async def describe(self) -> dict[str, Any]:
        """A ``RunnerDescription``; ``steps`` says the pose source and whether garments are parsed."""
        from ..base import describe_runner

        loaded = self.pipeline.transformer if self.pipeline is not None else None
        steps = {}
        if loaded is not None:
            steps = {"pose": self.pose_source, "segmentation": "clothes parser" if self.parser else "none"}
        return describe_runner(
            type(self).__name__, reason=self.reason, model=self.stored, loaded=loaded, steps=steps
        ).model_dump()


def check_canvas(pipeline: Any) -> None:
    """Refuse a stored model whose canvas is not the one the service packs requests on."""
    from .canvas import CANVAS_HEIGHT, CANVAS_WIDTH

    if (pipeline.canvas_height, pipeline.canvas_width) != (CANVAS_HEIGHT, CANVAS_WIDTH):
        raise ValueError(
            f"the stored {FASHN_VTON_MODEL} model works on a {pipeline.canvas_height}x{pipeline.canvas_width} "
            f"canvas; the service needs {CANVAS_HEIGHT}x{CANVAS_WIDTH}"
        )


def open_pose_source(dwpose_folder: Path) -> tuple[str, Callable[[np.ndarray], Any]]:
    """(the pose source's name, photo -> ``Keypoints``): DWPose when both its ONNX files are stored
    (onnxruntime, CUDA when it offers it), else mediapipe's bundled models."""
    if all((dwpose_folder / name).is_file() for name in DWPOSE_FILES):
        from .dwpose import estimate_keypoints, open_sessions

        detector, pose_model = open_sessions(dwpose_folder)
        return DWPOSE, lambda image: estimate_keypoints(image, detector, pose_model)
    from .mediapipe_keypoints import MediapipeKeypoints

    return MEDIAPIPE, MediapipeKeypoints()


def load_parser(*, test_model: bool) -> Any | None:
    """The stored clothes parser, or None: a random test parser only beside a test try-on model."""
    stored = find_model(f"{PARSING_MODEL}:latest")
    if stored is None or (is_test_model(stored) and not test_model):
        return None
    from ...models.clothes_parser import ClothesParser

    return ClothesParser(stored.path)
