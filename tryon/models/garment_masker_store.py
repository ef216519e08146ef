"""The worn-garment masker in the model store: Segment Anything (``facebook/sam-vit-base``, Apache-2.0).

Stored as a transformers ``SamModel`` and its ``SamProcessor``, saved with ``save_pretrained`` at the
model's root; ``GarmentMasker`` loads it. Imported from the hub at a pinned revision
(``--masker-revision COMMIT``) or from a local folder holding such a save (``--masker-from DIR``);
``make_test_models.py tryon-garment-masker`` saves a tiny random one of the same format.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .store import TEST_SOURCE, ModelSource, StoredModel, model_labels, resolve_source, save_to_store, source_metadata

if TYPE_CHECKING:
    from argparse import ArgumentParser, Namespace

GARMENT_MASKER_MODEL = "tryon-garment-masker"
LICENSE = "apache-2.0"
# facebook/sam-vit-base's hub commit the import defaults to (its main branch since 2023).
SAM_VIT_BASE_COMMIT = "70c1a07f894ebb5b307fd9eaaee97b9dfc16068f"


def save_garment_masker(model: Any, processor: Any, *, source: ModelSource, test_model: bool = False) -> Any:
    """Save a loaded transformers ``SamModel`` and its processor into the store."""

    def write(path: Path) -> None:
        model.save_pretrained(path, safe_serialization=True)
        processor.save_pretrained(path)

    metadata = {"source": source_metadata(source), "model_class": type(model).__name__}
    labels = model_labels(task="promptable-segmentation", framework="transformers", source=source, test_model=test_model)
    return save_to_store(GARMENT_MASKER_MODEL, write, labels=labels, metadata=metadata)


def tiny_garment_masker() -> tuple[Any, Any]:
    """A random ``SamModel`` (vision hidden 32, 2 layers; prompt and mask decoder hidden 32) and a
    ``SamProcessor`` at SAM's 1024 px input."""
    import torch
    from transformers import (
        SamConfig,
        SamImageProcessorPil,
        SamMaskDecoderConfig,
        SamModel,
        SamProcessor,
        SamPromptEncoderConfig,
        SamVisionConfig,
    )

    torch.manual_seed(3)
    config = SamConfig(
        # num_pos_feats must be half the prompt encoder's hidden size, or the point embedding fails.
        vision_config=SamVisionConfig(
            hidden_size=32, num_hidden_layers=2, num_attention_heads=2, mlp_dim=64, output_channels=32,
            num_pos_feats=16, global_attn_indexes=[1], window_size=4,
        ),
        prompt_encoder_config=SamPromptEncoderConfig(hidden_size=32),
        mask_decoder_config=SamMaskDecoderConfig(
            hidden_size=32, num_hidden_layers=2, num_attention_heads=2, mlp_dim=64, iou_head_hidden_dim=32
        ),
    )  # fmt: skip
    return SamModel(config).eval(), SamProcessor(image_processor=SamImageProcessorPil())


class GarmentMaskerModel(StoredModel):
    """Segment Anything from the hub at a pinned revision, or a local folder; or a tiny random one."""

    name = GARMENT_MASKER_MODEL
    summary = "transformers SamModel (Segment Anything ViT-B), prompted with the wearer's keypoints"
    option_prefix = "masker"
    default_source = ModelSource("facebook/sam-vit-base", SAM_VIT_BASE_COMMIT, LICENSE)

    def add_import_options(self, parser: "ArgumentParser") -> Any:
        group = super().add_import_options(parser)
        group.add_argument(
            "--masker-from",
            type=Path,
            metavar="DIR",
            help="import from a local folder holding a transformers SamModel save (config.json, "
            "model.safetensors, the processor's files), not the hub",
        )
        return group

    def sources(self, options: "Namespace") -> list[ModelSource]:
        if options.masker_from is not None:
            return [ModelSource(f"local folder {options.masker_from.resolve()}", "local", options.masker_license)]
        return super().sources(options)

    def import_model(self, options: "Namespace") -> Any:
        from transformers import SamModel, SamProcessor

        if options.masker_from is not None:
            folder = options.masker_from
            if not (folder / "config.json").is_file():
                raise FileNotFoundError(f"{folder / 'config.json'} not found: --masker-from needs a SamModel save")
            model = SamModel.from_pretrained(folder, local_files_only=True)
            processor = SamProcessor.from_pretrained(folder, local_files_only=True)
            return save_garment_masker(model, processor, source=self.sources(options)[0])
        source = resolve_source(self.sources(options)[0])
        model = SamModel.from_pretrained(source.repo, revision=source.commit or source.revision)
        processor = SamProcessor.from_pretrained(source.repo, revision=source.commit or source.revision)
        return save_garment_masker(model, processor, source=source)

    def make_test_model(self, options: "Namespace") -> Any:
        model, processor = tiny_garment_masker()
        return save_garment_masker(model, processor, source=TEST_SOURCE, test_model=True)


GARMENT_MASKER = GarmentMaskerModel()
