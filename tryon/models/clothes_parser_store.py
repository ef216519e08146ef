"""The SegFormer clothes parser in the model store: its name, how it is saved, imported and faked.

Stored as a transformers ``SegformerForSemanticSegmentation`` and its image processor, saved with
``save_pretrained`` at the model's root. Any engine may use it (``ClothesParser`` loads it).

Not for commercial use: ``mattmdjaga/segformer_b2_clothes`` says MIT on its card, but it is a
fine-tune of NVIDIA's SegFormer ``mit-b2`` weights, whose licence (NVIDIA Source Code License for
SegFormer) allows non-commercial research or evaluation only (section 3.3) and binds derivative works
(section 3.2). Importing it needs ``--allow-non-commercial``; nothing picks it under ``auto`` unless
``TRYON_ALLOW_NON_COMMERCIAL=true``. The random test parser carries no NVIDIA weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .store import (
    SEGFORMER_LICENSE,
    TEST_SOURCE,
    ModelSource,
    StoredModel,
    model_labels,
    resolve_source,
    save_to_store,
    source_metadata,
)

if TYPE_CHECKING:
    from argparse import Namespace

PARSING_MODEL = "tryon-clothes-parser"

# The ATR classes of mattmdjaga/segformer_b2_clothes, so the test model's label mapping is the real one.
ATR_ID2LABEL = {
    0: "Background", 1: "Hat", 2: "Hair", 3: "Sunglasses", 4: "Upper-clothes", 5: "Skirt", 6: "Pants",
    7: "Dress", 8: "Belt", 9: "Left-shoe", 10: "Right-shoe", 11: "Face", 12: "Left-leg", 13: "Right-leg",
    14: "Left-arm", 15: "Right-arm", 16: "Bag", 17: "Scarf",
}  # fmt: skip


def save_clothes_parser(
    model: Any,
    processor: Any,
    *,
    source: ModelSource,
    test_model: bool = False,
    name: str = PARSING_MODEL,
) -> Any:
    """Save a loaded transformers SegFormer parser and its image processor into the store as ``name``."""

    def write(path: Path) -> None:
        model.save_pretrained(path, safe_serialization=True)
        processor.save_pretrained(path)

    metadata = {
        "source": source_metadata(source),
        "model_class": type(model).__name__,
        "id2label": {str(k): v for k, v in model.config.id2label.items()},
    }
    labels = model_labels(task="human-parsing", framework="transformers", source=source, test_model=test_model)
    return save_to_store(name, write, labels=labels, metadata=metadata)


def tiny_clothes_parser():
    """A ``SegformerForSemanticSegmentation`` with the ATR classes, and an image processor at 128 px."""
    import torch
    from transformers import SegformerConfig, SegformerForSemanticSegmentation

    torch.manual_seed(2)
    config = SegformerConfig(
        num_channels=3,
        num_encoder_blocks=4,
        depths=[1, 1, 1, 1],
        sr_ratios=[8, 4, 2, 1],
        hidden_sizes=[8, 16, 24, 32],
        patch_sizes=[7, 3, 3, 3],
        strides=[4, 2, 2, 2],
        num_attention_heads=[1, 1, 2, 4],
        mlp_ratios=[2, 2, 2, 2],
        decoder_hidden_size=32,
        id2label=ATR_ID2LABEL,
        label2id={name: index for index, name in ATR_ID2LABEL.items()},
    )
    return SegformerForSemanticSegmentation(config).eval(), _segformer_processor(128)


def _segformer_processor(size: int):
    try:  # transformers 5 without torchvision: the PIL backend under its own name
        from transformers import SegformerImageProcessorPil as Processor
    except ImportError:
        from transformers import SegformerImageProcessor as Processor
    return Processor(size={"height": size, "width": size})


class ClothesParserModel(StoredModel):
    """The parser from the hub (a SegFormer human-parsing checkpoint with ATR / LIP class names), or
    a tiny random one with the ATR classes."""

    name = PARSING_MODEL
    summary = "transformers SegformerForSemanticSegmentation (human parsing)"
    option_prefix = "parser"
    default_source = ModelSource(
        "mattmdjaga/segformer_b2_clothes",
        "main",
        "mit",
        notes="fine-tuned from nvidia/mit-b2: NVIDIA Source Code License for SegFormer, non-commercial",
        base_license=SEGFORMER_LICENSE,
    )

    def sources(self, options: "Namespace") -> list[ModelSource]:
        (source,) = super().sources(options)
        return [ModelSource(source.repo, source.revision, source.license, notes=self.default_source.notes, base_license=SEGFORMER_LICENSE)]

    def import_model(self, options: "Namespace") -> Any:
        from transformers import AutoImageProcessor, SegformerForSemanticSegmentation

        source = resolve_source(self.sources(options)[0])
        model = SegformerForSemanticSegmentation.from_pretrained(source.repo, revision=source.commit)
        processor = AutoImageProcessor.from_pretrained(source.repo, revision=source.commit)
        return save_clothes_parser(model, processor, source=source)

    def make_test_model(self, options: "Namespace") -> Any:
        model, processor = tiny_clothes_parser()
        return save_clothes_parser(model, processor, source=TEST_SOURCE, test_model=True)


CLOTHES_PARSER = ClothesParserModel()
