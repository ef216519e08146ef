"""FASHN VTON's masked ("segmentation") mode's inputs: the clothing-agnostic person and the masked garment.

FASHN VTON's default mode is maskless (person photo unmasked, garment photo unchanged). In masked
mode the worn garment is greyed out of the person photo and a garment photo worn by a model is cut
down to the garment:

- ``clothing_agnostic_image``: the person with the region a garment of ``category`` may cover set to
  grey 127: the worn garments of that category, the skin they leave (arms and torso for tops, legs
  for bottoms), grown along their outline, then widened sideways and vertically; the face, hair,
  accessories (and hands, feet, or the limbs the category does not dress) are kept.
- ``masked_garment_image``: the garment photo with everything outside the category's garment labels
  set to grey 127.

Both take parse maps in FASHN Human Parser label ids (``FashnLabel``). The FASHN parser's weights are
not for commercial use, so the service parses with its own clothes parser and converts its
``ParseLabel`` map with ``fashn_labels_from_parse``.

Images are ``HxWx3`` uint8 (any channel order); parse maps ``HxW`` integer label ids, the image's
size. Masks are ``HxW`` bool, True where the named region is. Sizes scale with the image's height
relative to the model's 864.
"""

from __future__ import annotations

from enum import Enum, IntEnum

import cv2
import numpy as np

from ..models.clothes_parser import ParseLabel

MASK_GREY = 127
BASELINE_HEIGHT = 864.0


class FashnLabel(IntEnum):
    """The FASHN Human Parser's 18 label ids."""

    BACKGROUND = 0
    FACE = 1
    HAIR = 2
    TOP = 3
    DRESS = 4
    SKIRT = 5
    PANTS = 6
    BELT = 7
    BAG = 8
    HAT = 9
    SCARF = 10
    GLASSES = 11
    ARMS = 12
    HANDS = 13
    LEGS = 14
    FEET = 15
    TORSO = 16
    JEWELRY = 17


class GarmentCategory(str, Enum):
    """FASHN VTON's garment categories (functions here also take their plain string values)."""

    TOPS = "tops"
    BOTTOMS = "bottoms"
    ONE_PIECES = "one-pieces"

    @property
    def covers_upper_body(self) -> bool:
        return self is not GarmentCategory.BOTTOMS

    @property
    def covers_lower_body(self) -> bool:
        return self is not GarmentCategory.TOPS


UPPER_GARMENT_LABELS = (FashnLabel.TOP, FashnLabel.DRESS, FashnLabel.SCARF)
LOWER_GARMENT_LABELS = (FashnLabel.SKIRT, FashnLabel.PANTS, FashnLabel.BELT)
# Always kept in the agnostic image, whatever the category.
IDENTITY_LABELS = (
    FashnLabel.FACE, FashnLabel.HAIR, FashnLabel.JEWELRY, FashnLabel.BAG, FashnLabel.GLASSES, FashnLabel.HAT,
)  # fmt: skip

# The service's clothes parser to FASHN ids. Lower clothes become pants and a one-piece a dress:
# within a category the choice does not change any mask. Its NECK is bare skin above the top (the
# FASHN parser's torso); OTHER (hat, shoes, bag, belt, scarf...) is kept as an accessory, so belts
# and scarves are not masked with the garment as the FASHN parser would.
FASHN_LABEL_OF_PARSE_LABEL = {
    ParseLabel.BACKGROUND: FashnLabel.BACKGROUND,
    ParseLabel.UPPER_CLOTHES: FashnLabel.TOP,
    ParseLabel.LOWER_CLOTHES: FashnLabel.PANTS,
    ParseLabel.ONE_PIECE: FashnLabel.DRESS,
    ParseLabel.ARMS: FashnLabel.ARMS,
    ParseLabel.HANDS: FashnLabel.HANDS,
    ParseLabel.FACE: FashnLabel.FACE,
    ParseLabel.HAIR: FashnLabel.HAIR,
    ParseLabel.LEGS: FashnLabel.LEGS,
    ParseLabel.NECK: FashnLabel.TORSO,
    ParseLabel.OTHER: FashnLabel.BAG,
}


def fashn_labels_from_parse(parse: np.ndarray) -> np.ndarray:
    """``HxW`` uint8 ``FashnLabel`` map of an ``HxW`` ``ParseLabel`` map (the service's parser)."""
    table = np.zeros(max(ParseLabel) + 1, np.uint8)
    for ours, theirs in FASHN_LABEL_OF_PARSE_LABEL.items():
        table[ours] = theirs
    return table[parse]


def garment_labels(category: GarmentCategory | str) -> tuple[FashnLabel, ...]:
    """The labels of the garments a ``category`` replaces (and a garment photo is cut down to)."""
    category = GarmentCategory(category)
    return (UPPER_GARMENT_LABELS if category.covers_upper_body else ()) + (
        LOWER_GARMENT_LABELS if category.covers_lower_body else ()
    )


def masked_garment_image(garment: np.ndarray, parse: np.ndarray, category: GarmentCategory | str) -> np.ndarray:
    """A copy of ``garment`` (``HxWx3`` uint8) that is grey 127 outside ``category``'s garment labels."""
    masked = garment.copy()
    masked[~np.isin(parse, garment_labels(category))] = MASK_GREY
    return masked


