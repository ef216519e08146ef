"""Import the try-on engines' models from the Hugging Face hub into the BentoML model store.

    BENTOML_HOME=~/bentoml python model_store_scripts/import_models.py [NAME ...] [--dry-run]
        [--allow-non-commercial] [each model's options: see --help]

A model can also come from a local folder instead of the hub where its recipe offers it
(``import_models.py fashn-vton --from DIR``: DIR holds ``model.safetensors`` and optionally
``dwpose/*.onnx``). A checkpoint that is not the published model is refused, naming its tensors.

NAME is a model (``tryon-clothes-parser``) or an engine (``classical``: all its models) from
``tryon/engines/registry.py``; without one, every registered engine's models. Each model is downloaded
at a pinned revision, loaded with its library's own ``from_pretrained``, and saved into the store under
its stable name with labels (task, framework, license, ``test-model: "false"``) and metadata (source
repo, requested revision, the commit it resolved to, license). ``name:latest`` then points at the new
version; older versions stay until ``bentoml models delete``. Each model's module names its default
source and licence.

Try-on specific checkpoints (IDM-VTON, OOTDiffusion, CatVTON: CC BY-NC-SA 4.0), SegFormer weights and
their fine-tunes (the clothes parser: NVIDIA Source Code License for SegFormer) and any source whose
licence or base weights' licence is non-commercial are refused unless ``--allow-non-commercial`` is
given; without NAMEs they are skipped (with a line saying so) and the rest is imported.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model_store_scripts import models_named  # noqa: E402
from tryon.engines.registry import stored_models  # noqa: E402
from tryon.models.store import is_non_commercial  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME", help="models or engines (default: all)")
    parser.add_argument("--dry-run", action="store_true", help="print what would be imported, download nothing")
    parser.add_argument("--allow-non-commercial", action="store_true", help="import CC BY-NC and similar models")
    for model in stored_models():
        model.add_import_options(parser)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    models, lines = [], []
    for model in models_named(args.names):
        refused = [source for source in model.sources(args) if is_non_commercial(source)]
        if refused and not args.allow_non_commercial:
            licence = " / ".join(part for part in (refused[0].license, refused[0].base_license) if part)
            message = (
                f"{refused[0].repo} is not for commercial use (licence: {licence}); "
                "pass --allow-non-commercial to import it anyway."
            )
            if args.names:
                raise SystemExit(message)
            print(f"skipped {model.name}: {message}")
            continue
        models.append(model)
        for source in model.sources(args):
            lines.append(f"{model.name}: {source.repo}@{source.revision} ({model.summary}, license {source.license})")
    print(("would import:\n" if args.dry_run else "importing:\n") + "\n".join(lines))
    if args.dry_run:
        return
    for model in models:
        try:
            stored = model.import_model(args)
        except (ValueError, FileNotFoundError) as error:  # a refused checkpoint, a missing file
            raise SystemExit(f"{model.name}: not imported: {error}") from None
        print(f"saved {stored.tag}")


if __name__ == "__main__":
    main()
