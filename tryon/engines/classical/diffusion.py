"""Diffusion inpainting of the cloth-agnostic region, in batches at a fixed working resolution.

Conventions (as in ``pipeline/types.py``): images are ``HxWx3`` uint8 RGB; masks are ``HxW``, True
(or non-zero) where the image is repainted: **white = repaint, black = keep**. Batches stack them on a
leading axis.

Three layers:

- ``DiffusionInpainter`` holds a diffusers ``StableDiffusionInpaintPipeline`` (loaded from a model
  store folder) and turns a batch of (starting image, mask, garment photo, seed) into images.
- ``pack_requests`` / ``unpack_requests``: the one ``(N, H, W, 8)`` uint8 array a BentoML batchable
  API takes (BentoML batches a single argument), and ``DiffusionInpainter.inpaint_packed`` over it.
- ``FramedInpainting``: what a pipeline step calls for one photo: it frames the region to repaint at
  the working resolution, sends a one-item batch (to the runner, or in-process), and pastes the result
  back into the full-size photo with ``paste_inpainted``, so nothing outside the mask changes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

DEFAULT_PROMPT = "a photo of a person wearing the garment, natural fabric folds, studio light, high quality"
DEFAULT_NEGATIVE_PROMPT = "deformed, blurry, lowres, extra limbs, bad anatomy, watermark, text"

PACKED_CHANNELS = 8  # starting image RGB, mask, garment RGB, seed bytes
_SEED_BYTES = 8

BatchFunction = Callable[[np.ndarray], np.ndarray]


class DiffusionInpainter:
    """A Stable Diffusion inpainting pipeline from the model store, run on batches.

    ``model_dir`` is the stored model's folder (``inpainting_model`` layout: a diffusers pipeline
    at its root, optionally ``ip_adapter/``). On CUDA (``torch.cuda.is_available()``) the weights
    run in float16, on the CPU in float32. ``size`` is the working ``(height, width)``, multiples of
    8; every batch is run at that size. ``steps`` is the number of denoising steps of a full-strength
    run (the pipeline runs ``int(steps * strength)`` of them), ``strength`` (0..1] how far generation
    may move away from the starting image, ``guidance_scale`` the classifier-free guidance (1 turns it
    off). ``ip_adapter_scale`` weighs the garment photo when the model has an IP-Adapter.
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        size: tuple[int, int] = (1024, 768),
        steps: int = 30,
        strength: float = 0.85,
        guidance_scale: float = 5.0,
        ip_adapter_scale: float = 0.6,
        prompt: str = DEFAULT_PROMPT,
        negative_prompt: str = DEFAULT_NEGATIVE_PROMPT,
        scheduler: str = "dpmsolver",
    ) -> None:
        import torch
        from diffusers import DPMSolverMultistepScheduler, StableDiffusionInpaintPipeline

        from .inpainting_model import IP_ADAPTER_DIR, IP_ADAPTER_ENCODER_DIR

        height, width = size
        if height % 8 or width % 8:
            raise ValueError(f"height and width have to be divisible by 8 but are {height} and {width}")
        if not 0 < strength <= 1:
            raise ValueError(f"strength must be in (0, 1], got {strength}")
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        if scheduler not in ("dpmsolver", "stored"):
            raise ValueError(f"scheduler must be 'dpmsolver' or 'stored', got {scheduler!r}")

        self.size = (height, width)
        self.steps, self.strength, self.guidance_scale = steps, strength, guidance_scale
        self.prompt, self.negative_prompt = prompt, negative_prompt
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.dtype = torch.float16 if self.device == "cuda" else torch.float32

        model_dir = Path(model_dir)
        pipe = StableDiffusionInpaintPipeline.from_pretrained(
            model_dir, dtype=self.dtype, local_files_only=True
        )
        if scheduler == "dpmsolver":
            pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
        adapter_dir = model_dir / IP_ADAPTER_DIR
        weight_files = sorted(adapter_dir.glob("*.safetensors")) + sorted(adapter_dir.glob("*.bin"))
        self.has_ip_adapter = bool(weight_files)
        if self.has_ip_adapter:
            pipe.load_ip_adapter(
                str(model_dir),
                subfolder=IP_ADAPTER_DIR,
                weight_name=weight_files[0].name,
                image_encoder_folder=IP_ADAPTER_ENCODER_DIR,
                local_files_only=True,
            )
            pipe.set_ip_adapter_scale(ip_adapter_scale)
        pipe.set_progress_bar_config(disable=True)
        self.pipe = pipe.to(self.device)
        self._lock = threading.Lock()  # the scheduler keeps per-call state: one batch at a time

    def inpaint_batch(
        self, images: np.ndarray, masks: np.ndarray, garments: np.ndarray, seeds: np.ndarray
    ) -> np.ndarray:
        """Repaint the masked region of each image; one image per (image, mask, garment, seed).

        ``images``: ``(N, H, W, 3)`` uint8 RGB starting images (the person with the warped garment laid
        in). ``masks``: ``(N, H, W)`` bool or uint8, non-zero (white) where the image is repainted.
        ``garments``: ``(N, h, w, 3)`` uint8 RGB garment photos (used through the IP-Adapter when the
        model has one; ignored otherwise). ``seeds``: ``(N,)`` integers; item ``i``'s noise comes from
        its own generator seeded with ``seeds[i]``, so a result depends on its seed, not on the batch.

        Returns ``(N, H, W, 3)`` uint8 RGB: the pipeline's whole output (pixels outside the mask are
        the VAE's reconstruction, not the input: paste back with ``paste_inpainted``). Inputs of
        another size than the working size are resized to it and the results back.
        """
        import torch
        from PIL import Image

        # 1. Check inputs.
        count = _check_batch(images, masks, garments, seeds)
        if count == 0:
            return np.zeros((0, *images.shape[1:3], 3), np.uint8)
        in_height, in_width = images.shape[1:3]
        height, width = self.size

        # 2. Resize to the working size.
        work_images = [_resize(image, (height, width), cv2.INTER_AREA) for image in images]
        work_masks = [_resize(_as_uint8_mask(mask), (height, width), cv2.INTER_LINEAR) for mask in masks]

        # 3. One generator per item, on the CPU so a seed gives the same noise on every device.
        generators = [torch.Generator("cpu").manual_seed(int(seed)) for seed in seeds]

        # 4. The garment photos as IP-Adapter embeddings, one per item.
        extra = {}
        if self.has_ip_adapter:
            with self._lock:
                extra["ip_adapter_image_embeds"] = self._garment_embeddings(garments)

        # 5. Denoise.
        with self._lock, torch.inference_mode():
            result = self.pipe(
                prompt=[self.prompt] * count,
                negative_prompt=[self.negative_prompt] * count if self.guidance_scale > 1 else None,
                image=[Image.fromarray(image) for image in work_images],
                mask_image=[Image.fromarray(mask) for mask in work_masks],
                height=height,
                width=width,
                strength=self.strength,
                num_inference_steps=self.steps,
                guidance_scale=self.guidance_scale,
                generator=generators,
                output_type="np",
                **extra,
            ).images

        # 6. Back to uint8 at the input size.
        out = np.clip(np.nan_to_num(result) * 255 + 0.5, 0, 255).astype(np.uint8)
        return np.stack([_resize(image, (in_height, in_width), cv2.INTER_CUBIC) for image in out])

    def inpaint_packed(self, packed: np.ndarray) -> np.ndarray:
        """``inpaint_batch`` over ``pack_requests``' ``(N, H, W, 8)`` uint8 array -> ``(N, H, W, 3)`` uint8."""
        return self.inpaint_batch(*unpack_requests(packed))

    def _garment_embeddings(self, garments: np.ndarray) -> list:
        """One IP-Adapter embedding per garment, laid out as diffusers expects for a batch of prompts:
        a one-adapter list of ``(N, 1, ...)`` tensors (``(2N, 1, ...)`` with guidance: zeros first)."""
        import torch
        from diffusers.models.embeddings import ImageProjection
        from PIL import Image

        # The image encoder sees a centre-cropped square: show it the whole garment, squashed.
        squares = [Image.fromarray(_resize(garment, (224, 224), cv2.INTER_AREA)) for garment in garments]
        projection = self.pipe.unet.encoder_hid_proj.image_projection_layers[0]
        hidden = not isinstance(projection, ImageProjection)
        with torch.inference_mode():
            embeds, negative = self.pipe.encode_image(squares, self.device, 1, hidden)
        embeds, negative = embeds[:, None], negative[:, None]
        if self.guidance_scale > 1:
            embeds = torch.cat([negative, embeds])
        return [embeds]


