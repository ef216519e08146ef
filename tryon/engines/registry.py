"""The one list of try-on engines: what the service, /health, the model-store scripts, the benchmarks
and the deploy manifests read.

Rows are in priority order: ``TRYON_ENGINE=auto`` picks the first engine whose runners say it is
available and that serves no test model; ``classical`` (CPU, no model required) comes last, so
``auto`` always finds one. A new engine is a folder under ``tryon/engines/`` and one row here (or a
``register`` call, as the tests' engine does).
"""

from __future__ import annotations

import logging
from typing import Sequence

from ..models.store import StoredModel
from .base import EngineDescription, EngineSpec, TryOnEngine
from .classical import CLASSICAL
from .fashn_vton import FASHN_VTON

log = logging.getLogger(__name__)

AUTO = "auto"


class EngineUnavailable(RuntimeError):
    """The configured engine cannot serve (its runner says why)."""


_engines: list[EngineSpec] = [FASHN_VTON, CLASSICAL]


def engines() -> tuple[EngineSpec, ...]:
    """Every registered engine, in priority order (``classical`` last)."""
    return tuple(_engines)


def register(spec: EngineSpec) -> None:
    """Add an engine before ``classical`` (tests register theirs before importing the service)."""
    current = engines()
    if any(each.name == spec.name for each in current):
        raise ValueError(f"an engine named {spec.name!r} is already registered")
    _engines.insert(len(current) - 1, spec)


def engine_names() -> tuple[str, ...]:
    return tuple(spec.name for spec in engines())


def engine_spec(name: str) -> EngineSpec:
    for spec in engines():
        if spec.name == name:
            return spec
    raise ValueError(f"TRYON_ENGINE must be 'auto' or one of {', '.join(engine_names())}; got {name!r}")


def stored_models(names: Sequence[str] = ()) -> tuple[StoredModel, ...]:
    """The models ``names`` pick (model names, or engine names for all of an engine's models), each
    once; every engine's models when ``names`` is empty. An unknown name is a ``ValueError``."""
    every: dict[str, StoredModel] = {}
    for spec in engines():
        for model in spec.models:
            every.setdefault(model.name, model)
    if not names:
        return tuple(every.values())
    picked: dict[str, StoredModel] = {}
    for name in names:
        if name in every:
            picked[name] = every[name]
        elif name in engine_names():
            picked.update((model.name, model) for model in engine_spec(name).models)
        else:
            raise ValueError(f"no model or engine named {name!r}; models: {', '.join(every)}; engines: {', '.join(engine_names())}")
    return tuple(picked.values())


def choose_engine(
    setting: str, built: dict[str, TryOnEngine]
) -> tuple[TryOnEngine, EngineDescription]:
    """The engine ``TRYON_ENGINE`` (``setting``) selects among ``built`` (name -> adapter, in
    registry order), and its description.

    The runners decide what they can do; this only reads their answers. An engine named explicitly
    must be available (else ``EngineUnavailable`` with its runners' reason); ``auto`` takes the first
    available engine that serves no test model, and says in its description's ``passed_over`` why
    each engine before it was not chosen. Raises while a runner is not answering yet.
    """
    if setting != AUTO:
        engine_spec(setting)
        description = built[setting].describe()
        if not description.available:
            raise EngineUnavailable(f"TRYON_ENGINE={setting}, but that engine is unavailable: {description.reason}")
        return built[setting], description
    passed_over: dict[str, str] = {}
    for name, engine in built.items():
        description = engine.describe()
        if description.available and not description.test_model:
            return engine, description.model_copy(update={"passed_over": passed_over})
        passed_over[name] = description.reason if not description.available else f"test model ({description.reason})"
        log.info("engine %s not chosen by auto: %s", name, description.reason)
    raise EngineUnavailable("no engine is available (the classical engine's runners should always be)")
