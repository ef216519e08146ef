"""What a learned human parser adds to the geometric zones: exact face, hair, hands, skin and clothes.

The classical zones (``inpainting.body_zones``, ``clothing.clothing_zones``) are guesses from the pose
and colour models; a parser's labels (``ParseLabel`` maps, ``HxW`` uint8) say per pixel what is there.
Both steps here are pure functions over arrays.
"""

from __future__ import annotations

import numpy as np

from .clothing import ClothingZones
from .inpainting import BodyZones
from .types import Category, Mask, ParseLabel

# The clothes a new garment of each category replaces.
REPLACED_CLOTHES: dict[Category, tuple[ParseLabel, ...]] = {
    Category.UPPER_BODY: (ParseLabel.UPPER_CLOTHES, ParseLabel.ONE_PIECE),
    Category.LOWER_BODY: (ParseLabel.LOWER_CLOTHES, ParseLabel.ONE_PIECE),
    Category.DRESSES: (ParseLabel.UPPER_CLOTHES, ParseLabel.LOWER_CLOTHES, ParseLabel.ONE_PIECE),
}
GARMENT_LABELS = (ParseLabel.UPPER_CLOTHES, ParseLabel.LOWER_CLOTHES, ParseLabel.ONE_PIECE)
SKIN_LABELS = (ParseLabel.ARMS, ParseLabel.HANDS, ParseLabel.FACE, ParseLabel.LEGS, ParseLabel.NECK)


def labelled(labels: np.ndarray, wanted: tuple[ParseLabel, ...]) -> Mask:
    """``HxW`` bool, True where ``labels`` is one of ``wanted``."""
    return np.isin(labels, np.array(wanted, np.uint8))


def refine_zones(
    zones: BodyZones, clothing: ClothingZones, labels: np.ndarray, category: Category, person_mask: Mask
) -> tuple[BodyZones, ClothingZones]:
    """The zones with the parser's word added for a garment of ``category`` (not ``AUTO``).

    Face, hair and hands the parser sees are protected; skin it sees is skin (never repainted); the
    clothes the new garment replaces, inside the person's silhouette ``person_mask``, join the old
    garment's zone, which keeps out of both.
    """
    protected = zones.protected | labelled(labels, (ParseLabel.FACE, ParseLabel.HAIR, ParseLabel.HANDS))
    skin = zones.skin | labelled(labels, SKIN_LABELS)
    old_clothes = labelled(labels, REPLACED_CLOTHES[category]) & person_mask
    replace = (clothing.replace | old_clothes) & ~protected & ~skin
    return (
        BodyZones(
            protected=protected,
            skin=skin,
            bare_skin=zones.bare_skin & ~protected,
            front_limbs=zones.front_limbs,
            hands=zones.hands,
        ),
        ClothingZones(replace=replace, front=clothing.front & ~replace & ~protected),
    )


def garment_mask(labels: np.ndarray, *, min_share: float = 0.03) -> Mask | None:
    """The clothes in a garment's product photo as the parser sees them, or None when they cover less
    than ``min_share`` of the photo (a parser trained on people may not recognise a garment laid flat;
    the classical cut-out then decides)."""
    clothes = labelled(labels, GARMENT_LABELS)
    return clothes if clothes.mean() >= min_share else None
