"""The clothes parser through the runner class on the test model, and the label mapping."""

from __future__ import annotations

import numpy as np
import pytest

from tryon.models.clothes_parser_store import ATR_ID2LABEL
from tryon.models.clothes_parser import CanvasClothesParser, ParseLabel, label_for, label_lookup


@pytest.fixture(scope="module")
def runner(model_env: dict[str, str]):
    from tryon.engines.classical.runners import ParsingRunner

    return ParsingRunner()


def test_parse_batch_returns_a_label_map_per_canvas(runner) -> None:
    canvases = np.random.default_rng(0).integers(0, 256, (3, 128, 128, 3), dtype=np.uint8)
    labels = runner.parse(canvases)
    assert labels.shape == (3, 128, 128) and labels.dtype == np.uint8
    assert set(np.unique(labels)) <= {int(label) for label in ParseLabel}


def test_a_photo_is_parsed_at_its_own_size(runner) -> None:
    photo = np.random.default_rng(1).integers(0, 256, (300, 180, 3), dtype=np.uint8)
    labels = CanvasClothesParser(runner.parse).parse(photo)
    assert labels.shape == (300, 180) and labels.dtype == np.uint8


def test_atr_classes_map_onto_the_documented_labels() -> None:
    table = label_lookup(ATR_ID2LABEL)
    by_name = {name: ParseLabel(table[index]) for index, name in ATR_ID2LABEL.items()}
    assert by_name["Background"] is ParseLabel.BACKGROUND
    assert by_name["Upper-clothes"] is ParseLabel.UPPER_CLOTHES
    assert by_name["Pants"] is by_name["Skirt"] is ParseLabel.LOWER_CLOTHES
    assert by_name["Dress"] is ParseLabel.ONE_PIECE
    assert by_name["Left-arm"] is by_name["Right-arm"] is ParseLabel.ARMS
    assert by_name["Face"] is by_name["Sunglasses"] is ParseLabel.FACE
    assert by_name["Hair"] is ParseLabel.HAIR
    assert by_name["Left-leg"] is ParseLabel.LEGS
    assert by_name["Hat"] is by_name["Left-shoe"] is by_name["Bag"] is ParseLabel.OTHER


def test_lip_style_names_map_too() -> None:
    assert label_for("Coat") is ParseLabel.UPPER_CLOTHES
    assert label_for("Jumpsuits") is ParseLabel.ONE_PIECE
    assert label_for("Glove") is ParseLabel.HANDS
    assert label_for("left_hand") is ParseLabel.HANDS
    assert label_for("Socks") is ParseLabel.OTHER