def pack_requests(images: np.ndarray, masks: np.ndarray, garments: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Stack a batch into one ``(N, H, W, 8)`` uint8 array for a batchable API.

    Channels: 0-2 starting image RGB, 3 mask (255 = repaint), 4-6 garment RGB (resized to the images'
    height and width when it differs), 7 the seed as 8 little-endian bytes in its first pixels.
    """
    count = _check_batch(images, masks, garments, seeds)
    height, width = images.shape[1:3]
    if garments.shape[1:3] != (height, width):
        garments = np.stack([_resize(garment, (height, width), cv2.INTER_AREA) for garment in garments])
    packed = np.zeros((count, height, width, PACKED_CHANNELS), np.uint8)
    packed[..., 0:3] = images
    packed[..., 3] = np.where(masks.astype(bool), 255, 0)
    packed[..., 4:7] = garments
    seed_bytes = np.asarray(seeds, "<i8").reshape(count, 1).view(np.uint8)
    packed[..., 7].reshape(count, -1)[:, :_SEED_BYTES] = seed_bytes
    return packed


def unpack_requests(packed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The inverse of ``pack_requests``: ``(images, masks (bool), garments, seeds (int64))``."""
    if packed.ndim != 4 or packed.shape[3] != PACKED_CHANNELS or packed.dtype != np.uint8:
        raise ValueError(f"expected (N, H, W, {PACKED_CHANNELS}) uint8, got {packed.shape} {packed.dtype}")
    count = packed.shape[0]
    seed_bytes = np.ascontiguousarray(packed[..., 7].reshape(count, -1)[:, :_SEED_BYTES])
    seeds = seed_bytes.view("<i8").reshape(count).astype(np.int64)
    return packed[..., 0:3], packed[..., 3] > 127, packed[..., 4:7], seeds


def paste_inpainted(original: np.ndarray, inpainted: np.ndarray, mask: np.ndarray, *, feather_px: float = 4.0) -> np.ndarray:
    """``original`` with ``inpainted`` pasted inside ``mask``; both ``HxWx3`` uint8 RGB, ``mask`` ``HxW``.

    The seam is feathered inwards over ``feather_px`` pixels (the weight of ``inpainted`` grows from
    0 at the mask's edge to 1 ``feather_px`` inside), so every pixel outside the mask is exactly the
    original's.
    """
    if original.shape != inpainted.shape or original.shape[:2] != mask.shape:
        raise ValueError(f"shapes differ: {original.shape}, {inpainted.shape}, mask {mask.shape}")
    inside = mask.astype(bool)
    if not inside.any():
        return original.copy()
    if feather_px > 0:
        distance = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, 3)
        weight = np.clip(distance / feather_px, 0, 1)
    else:
        weight = inside.astype(np.float32)
    mixed = original.astype(np.float32) + (inpainted.astype(np.float32) - original) * weight[..., None]
    out = original.copy()
    out[inside] = np.clip(mixed[inside] + 0.5, 0, 255).astype(np.uint8)
    return out


