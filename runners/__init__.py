"""The runner services, as the entry service sees them: every BentoML service that holds a model.

Each runner service is defined in its engine's folder (``tryon/engines/<engine>/``) and listed by
that engine's registry row (``tryon/engines/registry.py``), so adding an engine changes nothing here.
This folder holds what the entry service (``service.py``) does with all of them:

- ``runner_services`` (below): every registered engine's runner services, each once;
- ``depend_on_runners`` (below): the entry service's ``bentoml.depends`` on each of them;
- ``calls.py``: calling them from the job worker threads, retried when a connection drops;
- ``gpus.py``: placing the ones that ask for a GPU on one host's GPUs.
"""

from __future__ import annotations

from typing import Any, TypeVar

import bentoml

from tryon.engines.registry import engines

T = TypeVar("T", bound=type)


def runner_services() -> tuple[bentoml.Service[Any], ...]:
    """Every registered engine's runner services, each once, in registry order."""
    seen: dict[str, bentoml.Service[Any]] = {}
    for spec in engines():
        for runner in spec.runners:
            seen.setdefault(runner.name, runner)
    return tuple(seen.values())


def depend_on_runners(service_class: T) -> T:
    """``bentoml.depends`` on each registered runner service, as a class attribute named after it.

    Apply it under ``@bentoml.service``, which collects the dependencies from the class's attributes.
    """
    for runner in runner_services():
        setattr(service_class, runner.name, bentoml.depends(runner))
    return service_class
