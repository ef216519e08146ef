"""What every try-on engine is to the service: photos in, pictures (arrays) and a few details out.

An engine is one folder under ``tryon/engines/`` holding its BentoML runner services, its model code,
its request options and result details (``EngineOptions``, ``EngineDetails``: pydantic models in a
light module of its own) and an adapter implementing ``TryOnEngine``; ``registry.py`` lists it. The
API builds the form of POST /api/tryon and the job's answer from the registered engines' options and
details. The job workers call ``TryOnEngine.run`` in worker threads; the adapter calls its runners
and reports progress by the documented step names. Neither fastapi nor bentoml is imported here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..models.devices import GpuInfo
from ..models.licences import ModelInUse
from ..models.store import StoredModel

if TYPE_CHECKING:
    from ..settings import Settings


class Step(str, Enum):
    """The documented steps of a job and the progress (percent) reported when each starts.

    Every engine reports these names, in this order, whatever its model does inside them.
    """

    SEGMENTATION = "segmentation"
    POSE = "pose"
    WARP = "warp"
    INPAINTING = "inpainting"
    BLEND = "blend"
    DONE = "done"


STEP_PROGRESS: dict[Step, int] = {
    Step.SEGMENTATION: 10,
    Step.POSE: 25,
    Step.WARP: 40,
    Step.INPAINTING: 55,
    Step.BLEND: 85,
    Step.DONE: 100,
}


def progress_percent(step: Step, fraction: float = 0.0) -> int:
    """The job's percentage ``fraction`` (clipped to [0, 1)) of the way through ``step``."""
    steps = list(STEP_PROGRESS)
    if step is Step.DONE:
        return STEP_PROGRESS[Step.DONE]
    start, end = STEP_PROGRESS[step], STEP_PROGRESS[steps[steps.index(step) + 1]]
    return start + int((end - start) * min(max(fraction, 0.0), 0.999))


class Category(str, Enum):
    """Which part of the body a garment dresses; ``AUTO`` asks the engine to decide.

    ``UPPER_BODY``: shoulders to hips, arms (shirts, t-shirts, sweatshirts, jackets).
    ``LOWER_BODY``: waist to ankles (trousers, jeans, shorts, skirts).
    ``DRESSES``: one piece from the shoulders to a hem well below the hips.
    """

    AUTO = "auto"
    UPPER_BODY = "upper_body"
    LOWER_BODY = "lower_body"
    DRESSES = "dresses"


def job_seed(job_id: str) -> int:
    """A job's seed when its client gives none: 63 bits of the SHA-256 of its id (same job, same picture)."""
    return int.from_bytes(hashlib.sha256(job_id.encode()).digest()[:8], "little") >> 1


class ProgressCallback(Protocol):
    def __call__(self, step: Step, fraction: float = 0.0) -> None:
        """``step`` is starting or under way; ``fraction`` in [0, 1) of it is done."""


class EngineOptions(BaseModel):
    """An engine's request options (subclass it in the engine's folder, one field per option).

    Each field is an optional form field of POST /api/tryon, with the type, limits and description
    declared here (the form, its validation and the OpenAPI schema are built from them); a field the
    client leaves out takes its default here. Two engines may declare the same option only alike.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")


class EngineDetails(BaseModel):
    """What an engine's result says besides its category and notes (subclass it in the engine's
    folder): each field is a key of a completed job's answer, with its description."""

    model_config = ConfigDict(frozen=True)


@dataclass(frozen=True)
class EngineRequest:
    """One job's inputs. The photos are the uploads as received (already validated as images);
    ``options`` is the chosen engine's own ``EngineOptions``."""

    person_image: bytes
    clothing_image: bytes
    category: Category = Category.AUTO
    options: EngineOptions = EngineOptions()
    job_id: str = ""  # seeds an engine's randomness: a job gives the same picture on every run


@dataclass(frozen=True)
class EngineResult:
    """The dressed person: one ``HxWx3`` uint8 RGB picture, or one per sample of a ``num_samples``
    job (same size, first one first; the service encodes them), the category used (never ``AUTO``),
    what the engine decided on the way (``notes``, one sentence each) and its ``details``."""

    pictures: tuple[np.ndarray, ...]
    category: Category
    notes: tuple[str, ...] = ()
    details: EngineDetails = EngineDetails()
    # What the answer's ``results`` adds to each picture (FASHN VTON: its seed), one per picture, when
    # the client asked for several; empty: the answer has no ``results``.
    picture_details: tuple[dict[str, Any], ...] = ()

    @property
    def width(self) -> int:
        return self.pictures[0].shape[1]

    @property
    def height(self) -> int:
        return self.pictures[0].shape[0]


class RunnerDescription(BaseModel):
    """What a runner service says about itself (its ``describe`` API), decided in its own process."""

    service: str = Field(description="The BentoML service name, e.g. ParsingRunner.")
    available: bool = Field(description="Its model is loaded (or it needs none) and it serves calls.")
    reason: str = Field(description="Why it is, or is not, available, for an operator to read.")
    model_tag: str | None = Field(default=None, description="The store tag of the model it serves.")
    license: str | None = Field(default=None, description="The licence the model's source declares.")
    test_model: bool = Field(default=False, description="Random test weights: 'auto' never picks it.")
    device: str = Field(default="cpu", description="Where its model runs: cpu or cuda:N.")
    dtype: str | None = None
    cuda_available: bool = Field(default=False, description="The runner's process sees a CUDA device.")
    gpu: GpuInfo | None = Field(default=None, description="The CUDA device it sees, when it sees one.")
    steps: dict[str, str] = Field(
        default_factory=dict, description="What it performs for documented steps besides its model (e.g. pose)."
    )
    models: list[ModelInUse] = Field(
        default_factory=list, description="Every model it serves with, each with its licences."
    )


