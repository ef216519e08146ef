"""The classical engine's diffusion inpainting model in the store: its layout, saving, import and test model.

A diffusers ``StableDiffusionInpaintPipeline`` saved with ``save_pretrained`` at the model's root, plus,
optionally, an IP-Adapter under ``ip_adapter/`` (its weight file and its CLIP image encoder in
``ip_adapter/image_encoder``), so the garment photo conditions the generation.

Default source and licences (check them again before you ship; model cards change):
``stable-diffusion-v1-5/stable-diffusion-inpainting`` (the maintained mirror of the removed
``runwayml/stable-diffusion-inpainting``): CreativeML OpenRAIL-M, stored in float16, about 2.1 GB;
IP-Adapter ``h94/IP-Adapter`` ``models/ip-adapter_sd15.safetensors`` with its ViT-H image encoder:
Apache-2.0.
"""

from __future__ import annotations

import shutil
import string
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...models.store import (
    TEST_SOURCE,
    ModelSource,
    StoredModel,
    model_labels,
    resolve_source,
    save_to_store,
    source_metadata,
)

if TYPE_CHECKING:
    from argparse import ArgumentParser, Namespace

INPAINTING_MODEL = "tryon-inpainting"
IP_ADAPTER_DIR = "ip_adapter"
IP_ADAPTER_ENCODER_DIR = "image_encoder"

DEFAULT_IP_ADAPTER_REPO = "h94/IP-Adapter"
DEFAULT_IP_ADAPTER_WEIGHT = "models/ip-adapter_sd15.safetensors"
DEFAULT_IP_ADAPTER_ENCODER = "models/image_encoder"
DEFAULT_IP_ADAPTER_LICENSE = "apache-2.0"


@dataclass(frozen=True)
class IPAdapterFiles:
    """An IP-Adapter to store beside the pipeline: a weight file and a CLIP image encoder folder."""

    weight_file: Path
    image_encoder_dir: Path
    source: ModelSource


def save_inpainting_pipeline(
    pipeline: Any,
    *,
    source: ModelSource,
    ip_adapter: IPAdapterFiles | None = None,
    test_model: bool = False,
    name: str = INPAINTING_MODEL,
) -> Any:
    """Save a loaded diffusers inpainting pipeline (and an IP-Adapter) into the store as ``name``.

    Returns the new ``bentoml.Model``; its tag is ``name:<new version>`` and ``name:latest`` now
    resolves to it.
    """

    def write(path: Path) -> None:
        pipeline.save_pretrained(path, safe_serialization=True)
        if ip_adapter is not None:
            target = path / IP_ADAPTER_DIR
            target.mkdir()
            shutil.copy2(ip_adapter.weight_file, target / ip_adapter.weight_file.name)
            shutil.copytree(ip_adapter.image_encoder_dir, target / IP_ADAPTER_ENCODER_DIR)

    metadata: dict[str, Any] = {
        "source": source_metadata(source),
        "pipeline_class": type(pipeline).__name__,
        "dtype": str(getattr(pipeline, "dtype", "")).replace("torch.", ""),
    }
    if ip_adapter is not None:
        metadata["ip_adapter"] = {
            **source_metadata(ip_adapter.source),
            "weight_name": ip_adapter.weight_file.name,
        }
    labels = model_labels(task="inpainting", framework="diffusers", source=source, test_model=test_model)
    labels["ip-adapter"] = "true" if ip_adapter is not None else "false"
    return save_to_store(name, write, labels=labels, metadata=metadata)


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
    return _random_inpainting_pipeline(
        unet=dict(
            sample_size=32,
            layers_per_block=1,
            block_out_channels=(32, 64),
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=32,
            norm_num_groups=16,
        ),
        vae=dict(block_out_channels=(16, 16, 32, 32), layers_per_block=1, norm_num_groups=8, sample_size=256),
        text=dict(
            vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            projection_dim=32, bos_token_id=0, eos_token_id=1, pad_token_id=1,
        ),  # fmt: skip
    )


def full_size_inpainting_pipeline(dtype: str = "float16"):
    """The SD-1.5 inpainting architecture (UNet 860 M, VAE 84 M, CLIP ViT-L/14 text encoder 123 M) with
    random weights, from the published configs. The tokenizer is the tiny one (no vocabulary files
    here); prompts tokenise to more tokens but the text encoder's cost is the same (77 positions)."""
    import torch

    pipe = _random_inpainting_pipeline(
        unet=dict(
            sample_size=64,
            layers_per_block=2,
            block_out_channels=(320, 640, 1280, 1280),
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
            cross_attention_dim=768,
        ),
        vae=dict(block_out_channels=(128, 256, 512, 512), layers_per_block=2, sample_size=512),
        text=dict(
            vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
            hidden_act="quick_gelu", projection_dim=768,
        ),  # fmt: skip
    )
    return pipe.to(dtype=getattr(torch, dtype))


