"""Build small randomly initialised models of the engines' real models and save them to the store.

Offline: everything is built from configs (no hub). The models are saved under the same names as the
real ones through the same functions the import script uses, labelled ``test-model: "true"``, so the
whole loading and serving path runs on any machine. Their pictures are noise; ``auto`` never picks them.

    BENTOML_HOME=/tmp/store python model_store_scripts/make_test_models.py [NAME ...] [each model's options]

NAME is a model or an engine from ``tryon/engines/registry.py`` (default: all).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model_store_scripts import models_named  # noqa: E402
from tryon.engines.registry import stored_models  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME", help="models or engines (default: all)")
    for model in stored_models():
        model.add_test_options(parser)
    return parser


def make_test_models(argv: list[str] | None = None) -> list:
    """Build the named test models (all by default) into the store (``$BENTOML_HOME``); returns them."""
    args = build_parser().parse_args(argv or [])
    return [model.make_test_model(args) for model in models_named(args.names)]


def main() -> None:
    for model in make_test_models(sys.argv[1:]):
        print(f"saved {model.tag} (test model)")


if __name__ == "__main__":
    main()
