"""FASHN VTON v1.5 end to end: a person photo, a garment photo and their keypoints in, the dressed person out.

Images are ``HxWx3`` uint8 RGB. Keypoints are given (``tryon.vision.keypoints.Keypoints``, normalised to the
photo), so the pipeline needs no detector; parse maps (``HxW`` label ids, as ``agnostic`` reads
them) are needed only where the reference masks: a garment worn by a model (the garment is cut
out to its category's labels) and the masked mode (the person's clothing is greyed out).

A call takes a batch of requests and samples them together; each request draws its starting noise
from its own CPU generator, so its picture does not depend on the batch it shares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .batching import DEFAULT_GUIDANCE_SCALE, DEFAULT_NUM_STEPS
from ...vision.canvas import unpad
from .checkpoint import load_saved_transformer
from .inputs import CanvasInputs, InvalidTryOnRequest, TryOnRequest, prepare_canvases
from ...vision.keypoints import Keypoints
from .sampling import (
    DEFAULT_SKIP_CFG_LAST_N_STEPS,
    DEFAULT_TIME_SHIFT_MU,
    Conditioning,
    RowFilter,
    StepCallback,
    sample_euler,
)
from .transformer import FashnVtonTransformer, inference_dtype

CATEGORY_LABELS = {"tops": 1, "bottoms": 2, "one-pieces": 3}
GARMENT_PHOTO_TYPES = ("flat-lay", "model")


@dataclass
class FashnVtonOutput:
    """``images``: one ``hxwx3`` uint8 RGB picture per request, the person photo fitted into the canvas."""

    images: list[np.ndarray]


class FashnVtonPipeline:
    """Holds a loaded ``FashnVtonTransformer``; each call runs a batch of ``TryOnRequest`` through it."""

    def __init__(self, transformer: FashnVtonTransformer) -> None:
        self.transformer = transformer.eval()
        self.canvas_height, self.canvas_width = transformer.config.input_shape

    @classmethod
    def from_pretrained(
        cls, path: str | Path, *, device: str | torch.device = "cpu", dtype: torch.dtype | None = None
    ) -> FashnVtonPipeline:
        """Load a ``save_pretrained`` transformer folder onto ``device`` (dtype: ``inference_dtype(device)``),
        built on the meta device and given the saved tensors (``checkpoint.load_saved_transformer``)."""
        return cls(load_saved_transformer(path, device=device, dtype=dtype or inference_dtype(device)))

    @torch.no_grad()
    def __call__(
        self,
        requests: TryOnRequest | Sequence[TryOnRequest],
        *,
        num_steps: int = DEFAULT_NUM_STEPS,
        guidance_scale: float = DEFAULT_GUIDANCE_SCALE,
        skip_cfg_last_n_steps: int = DEFAULT_SKIP_CFG_LAST_N_STEPS,
        time_shift_mu: float = DEFAULT_TIME_SHIFT_MU,
        callback: StepCallback | None = None,
    ) -> FashnVtonOutput:
        """Dress each request's person in its garment; the requests share the sampling settings.

        ``callback(steps_done, num_steps)`` runs after each denoising step.
        """
        requests = [requests] if isinstance(requests, TryOnRequest) else list(requests)

        # 1. Check inputs
        if not requests:
            raise InvalidTryOnRequest("no requests to run")
        check_sampling_settings(num_steps, guidance_scale, skip_cfg_last_n_steps)
        for index, request in enumerate(requests):
            check_request(request, index)

        # 2-4. Pose maps, garment preparation, resize-pad onto the model canvas
        canvases = prepare_canvases(requests, self.canvas_height, self.canvas_width)

        # 5. Sample
        pictures = self.sample_canvases(
            canvases,
            [request.category for request in requests],
            [request.seed for request in requests],
            num_steps=num_steps,
            guidance_scale=guidance_scale,
            skip_cfg_last_n_steps=skip_cfg_last_n_steps,
            time_shift_mu=time_shift_mu,
            callback=callback,
        )

        # 6. Unpad
        return FashnVtonOutput(images=[unpad(picture, canvas.padding) for picture, canvas in zip(pictures, canvases)])

    @torch.no_grad()
    def sample_canvases(
        self,
        canvases: Sequence[CanvasInputs],
        categories: Sequence[str],
        seeds: Sequence[int | torch.Generator],
        *,
        num_steps: int = DEFAULT_NUM_STEPS,
        guidance_scale: float = DEFAULT_GUIDANCE_SCALE,
        skip_cfg_last_n_steps: int = DEFAULT_SKIP_CFG_LAST_N_STEPS,
        time_shift_mu: float = DEFAULT_TIME_SHIFT_MU,
        callback: StepCallback | None = None,
        keep_rows: RowFilter | None = None,
    ) -> list[np.ndarray]:
        """Sample a batch already on the canvas: one ``HxWx3`` uint8 RGB picture of the whole canvas per row.

        ``categories``: "tops", "bottoms" or "one-pieces"; ``seeds``: ints or CPU generators, one per row.
        ``keep_rows`` drops rows (cancelled requests) at the next step; their pictures are unfinished
        (``sampling.sample_euler``).
        """
        check_sampling_settings(num_steps, guidance_scale, skip_cfg_last_n_steps)
        pictures = sample_euler(
            self.transformer,
            starting_noise(seeds, self.canvas_height, self.canvas_width),
            self.conditioning(canvases, [CATEGORY_LABELS[category] for category in categories]),
            num_steps=num_steps,
            guidance_scale=guidance_scale,
            skip_cfg_last_n_steps=skip_cfg_last_n_steps,
            time_shift_mu=time_shift_mu,
            callback=callback,
            keep_rows=keep_rows,
        )
        return to_uint8_images(pictures)

    def conditioning(self, canvases: Sequence[CanvasInputs], category_labels: Sequence[int]) -> Conditioning:
        """The batch's conditioning tensors on the transformer's device and dtype, images in [-1, 1]."""
        device, dtype = self.transformer.device, self.transformer.dtype

        def stacked(images: list[np.ndarray]) -> torch.Tensor:
            return torch.stack([to_model_tensor(image) for image in images]).to(device=device, dtype=dtype)

        return Conditioning(
            ca_images=stacked([canvas.person for canvas in canvases]),
            garment_images=stacked([canvas.garment for canvas in canvases]),
            person_poses=stacked([canvas.person_pose for canvas in canvases]),
            garment_poses=stacked([canvas.garment_pose for canvas in canvases]),
            garment_categories=torch.tensor(list(category_labels), dtype=torch.int64, device=device),
        )


def check_sampling_settings(num_steps: int, guidance_scale: float, skip_cfg_last_n_steps: int) -> None:
    """Refuse sampling settings the loop cannot run (InvalidTryOnRequest names the value)."""
    if num_steps < 1:
        raise InvalidTryOnRequest(f"num_steps must be at least 1, got {num_steps}")
    if not np.isfinite(guidance_scale):
        raise InvalidTryOnRequest(f"guidance_scale must be a finite number, got {guidance_scale}")
    if skip_cfg_last_n_steps < 0:
        raise InvalidTryOnRequest(f"skip_cfg_last_n_steps must be 0 or more, got {skip_cfg_last_n_steps}")


def check_request(request: TryOnRequest, index: int) -> None:
    """Refuse a request whose fields do not fit together; the message names request ``index`` and the field."""

    def refuse(problem: str) -> None:
        raise InvalidTryOnRequest(f"request {index}: {problem}")

    for name in ("person_image", "garment_image"):
        image = getattr(request, name)
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            refuse(f"{name} must be an HxWx3 uint8 RGB array, got {_describe_array(image)}")
    if request.category not in CATEGORY_LABELS:
        refuse(f"category must be one of {', '.join(CATEGORY_LABELS)}, got {request.category!r}")
    if request.garment_photo_type not in GARMENT_PHOTO_TYPES:
        types = ", ".join(GARMENT_PHOTO_TYPES)
        refuse(f"garment_photo_type must be one of {types}, got {request.garment_photo_type!r}")
    if not isinstance(request.person_keypoints, Keypoints):
        found = type(request.person_keypoints).__name__
        refuse(f"person_keypoints must be Keypoints (tryon.vision.keypoints.load_keypoints), got {found}")
    if request.garment_photo_type == "model" and (request.garment_keypoints is None or request.garment_parse is None):
        refuse("a garment photo of type 'model' needs garment_keypoints and garment_parse")
    if request.masked and request.person_parse is None:
        refuse("the masked mode needs person_parse")
    if isinstance(request.seed, torch.Generator) and request.seed.device.type != "cpu":
        refuse(f"seed must be an int or a CPU torch.Generator, got a generator on {request.seed.device}")


def _describe_array(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return type(value).__name__


def starting_noise(seeds: Sequence[int | torch.Generator], height: int, width: int) -> torch.Tensor:
    """(B, 3, height, width) float32 standard normal noise on the CPU, each row from its own seed or generator.

    An int seed gives what ``torch.manual_seed(seed); torch.randn((1, 3, height, width))`` gives.
    """
    rows = []
    for generator in seeds:
        if not isinstance(generator, torch.Generator):
            generator = torch.Generator(device="cpu").manual_seed(generator)
        rows.append(torch.randn((1, 3, height, width), generator=generator, dtype=torch.float32))
    return torch.cat(rows)


def to_model_tensor(image: np.ndarray) -> torch.Tensor:
    """``HxWx3`` or ``HxW`` uint8 -> (C, H, W) float32 in [-1, 1]."""
    tensor = torch.from_numpy(np.ascontiguousarray(image))
    tensor = tensor.permute(2, 0, 1) if tensor.ndim == 3 else tensor[None]
    return tensor / 127.5 - 1.0


def to_uint8_images(pictures: torch.Tensor) -> list[np.ndarray]:
    """(B, 3, H, W) in [-1, 1] -> B ``HxWx3`` uint8 arrays; x -> (x + 1) / 2 * 255, truncated (as torchvision)."""
    scaled = ((pictures.float().cpu() + 1) * 0.5).mul(255).to(torch.uint8)
    return list(scaled.permute(0, 2, 3, 1).numpy())