def _random_inpainting_pipeline(*, unet: dict, vae: dict, text: dict):
    """An SD-1.5-layout inpainting pipeline with random weights: ``unet``, ``vae`` and ``text`` are the
    sizes of its UNet, VAE (4 blocks: 1/8 latents) and CLIP text encoder (77 positions)."""
    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    unet_model = UNet2DConditionModel(in_channels=9, out_channels=4, attention_head_dim=8, **unet)
    vae_model = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        **vae,
    )
    return StableDiffusionInpaintPipeline(
        vae=vae_model,
        text_encoder=CLIPTextModel(CLIPTextConfig(max_position_embeddings=77, **text)),
        tokenizer=tiny_tokenizer(),
        unet=unet_model,
        scheduler=_sd15_scheduler(PNDMScheduler),
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )


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


class InpaintingModel(StoredModel):
    """The pipeline (and an IP-Adapter) from the hub, or a tiny (or full-size) random one."""

    name = INPAINTING_MODEL
    summary = "diffusers StableDiffusionInpaintPipeline (+ IP-Adapter)"
    option_prefix = "inpainting"
    default_source = ModelSource("stable-diffusion-v1-5/stable-diffusion-inpainting", "main", "creativeml-openrail-m")

    def add_import_options(self, parser: "ArgumentParser") -> None:
        group = super().add_import_options(parser)
        group.add_argument("--dtype", default="float16", choices=["float16", "float32"], help="stored weights")
        group.add_argument("--no-ip-adapter", action="store_true", help="store the pipeline without an IP-Adapter")
        group.add_argument("--ip-adapter-repo", default=DEFAULT_IP_ADAPTER_REPO)
        group.add_argument("--ip-adapter-revision", default="main")
        group.add_argument("--ip-adapter-weight", default=DEFAULT_IP_ADAPTER_WEIGHT, help="path in the repo")
        group.add_argument("--ip-adapter-encoder", default=DEFAULT_IP_ADAPTER_ENCODER, help="folder in the repo")

    def add_test_options(self, parser: "ArgumentParser") -> None:
        group = parser.add_argument_group(INPAINTING_MODEL)
        group.add_argument("--no-ip-adapter", action="store_true", help="store the model without an IP-Adapter")
        group.add_argument("--full-size", action="store_true", help="SD-1.5 sized model (random, fp16, ~2 GB)")

    def sources(self, options: "Namespace") -> list[ModelSource]:
        """The pipeline's source, then the IP-Adapter's (unless ``--no-ip-adapter``)."""
        pipeline = super().sources(options)
        if options.no_ip_adapter:
            return pipeline
        return [*pipeline, ModelSource(options.ip_adapter_repo, options.ip_adapter_revision, DEFAULT_IP_ADAPTER_LICENSE)]

    def import_model(self, options: "Namespace") -> Any:
        import torch
        from diffusers import StableDiffusionInpaintPipeline
        from huggingface_hub import hf_hub_download, snapshot_download

        sources = [resolve_source(source) for source in self.sources(options)]
        pipe = StableDiffusionInpaintPipeline.from_pretrained(
            sources[0].repo,
            revision=sources[0].commit,
            dtype=getattr(torch, options.dtype),
            safety_checker=None,
            requires_safety_checker=False,
        )
        with tempfile.TemporaryDirectory() as scratch:
            adapter = None
            if len(sources) > 1:
                adapter_source, encoder = sources[1], options.ip_adapter_encoder
                weight = hf_hub_download(
                    adapter_source.repo, options.ip_adapter_weight, revision=adapter_source.commit, cache_dir=scratch
                )
                snapshot = snapshot_download(
                    adapter_source.repo,
                    revision=adapter_source.commit,
                    allow_patterns=[f"{encoder}/config.json", f"{encoder}/*.safetensors"],
                    cache_dir=scratch,
                )
                adapter = IPAdapterFiles(
                    weight_file=Path(weight), image_encoder_dir=Path(snapshot) / encoder, source=adapter_source
                )
            return save_inpainting_pipeline(pipe, source=sources[0], ip_adapter=adapter)

    def make_test_model(self, options: "Namespace") -> Any:
        pipe = full_size_inpainting_pipeline() if options.full_size else tiny_inpainting_pipeline()
        with tempfile.TemporaryDirectory() as scratch:
            with_adapter = not options.no_ip_adapter and not options.full_size
            adapter = write_tiny_ip_adapter(pipe, Path(scratch)) if with_adapter else None
            return save_inpainting_pipeline(pipe, source=TEST_SOURCE, ip_adapter=adapter, test_model=True)


INPAINTING = InpaintingModel()


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


def _hidden_size(unet, processor_name: str) -> int:
    channels = unet.config.block_out_channels
    if processor_name.startswith("mid_block"):
        return channels[-1]
    block = int(processor_name.split(".")[1])
    return list(reversed(channels))[block] if processor_name.startswith("up_blocks") else channels[block]
