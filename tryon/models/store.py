"""The learned models in the BentoML model store: their names, layout, saving, and engine choice.

Two models, each under a stable name so services can declare ``BentoModel("<name>:latest")``:

- ``INPAINTING_MODEL``: a diffusers ``StableDiffusionInpaintPipeline`` saved with ``save_pretrained``
  at the model's root, plus, optionally, an IP-Adapter under ``ip_adapter/`` (its weight file and its
  CLIP image encoder in ``ip_adapter/image_encoder``), so the garment photo conditions the generation.
- ``PARSING_MODEL``: a transformers ``SegformerForSemanticSegmentation`` and its image processor, saved
  with ``save_pretrained`` at the model's root.

``model_store_scripts/import_models.py`` puts the real models there (from the Hugging Face hub);
``model_store_scripts/make_test_models.py`` puts small random ones under the same names, labelled
``test-model: "true"``. Both go through ``save_inpainting_pipeline`` and ``save_clothes_parser``, so
everything after the download is the code the tests run.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger("tryon.models")

INPAINTING_MODEL = "tryon-inpainting"
PARSING_MODEL = "tryon-clothes-parser"

IP_ADAPTER_DIR = "ip_adapter"
IP_ADAPTER_ENCODER_DIR = "image_encoder"

TEST_MODEL_LABEL = "test-model"

IMPORT_SCRIPT = "model_store_scripts/import_models.py"
TEST_MODELS_SCRIPT = "model_store_scripts/make_test_models.py"

InpaintEngineSetting = Literal["auto", "diffusers", "opencv"]
ParsingEngineSetting = Literal["auto", "segformer", "mediapipe"]


class ModelSettings(BaseSettings):
    """The model knobs, read from the same ``TRYON_*`` variables as the service's ``Settings``.

    ``tryon.settings.Settings`` extends it; the runners read it on their own, in their own processes.
    """

    model_config = SettingsConfigDict(env_prefix="TRYON_", extra="ignore")

    runner_niceness: int = Field(
        default=10,
        ge=0,
        le=19,
        description="How much lower than the API's the CPU priority (Linux nice) of the mediapipe "
        "runners is, so submits and polls stay fast while every worker is busy (job worker threads "
        "run at nice 10 too).",
    )
    inpaint_engine: InpaintEngineSetting = Field(
        default="auto",
        description="Inpainting step: 'diffusers' (the store's diffusion model), 'opencv' (classical "
        "fill), or 'auto' (diffusers when its model is in the store and a GPU is present).",
    )
    parsing_engine: ParsingEngineSetting = Field(
        default="auto",
        description="Human parsing: 'segformer' (the store's clothes parser), 'mediapipe' (selfie "
        "segmentation + pose geometry), or 'auto' (segformer when in the store and a GPU is present).",
    )
    inpaint_steps: int = Field(default=30, ge=1, le=150, description="Denoising steps of a full strength run.")
    inpaint_strength: float = Field(
        default=0.85, gt=0, le=1, description="How far from the starting image (the warped garment) to go."
    )
    inpaint_guidance: float = Field(default=5.0, ge=1, le=30, description="Classifier-free guidance scale.")
    inpaint_width: int = Field(default=768, ge=64, le=2048, multiple_of=8, description="Working width (px).")
    inpaint_height: int = Field(default=1024, ge=64, le=2048, multiple_of=8, description="Working height (px).")
    inpaint_ip_adapter_scale: float = Field(
        default=0.6, ge=0, le=2, description="Weight of the garment photo (IP-Adapter), when the model has one."
    )


class MissingModelError(RuntimeError):
    """A model the configuration needs is not in the BentoML model store."""


@dataclass(frozen=True)
class ModelSource:
    """Where a stored model came from, recorded as the model's metadata.

    ``revision`` is what was asked for (a branch, tag or commit); ``commit`` is the commit it resolved
    to, when known; ``license`` is the license identifier the source declares.
    """

    repo: str
    revision: str
    license: str
    commit: str | None = None
    notes: str = ""


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
    import shutil

    def write(path: Path) -> None:
        pipeline.save_pretrained(path, safe_serialization=True)
        if ip_adapter is not None:
            target = path / IP_ADAPTER_DIR
            target.mkdir()
            shutil.copy2(ip_adapter.weight_file, target / ip_adapter.weight_file.name)
            shutil.copytree(ip_adapter.image_encoder_dir, target / IP_ADAPTER_ENCODER_DIR)

    metadata: dict[str, Any] = {
        "source": _source_metadata(source),
        "pipeline_class": type(pipeline).__name__,
        "dtype": str(getattr(pipeline, "dtype", "")).replace("torch.", ""),
    }
    if ip_adapter is not None:
        metadata["ip_adapter"] = {
            **_source_metadata(ip_adapter.source),
            "weight_name": ip_adapter.weight_file.name,
        }
    labels = _labels(task="inpainting", framework="diffusers", source=source, test_model=test_model)
    labels["ip-adapter"] = "true" if ip_adapter is not None else "false"
    return save_to_store(name, write, labels=labels, metadata=metadata)


def save_clothes_parser(
    model: Any,
    processor: Any,
    *,
    source: ModelSource,
    test_model: bool = False,
    name: str = PARSING_MODEL,
) -> Any:
    """Save a loaded transformers SegFormer parser and its image processor into the store as ``name``."""

    def write(path: Path) -> None:
        model.save_pretrained(path, safe_serialization=True)
        processor.save_pretrained(path)

    metadata = {
        "source": _source_metadata(source),
        "model_class": type(model).__name__,
        "id2label": {str(k): v for k, v in model.config.id2label.items()},
    }
    labels = _labels(task="human-parsing", framework="transformers", source=source, test_model=test_model)
    return save_to_store(name, write, labels=labels, metadata=metadata)


def save_to_store(
    name: str, write: Callable[[Path], None], *, labels: dict[str, str], metadata: dict[str, Any]
) -> Any:
    """Create model ``name`` in the store, let ``write`` fill its folder, and return the model.

    If ``write`` raises, the half-written model is discarded by BentoML and the error propagates.
    """
    import bentoml

    with bentoml.models.create(name, labels=labels, metadata=metadata) as model:
        write(Path(model.path))
    log.info("saved %s to the model store (%s)", model.tag, model.path)
    return model


def require_model(tag: str) -> Any:
    """The stored model for ``tag`` (``name`` or ``name:version``), or ``MissingModelError`` saying how to
    put it there."""
    import bentoml
    from bentoml.exceptions import NotFound

    try:
        return bentoml.models.get(tag)
    except NotFound:
        name = tag.split(":")[0]
        raise MissingModelError(
            f"Model '{tag}' is not in the BentoML model store ({_store_location()}). Import it with "
            f"`python {IMPORT_SCRIPT} --only {name}` (downloads from the Hugging Face hub), or, for tests "
            f"and CPU development, build random test models with `python {TEST_MODELS_SCRIPT}`. "
            f"Or choose the classical engine (TRYON_INPAINT_ENGINE=opencv / TRYON_PARSING_ENGINE=mediapipe)."
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


def engine_for(
    setting: str,
    model_name: str,
    *,
    learned: str = "diffusers",
    classical: str = "opencv",
    cuda_available: bool | None = None,
) -> str:
    """The engine a step uses: ``learned`` (a model from the store) or ``classical``.

    ``setting`` is ``"auto"``, ``learned`` or ``classical``. ``learned`` requires the model: when it
    is missing this raises ``MissingModelError`` (a start-up error, never a silent fallback), and it
    runs on the CPU when there is no GPU. ``"auto"`` is ``learned`` only when ``model_name`` is in the
    store, is not a test model (random weights), and CUDA is available; otherwise ``classical``.
    ``cuda_available`` defaults to ``torch.cuda.is_available()``.
    """
    if setting == classical:
        return classical
    if setting == learned:
        require_model(f"{model_name}:latest")
        return learned
    if setting != "auto":
        raise ValueError(f"engine must be 'auto', '{learned}' or '{classical}', got {setting!r}")
    model = find_model(f"{model_name}:latest")
    if model is None:
        return classical
    if is_test_model(model):
        log.warning("%s is a test model (random weights); 'auto' does not use it", model.tag)
        return classical
    if cuda_available is None:
        import torch

        cuda_available = torch.cuda.is_available()
    return learned if cuda_available else classical


def model_tag(model_name: str) -> str | None:
    """The full tag ``name:version`` that ``name:latest`` resolves to, or None (for /health)."""
    model = find_model(f"{model_name}:latest")
    return None if model is None else str(model.tag)


def _labels(*, task: str, framework: str, source: ModelSource, test_model: bool) -> dict[str, str]:
    return {
        "task": task,
        "framework": framework,
        "license": source.license,
        TEST_MODEL_LABEL: "true" if test_model else "false",
    }


def _source_metadata(source: ModelSource) -> dict[str, Any]:
    return {key: value for key, value in asdict(source).items() if value not in (None, "")}


def _store_location() -> str:
    from bentoml._internal.configuration.containers import BentoMLContainer

    return str(BentoMLContainer.model_store.get()._path)