@dataclass(frozen=True)
class Frame:
    """A ``height`` x ``width`` box of a photo at ``(top, left)``; it may reach outside the photo."""

    top: int
    left: int
    height: int
    width: int


def frame_around(mask: np.ndarray, aspect: float, *, margin: float = 0.1) -> Frame:
    """The box around ``mask``'s True pixels (grown by ``margin`` of its size on every side) widened
    to ``aspect`` (width / height), kept inside the photo where it fits. The whole photo if the mask
    is empty."""
    height, width = mask.shape
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        top, bottom, left, right = 0, height, 0, width
    else:
        top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        grow_y, grow_x = margin * (bottom - top), margin * (right - left)
        top, bottom = top - grow_y, bottom + grow_y
        left, right = left - grow_x, right + grow_x
    box_h, box_w = bottom - top, right - left
    if box_w / box_h < aspect:
        box_w = box_h * aspect
    else:
        box_h = box_w / aspect
    centre_y, centre_x = (top + bottom) / 2, (left + right) / 2
    box_h, box_w = max(1, round(box_h)), max(1, round(box_w))
    frame_top = _fit(round(centre_y - box_h / 2), box_h, height)
    frame_left = _fit(round(centre_x - box_w / 2), box_w, width)
    return Frame(frame_top, frame_left, box_h, box_w)


