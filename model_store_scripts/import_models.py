"""Import the try-on service's learned models from the Hugging Face hub into the BentoML model store.

    BENTOML_HOME=~/bentoml python model_store_scripts/import_models.py [--dry-run] [--only NAME]
        [--inpainting-repo REPO] [--inpainting-revision REV] [--no-ip-adapter]
        [--parser-repo REPO] [--parser-revision REV] [--allow-non-commercial]

Each model is downloaded at a pinned revision, loaded with its library's own ``from_pretrained``, and
saved into the store under a stable name (``tryon-inpainting``, ``tryon-clothes-parser``) with labels
(task, framework, license, ``test-model: "false"``) and metadata (source repo, requested revision, the
commit it resolved to, license). ``name:latest`` then points at the new version; older versions stay
until ``bentoml models delete``.

Defaults and their licenses (check them again before you ship; model cards change):

- ``stable-diffusion-v1-5/stable-diffusion-inpainting`` (the maintained mirror of the removed
  ``runwayml/stable-diffusion-inpainting``): CreativeML OpenRAIL-M. Commercial use and use as a service
  are allowed; you must pass the license's use restrictions on to your users and share a copy of it.
  Stored in float16, about 2.1 GB (UNet 1.7 GB, text encoder 0.25 GB, VAE 0.17 GB).
- IP-Adapter ``h94/IP-Adapter`` ``models/ip-adapter_sd15.safetensors`` (44 MB) with its ViT-H image
  encoder ``models/image_encoder`` (2.5 GB in float32, stored as downloaded): Apache-2.0.
- ``mattmdjaga/segformer_b2_clothes`` (SegFormer-B2, 18 ATR classes, 110 MB): the model card says MIT;
  it was fine-tuned on the ATR human-parsing data set, whose terms you should check for your use.

Try-on specific checkpoints (IDM-VTON, OOTDiffusion, CatVTON: CC BY-NC-SA 4.0) are non-commercial and
are refused unless ``--allow-non-commercial`` is given; their architectures also differ from the plain
inpainting pipeline this service loads.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
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

DEFAULT_INPAINTING_REPO = "stable-diffusion-v1-5/stable-diffusion-inpainting"
DEFAULT_INPAINTING_LICENSE = "creativeml-openrail-m"
DEFAULT_IP_ADAPTER_REPO = "h94/IP-Adapter"
DEFAULT_IP_ADAPTER_WEIGHT = "models/ip-adapter_sd15.safetensors"
DEFAULT_IP_ADAPTER_ENCODER = "models/image_encoder"
DEFAULT_IP_ADAPTER_LICENSE = "apache-2.0"
DEFAULT_PARSER_REPO = "mattmdjaga/segformer_b2_clothes"
DEFAULT_PARSER_LICENSE = "mit"

NON_COMMERCIAL_LICENSES = ("cc-by-nc", "non-commercial", "noncommercial", "research-only")
KNOWN_NON_COMMERCIAL_REPOS = ("yisol/idm-vton", "levihsu/ootdiffusion", "zhengchong/catvton")


@dataclass(frozen=True)
class ImportPlan:
    """What one run imports: repos, revisions, and the licenses expected for them."""

    inpainting: ModelSource | None
    ip_adapter: ModelSource | None
    ip_adapter_weight: str
    ip_adapter_encoder: str
    parser: ModelSource | None
    dtype: str

    def describe(self) -> str:
        lines = []
        if self.inpainting:
            lines.append(
                f"{INPAINTING_MODEL}: {self.inpainting.repo}@{self.inpainting.revision} "
                f"(diffusers StableDiffusionInpaintPipeline, {self.dtype}, license {self.inpainting.license})"
            )
            if self.ip_adapter:
                lines.append(
                    f"  + IP-Adapter {self.ip_adapter.repo}@{self.ip_adapter.revision}: {self.ip_adapter_weight}, "
                    f"image encoder {self.ip_adapter_encoder} (license {self.ip_adapter.license})"
                )
        if self.parser:
            lines.append(
                f"{PARSING_MODEL}: {self.parser.repo}@{self.parser.revision} "
                f"(transformers SegformerForSemanticSegmentation, license {self.parser.license})"
            )
        return "\n".join(lines)


def plan_from_args(args: argparse.Namespace) -> ImportPlan:
    """The plan for the command line, or SystemExit when it would import a non-commercial model."""
    inpainting = ip_adapter = parser = None
    if args.only in (None, INPAINTING_MODEL):
        inpainting = ModelSource(args.inpainting_repo, args.inpainting_revision, args.inpainting_license)
        if not args.no_ip_adapter:
            ip_adapter = ModelSource(args.ip_adapter_repo, args.ip_adapter_revision, DEFAULT_IP_ADAPTER_LICENSE)
    if args.only in (None, PARSING_MODEL):
        parser = ModelSource(args.parser_repo, args.parser_revision, args.parser_license)
    for source in (inpainting, ip_adapter, parser):
        if source and is_non_commercial(source) and not args.allow_non_commercial:
            raise SystemExit(
                f"{source.repo} is under a non-commercial license ({source.license}); "
                "pass --allow-non-commercial to import it anyway."
            )
    return ImportPlan(
        inpainting=inpainting,
        ip_adapter=ip_adapter,
        ip_adapter_weight=args.ip_adapter_weight,
        ip_adapter_encoder=args.ip_adapter_encoder,
        parser=parser,
        dtype=args.dtype,
    )


def is_non_commercial(source: ModelSource) -> bool:
    license_id = source.license.lower()
    return source.repo.lower() in KNOWN_NON_COMMERCIAL_REPOS or any(
        marker in license_id for marker in NON_COMMERCIAL_LICENSES
    )


def resolve(source: ModelSource) -> ModelSource:
    """``source`` with the commit its revision resolves to, and the license the hub reports (the card's
    license wins over the expected one, with a warning when they differ)."""
    from huggingface_hub import model_info

    info = model_info(source.repo, revision=source.revision)
    card_license = info.card_data.get("license") if info.card_data else None
    license_id = source.license
    if card_license and str(card_license).lower() != source.license.lower():
        print(f"warning: {source.repo} declares license {card_license!r}, expected {source.license!r}")
        license_id = str(card_license)
    return ModelSource(source.repo, source.revision, license_id, commit=info.sha, notes=source.notes)


def import_inpainting(plan: ImportPlan) -> object:
    import torch
    from diffusers import StableDiffusionInpaintPipeline
    from huggingface_hub import hf_hub_download, snapshot_download

    source = resolve(plan.inpainting)
    if is_non_commercial(source):
        print(f"warning: {source.repo} is under {source.license}, a non-commercial license")
    pipe = StableDiffusionInpaintPipeline.from_pretrained(
        source.repo,
        revision=source.commit,
        dtype=getattr(torch, plan.dtype),
        safety_checker=None,
        requires_safety_checker=False,
    )
    with tempfile.TemporaryDirectory() as scratch:
        adapter = None
        if plan.ip_adapter:
            adapter_source = resolve(plan.ip_adapter)
            weight = Path(
                hf_hub_download(
                    adapter_source.repo, plan.ip_adapter_weight, revision=adapter_source.commit, cache_dir=scratch
                )
            )
            snapshot = Path(
                snapshot_download(
                    adapter_source.repo,
                    revision=adapter_source.commit,
                    allow_patterns=[f"{plan.ip_adapter_encoder}/config.json", f"{plan.ip_adapter_encoder}/*.safetensors"],
                    cache_dir=scratch,
                )
            )
            adapter = IPAdapterFiles(
                weight_file=weight, image_encoder_dir=snapshot / plan.ip_adapter_encoder, source=adapter_source
            )
        return save_inpainting_pipeline(pipe, source=source, ip_adapter=adapter)


def import_parser(plan: ImportPlan) -> object:
    from transformers import AutoImageProcessor, SegformerForSemanticSegmentation

    source = resolve(plan.parser)
    model = SegformerForSemanticSegmentation.from_pretrained(source.repo, revision=source.commit)
    processor = AutoImageProcessor.from_pretrained(source.repo, revision=source.commit)
    return save_clothes_parser(model, processor, source=source)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="print what would be imported, download nothing")
    parser.add_argument("--only", choices=[INPAINTING_MODEL, PARSING_MODEL], help="import just this model")
    parser.add_argument("--inpainting-repo", default=DEFAULT_INPAINTING_REPO)
    parser.add_argument("--inpainting-revision", default="main", help="branch, tag or commit (pin a commit)")
    parser.add_argument("--inpainting-license", default=DEFAULT_INPAINTING_LICENSE, help="expected license id")
    parser.add_argument("--dtype", default="float16", choices=["float16", "float32"], help="stored weights")
    parser.add_argument("--no-ip-adapter", action="store_true", help="store the pipeline without an IP-Adapter")
    parser.add_argument("--ip-adapter-repo", default=DEFAULT_IP_ADAPTER_REPO)
    parser.add_argument("--ip-adapter-revision", default="main")
    parser.add_argument("--ip-adapter-weight", default=DEFAULT_IP_ADAPTER_WEIGHT, help="path in the repo")
    parser.add_argument("--ip-adapter-encoder", default=DEFAULT_IP_ADAPTER_ENCODER, help="folder in the repo")
    parser.add_argument("--parser-repo", default=DEFAULT_PARSER_REPO)
    parser.add_argument("--parser-revision", default="main")
    parser.add_argument("--parser-license", default=DEFAULT_PARSER_LICENSE, help="expected license id")
    parser.add_argument("--allow-non-commercial", action="store_true", help="import CC BY-NC and similar models")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    plan = plan_from_args(args)
    print(("would import:\n" if args.dry_run else "importing:\n") + plan.describe())
    if args.dry_run:
        return
    if plan.inpainting:
        print(f"saved {import_inpainting(plan).tag}")
    if plan.parser:
        print(f"saved {import_parser(plan).tag}")


if __name__ == "__main__":
    main()
