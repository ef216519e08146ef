"""Build small randomly initialised models of the real models' classes and save them to the store.

Offline: everything is built from configs (no hub). The models are saved under the same names as the
real ones (``tryon-inpainting``, ``tryon-clothes-parser``) through the same functions the import
script uses, labelled ``test-model: "true"``, so the whole loading and serving path runs on any
machine. Their pictures are noise; ``TRYON_*_ENGINE=auto`` never picks them.

    BENTOML_HOME=/tmp/store python model_store_scripts/make_test_models.py [--only NAME] [--no-ip-adapter]

``--full-size`` builds the SD-1.5 inpainting architecture instead of the tiny one (random weights, about
1.1 B parameters, saved in float16: about 2 GB), for timing on a GPU.
"""

from __future__ import annotations

import argparse
import string
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tryon.model_store import (  # noqa: E402
    INPAINTING_MODEL,
    PARSING_MODEL,
    IPAdapterFiles,
    ModelSource,
    save_clothes_parser,
    save_inpainting_pipeline,
)

TEST_SOURCE = ModelSource(
    repo="random-init (model_store_scripts/make_test_models.py)",
    revision="none",
    license="apache-2.0",
    notes="random weights built from a config; for tests and timing only",
)

# The ATR classes of mattmdjaga/segformer_b2_clothes, so the label mapping is the real one.
ATR_ID2LABEL = {
    0: "Background", 1: "Hat", 2: "Hair", 3: "Sunglasses", 4: "Upper-clothes", 5: "Skirt", 6: "Pants",
    7: "Dress", 8: "Belt", 9: "Left-shoe", 10: "Right-shoe", 11: "Face", 12: "Left-leg", 13: "Right-leg",
    14: "Left-arm", 15: "Right-arm", 16: "Bag", 17: "Scarf",
}  # fmt: skip


def tiny_tokenizer():
    """A CLIP tokenizer over letters only (no merges): every word becomes its letters."""
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        for letter in string.ascii_lowercase:
            vocab[letter + suffix] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def tiny_inpainting_pipeline():
    """A ``StableDiffusionInpaintPipeline`` of the SD-1.5 inpainting layout (9-channel UNet, 1/8 VAE) but
    a few thousand times smaller; a step at 256x192 takes tens of milliseconds on a CPU."""
    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=32,
        in_channels=9,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=16,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(16, 16, 32, 32),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=8,
        sample_size=256,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=64,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            projection_dim=32,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
    )
    return StableDiffusionInpaintPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tiny_tokenizer(),
        unet=unet,
        scheduler=_sd15_scheduler(PNDMScheduler),
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )


def full_size_inpainting_pipeline(dtype: str = "float16"):
    """The SD-1.5 inpainting architecture (UNet 860 M, VAE 84 M, CLIP ViT-L/14 text encoder 123 M) with
    random weights, from the published configs. The tokenizer is the tiny one (no vocabulary files
    here); prompts tokenise to more tokens but the text encoder's cost is the same (77 positions)."""
    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=64,
        in_channels=9,
        out_channels=4,
        layers_per_block=2,
        block_out_channels=(320, 640, 1280, 1280),
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        cross_attention_dim=768,
        attention_head_dim=8,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        layers_per_block=2,
        sample_size=512,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=49408,
            hidden_size=768,
            intermediate_size=3072,
            num_hidden_layers=12,
            num_attention_heads=12,
            max_position_embeddings=77,
            hidden_act="quick_gelu",
            projection_dim=768,
        )
    )
    pipe = StableDiffusionInpaintPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tiny_tokenizer(),
        unet=unet,
        scheduler=_sd15_scheduler(PNDMScheduler),
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )
    return pipe.to(dtype=getattr(torch, dtype))


def write_tiny_ip_adapter(pipeline, folder: Path) -> IPAdapterFiles:
    """Write an IP-Adapter (weights in the h94/IP-Adapter layout, and a tiny CLIP image encoder) that
    fits ``pipeline``'s UNet into ``folder``."""
    import torch
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(1)
    unet = pipeline.unet
    cross_dim = unet.config.cross_attention_dim
    embed_dim = 16
    encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=224,
            patch_size=32,
            projection_dim=embed_dim,
        )
    )
    encoder_dir = folder / "image_encoder"
    encoder.save_pretrained(encoder_dir)
    tensors = {
        "image_proj.proj.weight": torch.randn(4 * cross_dim, embed_dim) * 0.02,
        "image_proj.proj.bias": torch.zeros(4 * cross_dim),
        "image_proj.norm.weight": torch.ones(cross_dim),
        "image_proj.norm.bias": torch.zeros(cross_dim),
    }
    key_id = 1
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue
        hidden = _hidden_size(unet, name)
        tensors[f"ip_adapter.{key_id}.to_k_ip.weight"] = torch.randn(hidden, cross_dim) * 0.02
        tensors[f"ip_adapter.{key_id}.to_v_ip.weight"] = torch.randn(hidden, cross_dim) * 0.02
        key_id += 2
    weight_file = folder / "ip-adapter_test.safetensors"
    save_file(tensors, str(weight_file))
    return IPAdapterFiles(weight_file=weight_file, image_encoder_dir=encoder_dir, source=TEST_SOURCE)


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


def make_test_models(*, only: str | None = None, ip_adapter: bool = True, full_size: bool = False) -> list:
    """Build the test models and save them to the store (``$BENTOML_HOME``). Returns the stored models."""
    saved = []
    if only in (None, INPAINTING_MODEL):
        pipe = full_size_inpainting_pipeline() if full_size else tiny_inpainting_pipeline()
        with tempfile.TemporaryDirectory() as scratch:
            adapter = write_tiny_ip_adapter(pipe, Path(scratch)) if ip_adapter and not full_size else None
            saved.append(save_inpainting_pipeline(pipe, source=TEST_SOURCE, ip_adapter=adapter, test_model=True))
    if only in (None, PARSING_MODEL):
        model, processor = tiny_clothes_parser()
        saved.append(save_clothes_parser(model, processor, source=TEST_SOURCE, test_model=True))
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=[INPAINTING_MODEL, PARSING_MODEL], help="build just this model")
    parser.add_argument("--no-ip-adapter", action="store_true", help="store the inpainting model without one")
    parser.add_argument("--full-size", action="store_true", help="SD-1.5 sized inpainting model (fp16, ~2 GB)")
    args = parser.parse_args()
    for model in make_test_models(only=args.only, ip_adapter=not args.no_ip_adapter, full_size=args.full_size):
        print(f"saved {model.tag} (test model)")


def _sd15_scheduler(scheduler_class):
    """The scheduler configuration SD-1.5 ships with."""
    return scheduler_class(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        skip_prk_steps=True,
        set_alpha_to_one=False,
        steps_offset=1,
    )


def _segformer_processor(size: int):
    try:  # transformers 5 without torchvision: the PIL backend under its own name
        from transformers import SegformerImageProcessorPil as Processor
    except ImportError:
        from transformers import SegformerImageProcessor as Processor
    return Processor(size={"height": size, "width": size})


def _hidden_size(unet, processor_name: str) -> int:
    channels = unet.config.block_out_channels
    if processor_name.startswith("mid_block"):
        return channels[-1]
    block = int(processor_name.split(".")[1])
    return list(reversed(channels))[block] if processor_name.startswith("up_blocks") else channels[block]


if __name__ == "__main__":
    main()
