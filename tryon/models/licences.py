"""The licences of the models the service runs, as ``/health`` lists them.

A model is commercially usable only when its own licence and its base weights' licence both allow it.
Stored models carry theirs in their store labels (``license``, ``base-license``, ``commercial-use``,
written by ``store.model_labels``); the models inside libraries (mediapipe's) and inside another stored
model (DWPose, in the fashn-vton folder) are described here. Sources: docs/models.md.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from .store import is_non_commercial, model_source_of


class ModelInUse(BaseModel):
    """One model a runner serves with, and whether its licences allow commercial use."""

    name: str = Field(description="The model, e.g. tryon-clothes-parser or dwpose.")
    role: str = Field(description="What it does in the service.")
    model_tag: str | None = Field(default=None, description="Its store tag, when it comes from the model store.")
    license: str = Field(description="The licence of its weights.")
    base_license: str = Field(description="The licence of the weights it was fine-tuned from (itself when none).")
    commercial_use: bool = Field(description="Both licences allow commercial use.")
    test_model: bool = Field(default=False, description="Random test weights.")


# Models that do not come from the store on their own: (role, licence, base weights' licence).
BUNDLED_MODELS: dict[str, tuple[str, str, str]] = {
    "dwpose": (
        "pose keypoints (DWPose dw-ll_ucoco_384 + YOLOX-L person detector, stored with fashn-vton)",
        "apache-2.0",
        "apache-2.0",
    ),
    "mediapipe-pose": ("pose keypoints and person detector (mediapipe BlazePose, in its wheel)", "apache-2.0", "apache-2.0"),
    "mediapipe-selfie-segmentation": ("the wearer's silhouette (mediapipe, in its wheel)", "apache-2.0", "apache-2.0"),
}


def model_in_use(name: str) -> ModelInUse:
    """A ``BUNDLED_MODELS`` entry."""
    role, license_id, base = BUNDLED_MODELS[name]
    return ModelInUse(name=name, role=role, license=license_id, base_license=base, commercial_use=True)


def stored_model_in_use(model: Any, role: str) -> ModelInUse:
    """A model from the store (a ``bentoml.Model``), from its labels and recorded source."""
    from .store import TEST_MODEL_LABEL

    labels = model.info.labels
    return ModelInUse(
        name=model.tag.name,
        role=role,
        model_tag=str(model.tag),
        license=labels.get("license", "unknown"),
        base_license=labels.get("base-license", labels.get("license", "unknown")),
        commercial_use=stored_commercial_use(model),
        test_model=labels.get(TEST_MODEL_LABEL) == "true",
    )


def stored_commercial_use(model: Any) -> bool:
    """Whether a stored model may be used commercially: its ``commercial-use`` label, and for models
    stored before that label existed, what its recorded source says (repo, licence)."""
    labels = model.info.labels
    if labels.get("commercial-use") == "false":
        return False
    return not is_non_commercial(model_source_of(model))
