"""The pipeline's hook for the learned human parser: what it does with the parser's labels.

The labels are made up here (the real ones are tested in tests/models and, served, in tests/e2e):
what is tested is what the pipeline does with them.
"""

from __future__ import annotations

import numpy as np

from tryon.engines.classical.pipeline.clothing import ClothingZones
from tryon.engines.classical.pipeline.inpainting import BodyZones
from tryon.engines.classical.pipeline.parsed_zones import garment_mask, refine_zones
from tryon.engines.classical.pipeline.types import Category, ParseLabel


def empty_zones(shape: tuple[int, int]) -> tuple[BodyZones, ClothingZones]:
    nothing = np.zeros(shape, bool)
    return BodyZones(nothing, nothing, nothing, nothing), ClothingZones(nothing, nothing)


def test_parser_labels_protect_face_hair_hands_and_mark_the_old_clothes() -> None:
    labels = np.full((4, 6), ParseLabel.BACKGROUND, np.uint8)
    labels[0, :3] = ParseLabel.HAIR
    labels[1, :3] = ParseLabel.FACE
    labels[2, :] = ParseLabel.UPPER_CLOTHES
    labels[3, :2] = ParseLabel.HANDS
    labels[3, 2:4] = ParseLabel.ARMS
    labels[3, 4:] = ParseLabel.LOWER_CLOTHES
    silhouette = np.ones((4, 6), bool)
    silhouette[2, 5] = False  # a clothes label outside the person is the parser's mistake

    zones, clothing = refine_zones(*empty_zones((4, 6)), labels, Category.UPPER_BODY, silhouette)

    assert zones.protected[0, :3].all() and zones.protected[1, :3].all() and zones.protected[3, :2].all()
    assert zones.skin[3, :4].all() and not zones.skin[2].any()
    assert clothing.replace[2, :5].all() and not clothing.replace[2, 5]
    assert not clothing.replace[3].any()  # trousers stay under a new top; hands and arms are skin
    _, for_trousers = refine_zones(*empty_zones((4, 6)), labels, Category.LOWER_BODY, silhouette)
    assert for_trousers.replace[3, 4:].all() and not for_trousers.replace[2].any()


def test_garment_mask_needs_enough_clothes() -> None:
    labels = np.zeros((100, 100), np.uint8)
    labels[:2, :10] = ParseLabel.UPPER_CLOTHES
    assert garment_mask(labels) is None
    labels[20:80, 20:80] = ParseLabel.ONE_PIECE
    mask = garment_mask(labels)
    assert mask is not None and mask[50, 50] and not mask[90, 90]
