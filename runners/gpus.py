"""GPU placement on one host.

BentoML hands each service that asks for ``gpu: 1`` a device of its own (``CUDA_VISIBLE_DEVICES=0``,
then ``=1``, ...), whether or not the host has that many. A service handed an index past the host's
last GPU sees no GPU at all and runs on the CPU, without a word. So on a host with fewer GPUs than
the services that ask for one, they share instead.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, MutableMapping
from typing import Any

import bentoml

from tryon.library_internals import nvidia_gpu_count

log = logging.getLogger("tryon.runners")

# BentoML's switch: with it set, no service is given a device index, so each sees every GPU.
SHARE_GPUS = "BENTOML_DISABLE_GPU_ALLOCATION"


def gpu_services(service: bentoml.Service[Any]) -> int:
    """How many of ``service`` and the services it depends on ask for a GPU."""
    return sum(1 for each in service.all_services().values() if (each.config.get("resources") or {}).get("gpu"))


def share_gpus_when_too_few(
    asking: int,
    environ: MutableMapping[str, str] = os.environ,
    count_gpus: Callable[[], int] = nvidia_gpu_count,
) -> bool:
    """Let the ``asking`` services that ask for a GPU share the host's GPUs when it has some, but
    fewer than that (count them with ``gpu_services``).

    Call it where ``bentoml serve`` imports the service, before it places the services. Whether it
    shared is returned. Left alone: an operator's own placement (either variable set), and a
    worker BentoML has already placed.
    """
    if SHARE_GPUS in environ or "CUDA_VISIBLE_DEVICES" in environ:
        return False
    gpus = count_gpus()
    if not 0 < gpus < asking:
        return False
    environ[SHARE_GPUS] = "1"
    log.info("%d GPU(s) for %d services that ask for one: they share (%s=1)", gpus, asking, SHARE_GPUS)
    return True
