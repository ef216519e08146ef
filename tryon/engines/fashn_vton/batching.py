"""What travels between the adapter and the runner's batchable ``sample`` API, and how a batch is run.

A request is one uint8 row: a JSON header (``SamplingRequest``: the request's id, category, seed,
steps and guidance), zero-padded to ``HEADER_BYTES``, then its four canvases (``H x W x 8``: person
RGB, garment RGB, person pose map, garment pose map). A result is one uint8 row too: a JSON header
(``{"error": null or a sentence}``) then the ``H x W x 3`` RGB picture of the whole canvas. BentoML's
adaptive batcher concatenates rows from concurrent jobs on the batch dimension.

Inside a batch, requests with different step counts or guidance cannot share a sampling loop: they
are grouped by those settings and each group is sampled together (``group_by_settings``). A group
the GPU has no memory for is halved and each half retried (``tryon.vision.batching``); a single
request that still does not fit fails alone, with a readable reason, and the others go on.

A request id is sampled once, however often it is sent (``SampleLedger``), and a cancelled request
leaves its batch at the next denoising step.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass

import numpy as np

from ...vision.batching import HEADER_BYTES, header_row, read_header
from ...vision.canvas import Padding
from .inputs import CANVAS_HEIGHT, CANVAS_WIDTH, CanvasInputs

# A job's sampling options when its client sends none (``sampling`` runs the loop they set).
DEFAULT_NUM_STEPS = 30
DEFAULT_GUIDANCE_SCALE = 1.5
CANVAS_CHANNELS = 8  # person RGB, garment RGB, person pose, garment pose
CANCELLED = "The request was cancelled while it was being sampled."


@dataclass(frozen=True)
class SamplingRequest:
    """One request's per-job settings: ``request_id`` keys its progress; ``category`` is "tops",
    "bottoms" or "one-pieces"; ``seed`` in [0, 2^63)."""

    request_id: str
    category: str
    seed: int
    num_steps: int
    guidance_scale: float

    @property
    def settings(self) -> tuple[int, float]:
        """What requests sampled together must share."""
        return self.num_steps, self.guidance_scale


def pack_request(request: SamplingRequest, canvas: CanvasInputs) -> np.ndarray:
    """``(1, HEADER_BYTES + H*W*8)`` uint8: one request for the runner's ``sample`` API."""
    stacked = np.concatenate(
        [canvas.person, canvas.garment, canvas.person_pose[..., None], canvas.garment_pose[..., None]], axis=2
    )
    if stacked.shape != (CANVAS_HEIGHT, CANVAS_WIDTH, CANVAS_CHANNELS):
        raise ValueError(f"canvases must be {CANVAS_HEIGHT}x{CANVAS_WIDTH}, got {stacked.shape[:2]}")
    return np.concatenate([header_row(asdict(request)), stacked.reshape(-1)])[None]


def unpack_requests(packed: np.ndarray) -> list[tuple[SamplingRequest, CanvasInputs]]:
    """The inverse of ``pack_request``, for each row of a ``(N, ...)`` batch.

    The canvases' padding is not sent: the runner returns the whole canvas and the adapter unpads it.
    """
    unpacked = []
    for row in packed:
        images = row[HEADER_BYTES:].reshape(CANVAS_HEIGHT, CANVAS_WIDTH, CANVAS_CHANNELS)
        canvas = CanvasInputs(
            person=images[..., 0:3],
            garment=images[..., 3:6],
            person_pose=images[..., 6],
            garment_pose=images[..., 7],
            padding=Padding(0, 0, 0, 0),
        )
        unpacked.append((SamplingRequest(**read_header(row)), canvas))
    return unpacked


