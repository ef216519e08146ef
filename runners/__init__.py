"""The runner services of every registered engine (``tryon/engines/registry.py``), for the entry service.

Each engine defines its runner classes in its own folder; this only declares the entry service's
dependencies on them, and ``gpus.py`` places them on a host's GPUs.
"""

from __future__ import annotations

from typing import TypeVar

import bentoml

from tryon.engines.registry import runner_services

T = TypeVar("T", bound=type)


def depend_on_runners(service_class: T) -> T:
    """``bentoml.depends`` on each registered runner service, as a class attribute named after it.

    Apply it under ``@bentoml.service``, which collects the dependencies from the class's attributes.
    """
    for runner in runner_services():
        setattr(service_class, runner.name, bentoml.depends(runner))
    return service_class
