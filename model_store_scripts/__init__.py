"""Scripts that fill the BentoML model store: real models (``import_models``) and test models."""

from __future__ import annotations


def models_named(names: list[str]) -> tuple:
    """The registry's ``StoredModel`` recipes for ``names`` (all when empty); an unknown name exits."""
    from tryon.engines.registry import stored_models

    try:
        return stored_models(names)
    except ValueError as error:
        raise SystemExit(str(error)) from None