def clothing_agnostic_image(
    person: np.ndarray, parse: np.ndarray, category: GarmentCategory | str
) -> np.ndarray:
    """A copy of ``person`` (``HxWx3`` uint8) that is grey 127 where ``agnostic_mask`` is True."""
    agnostic = person.copy()
    agnostic[agnostic_mask(parse, category)] = MASK_GREY
    return agnostic


def agnostic_mask(parse: np.ndarray, category: GarmentCategory | str) -> np.ndarray:
    """``HxW`` bool, True where a garment of ``category`` may be drawn on the person of ``parse``.

    The worn region (the category's garments and the skin they leave bare) grown slightly always
    counts; around it, the smooth painted outline (cut back where the region's bounding box
    would reach too far from it) widened by a margin counts too, except on what is kept.
    """
    category = GarmentCategory(category)
    scale = parse.shape[0] / BASELINE_HEIGHT
    worn = np.isin(parse, _worn_labels(category))
    buffer_side = max(1, int(4 * scale))
    buffer = cv2.dilate(worn.astype(np.uint8), np.ones((buffer_side, buffer_side), np.uint8)).astype(bool)
    outline = _painted_outline(worn, brush_radius=max(1, int(18 * scale)))
    reach = _clip_box_to_outline(outline, _bounding_box_mask(worn), max_distance=100.0 * scale)
    sideways, vertically = int(33 * scale), int(16 * scale)
    reach = _dilate_rectangle(reach, half_width=sideways, half_height=vertically)
    return buffer | (reach & ~_kept_mask(parse, category))


def _worn_labels(category: GarmentCategory) -> list[FashnLabel]:
    """The category's garments plus the skin they cover: arms and torso (upper body), legs (lower)."""
    labels = list(garment_labels(category))
    if category.covers_upper_body:
        labels += [FashnLabel.ARMS, FashnLabel.TORSO]
    if category.covers_lower_body:
        labels += [FashnLabel.LEGS]
    return labels


def _kept_mask(parse: np.ndarray, category: GarmentCategory) -> np.ndarray:
    """``HxW`` bool, True on what the new garment must not cover: identity, and the undressed limbs."""
    kept = list(IDENTITY_LABELS)
    if category is GarmentCategory.TOPS:
        kept.append(FashnLabel.LEGS)
    elif category is GarmentCategory.BOTTOMS:
        kept.append(FashnLabel.ARMS)
    if category.covers_upper_body:
        kept.append(FashnLabel.HANDS)
    if category.covers_lower_body:
        kept.append(FashnLabel.FEET)
    return np.isin(parse, kept)


def _bounding_box_mask(mask: np.ndarray) -> np.ndarray:
    """``HxW`` bool, True inside the bounding box of ``mask`` (all False for an empty mask)."""
    box = np.zeros_like(mask)
    x, y, width, height = cv2.boundingRect(mask.astype(np.uint8))
    box[y : y + height, x : x + width] = True
    return box


def _painted_outline(mask: np.ndarray, brush_radius: int) -> np.ndarray:
    """``mask`` as if painted with a round soft brush ``brush_radius`` pixels wide, holes filled.

    Grown by a disc of that radius, its signed distance field is blurred (sigma ``radius / 2.5``)
    and cut at zero; the result always contains ``mask``.
    """
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * brush_radius + 1, 2 * brush_radius + 1))
    grown = cv2.dilate(mask.astype(np.uint8), disc).astype(bool)
    outside = cv2.distanceTransform((~grown).astype(np.uint8), cv2.DIST_L2, 5)
    inside = cv2.distanceTransform(grown.astype(np.uint8), cv2.DIST_L2, 5)
    signed = cv2.GaussianBlur(outside - inside, (0, 0), brush_radius / 2.5, borderType=cv2.BORDER_REPLICATE)
    return _fill_holes(signed <= 0) | mask


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` with every region not connected to the top-left pixel's background set True."""
    background = (~mask).astype(np.uint8)
    cv2.floodFill(background, np.zeros((mask.shape[0] + 2, mask.shape[1] + 2), np.uint8), (0, 0), 0)
    return mask | (background == 1)


def _clip_box_to_outline(outline: np.ndarray, box: np.ndarray, max_distance: float) -> np.ndarray:
    """``box`` without its pixels that lie more than ``max_distance`` from ``outline`` (both ``HxW`` bool)."""
    beyond = box & ~outline
    if max_distance <= 0:
        return outline
    if not beyond.any():
        return box
    distance = cv2.distanceTransform((~outline).astype(np.uint8), cv2.DIST_L2, 5)
    return box & ~(beyond & (distance > max_distance))


def _dilate_rectangle(mask: np.ndarray, half_width: int, half_height: int) -> np.ndarray:
    """``mask`` grown by ``half_width`` pixels left and right and ``half_height`` up and down."""
    kernel = np.ones((2 * half_height + 1, 2 * half_width + 1), np.uint8)
    return cv2.dilate(mask.astype(np.uint8) * 255, kernel, anchor=(half_width, half_height)).astype(bool)
