from __future__ import annotations

from typing import Any, Callable

import bentoml


class StoreModelRunner:
    """What the runners of the learned steps share: each decides at its start-up, from its setting,
    its own model store and the device it sees, whether to load its model, and says so in ``describe``.

    ``loaded`` holds the model in memory (``load(folder)`` of the stored model), or None.
    """

    def __init__(
        self,
        setting: str,
        model_name: str,
        *,
        learned: str,
        classical: str,
        load: Callable[[str], Any],
        allow_non_commercial: bool = False,
    ) -> None:
        from ....models.store import require_model, resolve_engine

        self.resolution = resolve_engine(
            setting, model_name, learned=learned, classical=classical, allow_non_commercial=allow_non_commercial
        )
        self.stored = require_model(f"{model_name}:latest") if self.resolution.engine == learned else None
        self.loaded = load(self.stored.path) if self.stored is not None else None

    def model_in_memory(self) -> Any:
        """``loaded``, or a ``RuntimeError`` saying why there is none (the service never asks then)."""
        if self.loaded is None:
            raise RuntimeError(f"this runner holds no model ({self.resolution.reason})")
        return self.loaded

    @bentoml.api
    def describe(self) -> dict[str, Any]:
        """A ``RunnerDescription``: whether the model is loaded (and why), its tag, licence, device."""
        from ...base import describe_runner

        return describe_runner(
            type(self).__name__, reason=self.resolution.reason, model=self.stored, loaded=self.loaded
        ).model_dump()