def pack_results(results: Sequence[np.ndarray | str]) -> np.ndarray:
    """``(N, HEADER_BYTES + H*W*3)`` uint8: each ``HxWx3`` picture, or an error sentence (a black picture)."""
    rows = []
    for result in results:
        failed = isinstance(result, str)
        picture = np.zeros((CANVAS_HEIGHT, CANVAS_WIDTH, 3), np.uint8) if failed else result
        rows.append(np.concatenate([header_row({"error": result if failed else None}), picture.reshape(-1)]))
    return np.stack(rows)


def unpack_result(row: np.ndarray) -> np.ndarray | str:
    """One row of ``pack_results``: the ``HxWx3`` picture, or the error sentence."""
    error = read_header(row)["error"]
    return error if error is not None else row[HEADER_BYTES:].reshape(CANVAS_HEIGHT, CANVAS_WIDTH, 3)


def group_by_settings(requests: Sequence[SamplingRequest]) -> list[list[int]]:
    """Indices of ``requests`` grouped by equal steps and guidance, in order of first appearance."""
    groups: dict[tuple[int, float], list[int]] = {}
    for index, request in enumerate(requests):
        groups.setdefault(request.settings, []).append(index)
    return list(groups.values())


class SampleLedger:
    """The runner's record of sampling requests by id: each computed once, cancelled ones dropped.

    ``sample`` is batchable and its callers resend a call whose connection was cut, so one request
    id can arrive again in the same batch, in a later batch while the first computes, or after it
    has finished. ``claim`` gives the first arrival a new ``Future`` to compute (``first`` True) and
    every later one that same ``Future``, to wait for or read. Finished results are kept for
    ``keep_seconds`` and at most ``max_results`` of them (a picture is 1.5 MB); requests being
    computed are never forgotten.

    ``cancel`` marks ids (being sampled, or not yet arrived: a cancel can overtake its ``sample``);
    the sampling loop asks ``cancelled`` before each step. The last ``max_cancelled`` ids are kept.
    """

    def __init__(self, *, max_results: int = 32, keep_seconds: float = 600, max_cancelled: int = 10_000) -> None:
        self._requests: OrderedDict[str, tuple[Future, float | None]] = OrderedDict()  # id -> (result, finished at)
        self._cancelled: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._max_results, self._keep_seconds, self._max_cancelled = max_results, keep_seconds, max_cancelled

    def claim(self, request_id: str) -> tuple[Future, bool]:
        """(the request's result, whether this caller is the first and must compute it)."""
        with self._lock:
            self._forget_old(time.monotonic())
            if request_id in self._requests:
                return self._requests[request_id][0], False
            result: Future = Future()
            self._requests[request_id] = (result, None)
            return result, True

    def finish(self, request_id: str, result: np.ndarray | str) -> None:
        """Store the result of a claimed request (a sentence if it failed or was cancelled)."""
        with self._lock:
            future, _ = self._requests.pop(request_id)
            self._requests[request_id] = (future, time.monotonic())  # newest last
            future.set_result(CANCELLED if request_id in self._cancelled else result)

    def abandon(self, request_id: str, error: BaseException) -> None:
        """The computation raised before ``request_id`` was finished: callers waiting get ``error``, and
        a later resend computes it again. A request already finished is left as it is."""
        with self._lock:
            future, _ = self._requests[request_id]
            if future.done():
                return
            del self._requests[request_id]
        future.set_exception(error)

    def cancel(self, request_ids: Sequence[str]) -> None:
        with self._lock:
            for request_id in request_ids:
                self._cancelled[request_id] = None
                self._cancelled.move_to_end(request_id)
            while len(self._cancelled) > self._max_cancelled:
                self._cancelled.popitem(last=False)

    def cancelled(self, request_id: str) -> bool:
        with self._lock:
            return request_id in self._cancelled

    def _forget_old(self, now: float) -> None:
        finished = [(request_id, at) for request_id, (_, at) in self._requests.items() if at is not None]
        surplus = len(finished) - self._max_results
        for position, (request_id, at) in enumerate(finished):
            if position < surplus or now - at > self._keep_seconds:
                del self._requests[request_id]
