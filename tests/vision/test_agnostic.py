import numpy as np
import pytest

from tryon.vision.agnostic import (
    FashnLabel,
    GarmentCategory,
    agnostic_mask,
    clothing_agnostic_image,
    fashn_labels_from_parse,
    garment_labels,
    masked_garment_image,
)
from tryon.models.clothes_parser import ParseLabel

from ..fashn_vton.golden_images import AGNOSTIC, assert_png_matches, read_json, read_png

CASES = read_json(AGNOSTIC / "cases.json")


def test_label_ids_are_the_reference_ones():
    assert {label.name.lower(): int(label) for label in FashnLabel} == CASES["labels_to_ids"]
    for category, case in CASES["categories"].items():
        assert sorted(label.name.lower() for label in garment_labels(category)) == sorted(case["labels"])


@pytest.mark.parametrize("category", list(GarmentCategory), ids=[c.value for c in GarmentCategory])
def test_golden_agnostic_and_garment_images(category):
    person, parse = read_png(AGNOSTIC / "person.png"), read_png(AGNOSTIC / "seg.png")

    agnostic = clothing_agnostic_image(person, parse, category)
    garment = masked_garment_image(person, parse, category.value)

    assert_png_matches(agnostic, read_png(AGNOSTIC / f"agnostic_{category.value}.png"))
    assert_png_matches(garment, read_png(AGNOSTIC / f"garment_{category.value}.png"))
    assert np.array_equal(person, read_png(AGNOSTIC / "person.png"))  # inputs are not written to


def test_agnostic_mask_keeps_identity_and_covers_the_worn_garment():
    parse = read_png(AGNOSTIC / "seg.png")
    tops = agnostic_mask(parse, GarmentCategory.TOPS)
    bottoms = agnostic_mask(parse, GarmentCategory.BOTTOMS)

    assert tops[parse == FashnLabel.TOP].all() and bottoms[parse == FashnLabel.PANTS].all()
    assert tops[parse == FashnLabel.PANTS].mean() < 0.05  # only the grown rim crosses the waist
    assert bottoms[parse == FashnLabel.TOP].mean() < 0.1
    face = parse == FashnLabel.FACE
    assert not tops[face].any() and not bottoms[face].any()


def test_service_parse_labels_mask_like_fashn_labels():
    """A ParseLabel map of the golden person, converted, gives the same masks as the FASHN map."""
    fashn = read_png(AGNOSTIC / "seg.png")
    ours_of_fashn = {
        FashnLabel.BACKGROUND: ParseLabel.BACKGROUND, FashnLabel.FACE: ParseLabel.FACE,
        FashnLabel.HAIR: ParseLabel.HAIR, FashnLabel.TOP: ParseLabel.UPPER_CLOTHES,
        FashnLabel.PANTS: ParseLabel.LOWER_CLOTHES, FashnLabel.ARMS: ParseLabel.ARMS,
        FashnLabel.HANDS: ParseLabel.HANDS, FashnLabel.LEGS: ParseLabel.LEGS, FashnLabel.FEET: ParseLabel.OTHER,
    }  # fmt: skip
    assert set(np.unique(fashn)) == set(ours_of_fashn)
    ours = np.zeros_like(fashn)
    for theirs, label in ours_of_fashn.items():
        ours[fashn == theirs] = label

    converted = fashn_labels_from_parse(ours)

    assert converted.dtype == np.uint8 and converted.shape == fashn.shape
    for category in GarmentCategory:
        # Feet become an accessory: kept always, as feet are whenever a mask could reach them.
        assert np.array_equal(agnostic_mask(converted, category), agnostic_mask(fashn, category)), category


def test_every_service_label_has_a_fashn_label():
    table = fashn_labels_from_parse(np.array([list(ParseLabel)], np.uint8))[0]
    assert table.tolist() == [
        FashnLabel.BACKGROUND, FashnLabel.TOP, FashnLabel.PANTS, FashnLabel.DRESS, FashnLabel.ARMS,
        FashnLabel.HANDS, FashnLabel.FACE, FashnLabel.HAIR, FashnLabel.LEGS, FashnLabel.TORSO, FashnLabel.BAG,
    ]  # fmt: skip


def test_unknown_category_is_refused():
    with pytest.raises(ValueError, match="upper_body"):
        masked_garment_image(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8), "upper_body")
