"""A temporary BentoML model store per test module, with the test models built once in it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def temporary_model_store(home: Path) -> Iterator[Path]:
    """Point BENTOML_HOME, and BentoML's already created model store, at ``home`` for the duration."""
    from bentoml._internal.configuration.containers import BentoMLContainer
    from bentoml._internal.models.model import ModelStore

    models = home / "models"
    models.mkdir(parents=True, exist_ok=True)
    patch = pytest.MonkeyPatch()
    patch.setenv("BENTOML_HOME", str(home))
    providers = (BentoMLContainer.bentoml_home, BentoMLContainer.model_store_dir, BentoMLContainer.model_store)
    previous = [provider.get() for provider in providers]
    for provider, value in zip(providers, (str(home), str(models), ModelStore(models))):
        provider.set(value)
    try:
        yield home
    finally:
        for provider, value in zip(providers, previous):
            provider.set(value)
        patch.undo()


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with temporary_model_store(tmp_path_factory.mktemp("bentoml")) as home:
        yield home


@pytest.fixture()
def fresh_store(tmp_path: Path) -> Iterator[Path]:
    """An empty store for one test (inside the module's)."""
    with temporary_model_store(tmp_path / "bentoml") as home:
        yield home


@pytest.fixture(scope="module")
def test_models(empty_store: Path) -> dict[str, object]:
    """The test models built by ``make_test_models`` into this module's store, by model name."""
    from model_store_scripts.make_test_models import make_test_models

    return {model.tag.name: model for model in make_test_models()}


@pytest.fixture(scope="module")
def model_env(test_models: dict[str, object]) -> Iterator[dict[str, str]]:
    """The parsing step forced to the stored model (what the runner reads at start-up)."""
    env = {"TRYON_PARSING_ENGINE": "segformer"}
    patch = pytest.MonkeyPatch()
    for key, value in env.items():
        patch.setenv(key, value)
    yield env
    patch.undo()


@pytest.fixture(autouse=True, scope="session")
def _quiet_libraries() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