class EngineDescription(BaseModel):
    """An engine as the API process sees it: built from its runners' descriptions."""

    engine: str
    available: bool
    reason: str
    test_model: bool = False
    steps: dict[str, str] = Field(description="What performs each documented step.")
    runners: list[RunnerDescription] = Field(default_factory=list)
    passed_over: dict[str, str] = Field(
        default_factory=dict,
        description="Under TRYON_ENGINE=auto: each engine before this one that was not chosen, and why.",
    )

    @property
    def gpu(self) -> GpuInfo | None:
        """The first GPU among the runners that use one, else among those that see one."""
        using = [runner.gpu for runner in self.runners if runner.gpu and runner.device.startswith("cuda")]
        seeing = [runner.gpu for runner in self.runners if runner.gpu]
        return (using or seeing or [None])[0]

    @property
    def cuda_available(self) -> bool:
        return any(runner.cuda_available for runner in self.runners)


class TryOnEngine(Protocol):
    """An engine's adapter, built in the API process over its runners' clients."""

    name: str

    def run(self, request: EngineRequest, on_progress: ProgressCallback) -> EngineResult:
        """The person of ``request.person_image`` wearing the garment, as pictures of the person photo's
        aspect (at least one; ``num_samples`` in ``request.options`` asks for more, where the engine can).

        Raises the ``tryon.errors`` domain errors (no person, no garment, bad image) for a failed job
        with a readable reason; ``on_progress`` is called with each ``Step`` and last with ``DONE``.
        """

    def warm_up(self) -> None:
        """Call each model once, so the first job does not pay for loading it; raises while a runner
        is not answering yet."""

    def describe(self) -> EngineDescription:
        """Ask the runners how they are; raises while one is not answering yet."""


RunnerAPI = Callable[[Any, str], Callable[..., Any]]
"""``runner_api(RunnerService, "api_name")``: that API of that runner service, callable from worker
threads (a remote client in ``bentoml serve``, the runner object itself in-process)."""


@dataclass(frozen=True)
class EngineSpec:
    """One registry row.

    ``runners``: the engine's BentoML runner service classes (the service ``bentoml.depends`` on each).
    ``build``: its adapter, built in the API process from the settings and the runners' APIs.
    ``models``: what it keeps in the model store, and how the scripts import or fake each.
    ``options``, ``details``: its request options and result details (light modules: the API process
    reads them).
    """

    name: str
    summary: str
    runners: tuple[Any, ...]  # what @bentoml.service returns
    build: Callable[[Settings, RunnerAPI], TryOnEngine]
    models: tuple[StoredModel, ...] = ()
    options: type[EngineOptions] = EngineOptions
    details: type[EngineDetails] = EngineDetails

    def request_options(self, sent: Mapping[str, Any]) -> tuple[EngineOptions, tuple[str, ...]]:
        """This engine's options from the engine options a client sent (already validated by the
        form; what it left out is absent), and a note for each one this engine does not take."""
        taken = {name: value for name, value in sent.items() if name in self.options.model_fields}
        ignored = tuple(
            f"{name} is not an option of the {self.name} engine; it was ignored" for name in sent if name not in taken
        )
        return self.options.model_validate(taken), ignored


def describe_runner(
    service: str,
    *,
    reason: str,
    available: bool | None = None,
    model: Any = None,
    loaded: Any = None,
    test_model: bool = False,
    steps: Mapping[str, str] | None = None,
    models: Sequence[ModelInUse] = (),
) -> RunnerDescription:
    """A runner's ``describe`` answer, in the runner's process: what it serves, and the device it sees.

    ``model`` is the ``bentoml.Model`` it loaded from the store, if any; ``loaded`` the object holding
    it in memory (its ``device`` and torch ``dtype`` are reported). ``available`` defaults to whether
    something is loaded. A model labelled as a test model, or ``test_model``, marks the runner as
    serving no real try-on (``auto`` skips it). ``steps``: what else it performs, by step name.
    """
    from ..models import devices
    from ..models.store import TEST_MODEL_LABEL

    labels = model.info.labels if model is not None else {}
    return RunnerDescription(
        service=service,
        available=loaded is not None if available is None else available,
        reason=reason,
        model_tag=str(model.tag) if model is not None else None,
        license=labels.get("license"),
        test_model=test_model or labels.get(TEST_MODEL_LABEL) == "true",
        device=str(loaded.device) if loaded is not None else "cpu",
        dtype=str(loaded.dtype).removeprefix("torch.") if loaded is not None else None,
        cuda_available=devices.cuda_available(),
        gpu=devices.gpu_info(),
        steps=dict(steps or {}),
        models=list(models) or _stored_models_in_use(model),
    )


def _stored_models_in_use(model: Any) -> list[ModelInUse]:
    """The one stored model a runner serves (none when ``model`` is None), with its licences."""
    from ..models.licences import stored_model_in_use

    return [] if model is None else [stored_model_in_use(model, "the runner's model")]
