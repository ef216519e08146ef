"""What the FASHN VTON model is conditioned on, prepared without a model (numpy and OpenCV only).

A ``TryOnRequest`` (photos, keypoints, parse maps) becomes its four canvases (``CanvasInputs``):
pose maps drawn at the pre-resized photos' size, a worn garment cut down to its category's labels
(and, in the masked mode, the person made clothing-agnostic), all four fitted onto the model canvas.
The API process prepares them (``engine``); the runner's ``pipeline`` samples them. Neither torch
nor diffusers is imported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ...vision import agnostic
from ...vision.canvas import Padding, pre_resize, resize_pad
from ...vision.keypoints import Keypoints
from .pose_map import draw_pose_map, empty_pose_map

if TYPE_CHECKING:
    import torch

# The model's sizes: photos are pre-resized to fit a square of PRE_RESIZE_SIDE (keypoints, parsing
# and pose maps work there), then fitted onto its CANVAS_WIDTH x CANVAS_HEIGHT canvas.
PRE_RESIZE_SIDE = 864
CANVAS_HEIGHT = 864
CANVAS_WIDTH = 576


class InvalidTryOnRequest(ValueError):
    """A request the pipeline cannot run; the message names the field and the value."""


@dataclass
class TryOnRequest:
    """One try-on.

    Attributes:
        person_image: ``HxWx3`` uint8 RGB photo of the person to dress.
        garment_image: ``HxWx3`` uint8 RGB photo of the garment.
        category: "tops", "bottoms" or "one-pieces".
        person_keypoints: the person's keypoints, normalised to the photo.
        garment_photo_type: "flat-lay" (a product shot: no pose, garment used as is) or "model" (worn
            by someone: ``garment_keypoints`` and ``garment_parse`` are required).
        garment_keypoints: the wearer's keypoints in the garment photo ("model" only).
        seed: the starting noise's seed, or a CPU ``torch.Generator`` to draw it from.
        masked: the masked mode (the person's clothing greyed out; needs ``person_parse``) instead of
            the default maskless mode (the person photo goes in as it is).
        person_parse, garment_parse: ``HxW`` label ids of the pre-resized photos (``PRE_RESIZE_SIDE``).
    """

    person_image: np.ndarray
    garment_image: np.ndarray
    category: str
    person_keypoints: Keypoints
    garment_photo_type: str = "model"
    garment_keypoints: Keypoints | None = None
    seed: int | torch.Generator = 42
    masked: bool = False
    person_parse: np.ndarray | None = None
    garment_parse: np.ndarray | None = None


@dataclass
class CanvasInputs:
    """One request on the model canvas (``HxW``), uint8: what the transformer is conditioned on.

    ``person``, ``garment``: ``HxWx3`` RGB; ``person_pose``, ``garment_pose``: ``HxW`` grey pose maps.
    """

    person: np.ndarray
    garment: np.ndarray
    person_pose: np.ndarray
    garment_pose: np.ndarray
    padding: Padding  # of the person photo on the canvas


def prepare_canvases(requests: Sequence[TryOnRequest], canvas_height: int, canvas_width: int) -> list[CanvasInputs]:
    """Steps 2-4 of the pipeline, which need no model: each request's four images on the canvas.

    Pose maps are drawn at the pre-resized photos' size; a worn garment is cut down to its
    category's labels (and the person made clothing-agnostic in the masked mode); then all four are
    resized onto the ``canvas_height x canvas_width`` canvas (pose maps nearest-exact).
    """
    canvases = []
    for request in requests:
        person = pre_resize(request.person_image, PRE_RESIZE_SIDE)
        garment = pre_resize(request.garment_image, PRE_RESIZE_SIDE)
        person_pose = draw_pose_map(request.person_keypoints, *person.shape[:2])
        garment_pose = garment_pose_map(request, garment.shape[:2])
        canvases.append(
            to_canvas(
                person_input(request, person),
                garment_input(request, garment),
                person_pose,
                garment_pose,
                canvas_height,
                canvas_width,
            )
        )
    return canvases


def to_canvas(
    person: np.ndarray,
    garment: np.ndarray,
    person_pose: np.ndarray,
    garment_pose: np.ndarray,
    canvas_height: int,
    canvas_width: int,
) -> CanvasInputs:
    """The four pre-resized images fitted onto the canvas; pose maps with nearest-exact sampling."""
    size = {"height": canvas_height, "width": canvas_width}
    person_canvas, padding = resize_pad(person, **size)
    garment_canvas, _ = resize_pad(garment, **size)
    person_pose_canvas, _ = resize_pad(person_pose, **size, nearest_exact=True)
    garment_pose_canvas, _ = resize_pad(garment_pose, **size, nearest_exact=True)
    return CanvasInputs(person_canvas, garment_canvas, person_pose_canvas, garment_pose_canvas, padding)


def garment_pose_map(request: TryOnRequest, size: tuple[int, int]) -> np.ndarray:
    """``HxW`` uint8 pose map of the garment's wearer; empty for a flat-lay photo."""
    if request.garment_photo_type == "flat-lay":
        return empty_pose_map(*size)
    return draw_pose_map(request.garment_keypoints, *size)


def person_input(request: TryOnRequest, person: np.ndarray) -> np.ndarray:
    """``HxWx3`` uint8: the pre-resized person photo, or (masked mode) its clothing-agnostic version."""
    if not request.masked:
        return person
    check_parse_size(request.person_parse, person, "person_parse")
    return agnostic.clothing_agnostic_image(person, request.person_parse, request.category)


def garment_input(request: TryOnRequest, garment: np.ndarray) -> np.ndarray:
    """``HxWx3`` uint8: a flat-lay photo as it is; a worn garment with everything but it greyed out."""
    if request.garment_photo_type == "flat-lay":
        return garment
    check_parse_size(request.garment_parse, garment, "garment_parse")
    return agnostic.masked_garment_image(garment, request.garment_parse, request.category)


def check_parse_size(parse: np.ndarray, pre_resized: np.ndarray, name: str) -> None:
    """Refuse a parse map that is not the pre-resized photo's size (the labels would not line up)."""
    if parse.shape != pre_resized.shape[:2]:
        raise InvalidTryOnRequest(
            f"{name} has shape {parse.shape}; it must label the pre-resized photo (PRE_RESIZE_SIDE), "
            f"{pre_resized.shape[:2]}"
        )
