"""The BentoML model store: stored models' names, labels, sources, and what to do when one is missing.

Each model an engine keeps in the store has a stable name, so its runner can declare
``BentoModel("<name>:latest")``, and a ``StoredModel`` recipe in its engine's registry row (or in
``tryon.models`` when several engines share it): ``model_store_scripts/import_models.py NAME`` runs its
import (from the Hugging Face hub), ``model_store_scripts/make_test_models.py NAME`` saves a small
random one under the same name, labelled ``test-model: "true"``. Both save through ``save_to_store``,
so everything after the download is the code the tests run.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from argparse import ArgumentParser, Namespace


log = logging.getLogger("tryon.models")

TEST_MODEL_LABEL = "test-model"
FILES_SHA256 = "files_sha256"  # metadata key: each stored file's sha256, recorded by save_to_store

IMPORT_SCRIPT = "model_store_scripts/import_models.py"
TEST_MODELS_SCRIPT = "model_store_scripts/make_test_models.py"

class MissingModelError(RuntimeError):
    """A model the configuration needs is not in the BentoML model store."""


@dataclass(frozen=True)
class ModelSource:
    """Where a stored model came from, recorded as the model's metadata.

    ``revision`` is what was asked for (a branch, tag or commit); ``commit`` is the commit it resolved
    to, when known; ``license`` is the license identifier the source declares; ``base_license`` the
    licence of the weights it was fine-tuned from, when that differs (it binds the fine-tune too).
    """

    repo: str
    revision: str
    license: str
    commit: str | None = None
    notes: str = ""
    base_license: str = ""


def save_to_store(
    name: str, write: Callable[[Path], None], *, labels: dict[str, str], metadata: dict[str, Any]
) -> Any:
    """Create model ``name`` in the store, let ``write`` fill its folder, and return the model.

    If ``write`` raises, the half-written model is discarded by BentoML and the error propagates.
    """
    import bentoml

    with bentoml.models.create(name, labels=labels, metadata=metadata) as model:
        write(Path(model.path))
        model.info.metadata[FILES_SHA256] = files_sha256(Path(model.path))
    log.info("saved %s to the model store (%s)", model.tag, model.path)
    return model


def files_sha256(folder: Path) -> dict[str, str]:
    """{path relative to ``folder``: sha256 hex digest} of every file under it (recorded at save time,
    so ``tryon doctor`` can tell a stored file that changed since)."""
    return {str(path.relative_to(folder)): file_sha256(path) for path in sorted(folder.rglob("*")) if path.is_file()}


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def require_model(tag: str) -> Any:
    """The stored model for ``tag`` (``name`` or ``name:version``), or ``MissingModelError`` saying how to
    put it there."""
    import bentoml
    from bentoml.exceptions import NotFound

    from ..library_internals import model_store_folder

    try:
        return bentoml.models.get(tag)
    except NotFound:
        name = tag.split(":")[0]
        raise MissingModelError(
            f"Model '{tag}' is not in the BentoML model store ({model_store_folder()}). Import it with "
            f"`python {IMPORT_SCRIPT} {name}` (downloads from the Hugging Face hub), or, for tests "
            f"and CPU development, build a random test model with `python {TEST_MODELS_SCRIPT} {name}`. "
            "Or choose an engine that does not need it (TRYON_ENGINE, or the classical engine's "
            "TRYON_PARSING_ENGINE=mediapipe)."
        ) from None


def declared_model(name: str) -> Any | None:
    """``BentoModel("name:latest")`` for a service's class attribute when the store has the model, else None.

    ``bentoml serve`` resolves every model a service declares before it starts, and stops with its own
    message when one is missing, even when the configured engine would never use it. Declaring the
    model only when it is present keeps the classical engines serving on machines without models,
    lets the runner's ``require_model`` give the clear error when a configured model is missing, and
    still makes ``bentoml build`` record the model wherever it is in the store.
    """
    import bentoml

    tag = f"{name}:latest"
    return bentoml.models.BentoModel(tag) if find_model(tag) is not None else None


def find_model(tag: str) -> Any | None:
    """The stored model for ``tag``, or None."""
    try:
        return require_model(tag)
    except MissingModelError:
        return None


def is_test_model(model: Any) -> bool:
    return model.info.labels.get(TEST_MODEL_LABEL) == "true"


@dataclass(frozen=True)
class Resolution:
    """What a runner serves: ``learned`` (a model from the store) or ``classical``, and why."""

    engine: str
    reason: str


def resolve_engine(
    setting: str,
    model_name: str,
    *,
    learned: str,
    classical: str,
    cuda_available: bool | None = None,
    allow_non_commercial: bool = False,
) -> Resolution:
    """The engine a runner serves for ``setting`` (``"auto"``, ``learned`` or ``classical``).

    ``learned`` requires the model: when it is missing this raises ``MissingModelError`` (a start-up
    error, never a silent fallback), and it runs on the CPU when there is no GPU. ``"auto"`` is
    ``learned`` only when ``model_name`` is in the store, is not a test model (random weights), may
    be used commercially (or ``allow_non_commercial``, ``TRYON_ALLOW_NON_COMMERCIAL``), and CUDA is
    available; otherwise ``classical``. ``cuda_available`` defaults to what this process sees:
    call it where the model runs (a runner), never for another process.
    """
    if setting == classical:
        return Resolution(classical, f"{classical} configured")
    if setting == learned:
        require_model(f"{model_name}:latest")
        return Resolution(learned, f"{learned} configured")
    if setting != "auto":
        raise ValueError(f"engine must be 'auto', '{learned}' or '{classical}', got {setting!r}")
    model = find_model(f"{model_name}:latest")
    if model is None:
        return Resolution(classical, f"auto: {model_name} is not in the model store")
    if is_test_model(model):
        log.warning("%s is a test model (random weights); 'auto' does not use it", model.tag)
        return Resolution(classical, f"auto: {model.tag} is a test model (random weights)")
    if not allow_non_commercial and is_non_commercial(model_source_of(model)):
        return Resolution(
            classical,
            f"auto: {model.tag} is not licensed for commercial use (set TRYON_ALLOW_NON_COMMERCIAL=true to use it)",
        )
    if cuda_available is None:
        from .devices import cuda_available as sees_cuda

        cuda_available = sees_cuda()
    if not cuda_available:
        return Resolution(classical, "auto: this runner sees no CUDA device")
    return Resolution(learned, f"auto: {model.tag} and a CUDA device")


def resolve_engine_runner(setting: str, engine: str, model_name: str) -> Resolution:
    """What the runner of engine ``engine`` serves for ``TRYON_ENGINE=setting``: its model (``engine``:
    required when ``setting`` names it, under ``auto`` as ``resolve_engine`` says) or nothing
    (``"none"``, when another engine is named)."""
    if setting not in ("auto", engine):
        return Resolution("none", f"TRYON_ENGINE={setting}: another engine is chosen")
    return resolve_engine(setting, model_name, learned=engine, classical="none")


def model_tag(model_name: str) -> str | None:
    """The full tag ``name:version`` that ``name:latest`` resolves to, or None (for /health)."""
    model = find_model(f"{model_name}:latest")
    return None if model is None else str(model.tag)


def model_labels(*, task: str, framework: str, source: ModelSource, test_model: bool) -> dict[str, str]:
    return {
        "task": task,
        "framework": framework,
        "license": source.license,
        "base-license": source.base_license or source.license,
        "commercial-use": "false" if is_non_commercial(source) else "true",
        TEST_MODEL_LABEL: "true" if test_model else "false",
    }


def source_metadata(source: ModelSource) -> dict[str, Any]:
    return {key: value for key, value in asdict(source).items() if value not in (None, "")}


NON_COMMERCIAL_LICENSES = ("cc-by-nc", "non-commercial", "noncommercial", "research-only")
KNOWN_NON_COMMERCIAL_REPOS = ("yisol/idm-vton", "levihsu/ootdiffusion", "zhengchong/catvton")
# SegFormer's weights (nvidia/mit-b*) and every fine-tune of them: NVIDIA Source Code License for
# SegFormer, non-commercial research or evaluation only (its section 3.3), binding derivatives (3.2).
SEGFORMER_LICENSE = "nvidia-segformer-non-commercial"
SEGFORMER_REPOS = ("nvidia/mit-b", "nvidia/segformer", "mattmdjaga/segformer_b2_clothes")


def is_non_commercial(source: ModelSource) -> bool:
    """True when the source's own licence, its base weights' licence or its repository (a known
    non-commercial one, or SegFormer weights) rules out commercial use."""
    licenses = f"{source.license} {source.base_license}".lower()
    repo = source.repo.lower()
    return (
        repo in KNOWN_NON_COMMERCIAL_REPOS
        or repo.startswith(SEGFORMER_REPOS)
        or any(marker in licenses for marker in NON_COMMERCIAL_LICENSES)
    )


def model_source_of(model: Any) -> ModelSource:
    """The ``ModelSource`` a stored model's metadata records (its labels' licences when absent)."""
    recorded = dict(model.info.metadata.get("source") or {})
    labels = model.info.labels
    return ModelSource(
        repo=str(recorded.get("repo", "")),
        revision=str(recorded.get("revision", "")),
        license=str(recorded.get("license", labels.get("license", ""))),
        base_license=str(recorded.get("base_license", labels.get("base-license", ""))),
    )


def resolve_source(source: ModelSource) -> ModelSource:
    """``source`` with the commit its revision resolves to on the Hugging Face hub, and the license the
    hub reports (the card's license wins over the expected one, with a warning when they differ)."""
    from huggingface_hub import model_info

    info = model_info(source.repo, revision=source.revision)
    card_license = info.card_data.get("license") if info.card_data else None
    license_id = source.license
    if card_license and str(card_license).lower() != source.license.lower():
        log.warning("%s declares license %r, expected %r", source.repo, card_license, source.license)
        license_id = str(card_license)
    return ModelSource(
        source.repo, source.revision, license_id, commit=info.sha, notes=source.notes, base_license=source.base_license
    )


TEST_SOURCE = ModelSource(
    repo="random-init (model_store_scripts/make_test_models.py)",
    revision="none",
    license="apache-2.0",
    notes="random weights built from a config; for tests and timing only",
)


class StoredModel:
    """A model an engine keeps in the store, and how the model-store scripts put it there: subclass it
    per model and list an instance in the engine's ``EngineSpec.models``.

    ``sources(options)``: what ``import_model(options)`` would download (for ``--dry-run`` and the
    licence check): by default the source named by ``--<option_prefix>-repo``, ``-revision`` and
    ``-license``. ``import_model`` / ``make_test_model`` save it and return the stored model;
    ``add_*_options`` add its own command-line options to the scripts' parsers.
    """

    name: str
    summary: str
    option_prefix: str  # of its source options: --<prefix>-repo, --<prefix>-revision, --<prefix>-license
    default_source: ModelSource  # their defaults

    def sources(self, options: "Namespace") -> list[ModelSource]:
        prefix = self.option_prefix.replace("-", "_")
        return [
            ModelSource(
                getattr(options, f"{prefix}_repo"),
                getattr(options, f"{prefix}_revision"),
                getattr(options, f"{prefix}_license"),
            )
        ]

    def import_model(self, options: "Namespace") -> Any:
        raise NotImplementedError

    def make_test_model(self, options: "Namespace") -> Any:
        raise NotImplementedError

    def add_import_options(self, parser: "ArgumentParser") -> Any:
        """Its source options, in an argument group of its own (returned, for more options)."""
        group = parser.add_argument_group(self.name)
        default, prefix = self.default_source, self.option_prefix
        group.add_argument(f"--{prefix}-repo", default=default.repo)
        group.add_argument(f"--{prefix}-revision", default=default.revision, help="branch, tag or commit (pin one)")
        group.add_argument(f"--{prefix}-license", default=default.license, help="expected license id")
        return group

    def add_test_options(self, parser: "ArgumentParser") -> None:
        """None by default."""