def crop_frame(image: np.ndarray, frame: Frame) -> np.ndarray:
    """The pixels of ``frame``; where it reaches outside the photo the edge pixels are repeated."""
    height, width = image.shape[:2]
    pad_top, pad_left = max(0, -frame.top), max(0, -frame.left)
    pad_bottom = max(0, frame.top + frame.height - height)
    pad_right = max(0, frame.left + frame.width - width)
    top, left = frame.top + pad_top, frame.left + pad_left
    inner = image[top : frame.top + frame.height - pad_bottom, left : frame.left + frame.width - pad_right]
    if pad_top or pad_left or pad_bottom or pad_right:
        inner = cv2.copyMakeBorder(inner, pad_top, pad_bottom, pad_left, pad_right, cv2.BORDER_REPLICATE)
    return inner


class FramedInpainting:
    """The inpainting step for one photo over any batch function: the runner, or ``inpaint_packed``.

    ``inpaint_packed`` takes ``pack_requests``' array; ``size`` is the working ``(height, width)``
    the requests are framed at (the runner's working size, so concurrent jobs batch without resizing).
    """

    def __init__(self, inpaint_packed: BatchFunction, *, size: tuple[int, int], margin: float = 0.1) -> None:
        self._inpaint_packed = inpaint_packed
        self._size = size
        self._margin = margin

    def inpaint(self, start: np.ndarray, mask: np.ndarray, garment: np.ndarray, *, seed: int) -> np.ndarray:
        """``start`` (``HxWx3`` uint8 RGB) repainted where ``mask`` (``HxW`` bool) is True, conditioned on
        ``garment`` (any-size uint8 RGB photo). Pixels outside ``mask`` are returned unchanged."""
        height, width = self._size
        frame = frame_around(mask, width / height, margin=self._margin)
        work_image = _resize(crop_frame(start, frame), self._size, cv2.INTER_AREA)
        work_mask = _resize(crop_frame(mask.astype(np.uint8) * 255, frame), self._size, cv2.INTER_LINEAR) > 127
        work_garment = _resize(garment, self._size, cv2.INTER_AREA)
        packed = pack_requests(work_image[None], work_mask[None], work_garment[None], np.array([seed]))
        result = np.asarray(self._inpaint_packed(packed))[0]

        # Back into the photo's grid, only where the frame lies inside the photo.
        photo_h, photo_w = mask.shape
        top, left = max(0, frame.top), max(0, frame.left)
        bottom, right = min(photo_h, frame.top + frame.height), min(photo_w, frame.left + frame.width)
        scaled = _resize(result, (frame.height, frame.width), cv2.INTER_CUBIC)
        inpainted = start.copy()
        inpainted[top:bottom, left:right] = scaled[top - frame.top : bottom - frame.top, left - frame.left : right - frame.left]
        return paste_inpainted(start, inpainted, mask)


def _check_batch(images: np.ndarray, masks: np.ndarray, garments: np.ndarray, seeds: np.ndarray) -> int:
    """The batch size, or ValueError naming the input of the wrong shape or type."""
    if images.ndim != 4 or images.shape[3] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be (N, H, W, 3) uint8, got {images.shape} {images.dtype}")
    count = images.shape[0]
    if masks.shape != images.shape[:3]:
        raise ValueError(f"masks must be (N, H, W) = {images.shape[:3]}, got {masks.shape}")
    if garments.ndim != 4 or garments.shape[0] != count or garments.shape[3] != 3 or garments.dtype != np.uint8:
        raise ValueError(f"garments must be ({count}, h, w, 3) uint8, got {garments.shape} {garments.dtype}")
    if np.shape(seeds) != (count,):
        raise ValueError(f"seeds must be ({count},), got {np.shape(seeds)}")
    return count


def _as_uint8_mask(mask: np.ndarray) -> np.ndarray:
    return np.where(mask.astype(bool), 255, 0).astype(np.uint8)


def _resize(image: np.ndarray, size: tuple[int, int], interpolation: int) -> np.ndarray:
    """``image`` at ``size`` = (height, width); the same array when it already is."""
    if image.shape[:2] == tuple(size):
        return image
    return cv2.resize(image, (size[1], size[0]), interpolation=interpolation)


def _fit(start: int, length: int, limit: int) -> int:
    """Shift a span of ``length`` starting at ``start`` into ``[0, limit)`` where it fits; centred if not."""
    if length >= limit:
        return (limit - length) // 2
    return min(max(0, start), limit - length)
