"""GPU placement: on any host with a GPU, the runners that use one get a device that exists."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from runners.gpus import SHARE_GPUS, share_gpus_when_too_few

from .e2e.served import REPO
from .test_bento_build import GPU_RUNNERS


def not_counted() -> int:
    raise AssertionError("GPUs were counted although the placement was already made")


@pytest.mark.parametrize("gpus, shared", [(0, False), (1, True), (2, False), (4, False)])
def test_services_share_only_when_the_host_has_some_gpus_but_fewer_than_them(gpus, shared):
    environ: dict[str, str] = {}

    assert share_gpus_when_too_few(2, environ, count_gpus=lambda: gpus) is shared
    assert environ == ({SHARE_GPUS: "1"} if shared else {})


@pytest.mark.parametrize("placed", [{"CUDA_VISIBLE_DEVICES": "1"}, {"CUDA_VISIBLE_DEVICES": ""}, {SHARE_GPUS: "1"}])
def test_a_placement_already_made_is_left_alone(placed):
    """An operator's own choice, or a worker that BentoML has already given its device."""
    environ = dict(placed)

    assert not share_gpus_when_too_few(2, environ, count_gpus=not_counted)
    assert environ == placed


# Imports the service as `bentoml serve` does, on a host faked to have N GPUs, then asks BentoML's
# own allocator which device each service's workers get (None: CUDA_VISIBLE_DEVICES unset, every
# GPU visible). A process of its own: importing the service patches BentoML's metrics middleware.
PLACEMENT = """
import json, sys
from unittest import mock
from bentoml._internal.resource import NvidiaGpuResource

with mock.patch.object(NvidiaGpuResource, "from_system", return_value=list(range(int(sys.argv[1])))):
    import service
    from _bentoml_impl.server.allocator import ResourceAllocator

    services = service.TryOnService.all_services()
    configs = {name: svc.config for name, svc in services.items()}
    allocator = ResourceAllocator()
    devices = {
        name: allocator.get_worker_env(svc, services=configs)[1].get("CUDA_VISIBLE_DEVICES")
        for name, svc in services.items()
    }
print(json.dumps(devices))
"""


def placement(gpus: int) -> dict[str, str | None]:
    env = {k: v for k, v in os.environ.items() if k not in (SHARE_GPUS, "CUDA_VISIBLE_DEVICES")}
    done = subprocess.run(
        [sys.executable, "-c", PLACEMENT, str(gpus)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.e2e  # slow (10-60 s on 2 cores): left to the full run
def test_on_one_gpu_every_runner_that_asks_for_one_sees_it():
    """With more such runners than GPUs, BentoML alone would give the second device 1, which does
    not exist: it would run on the CPU."""
    devices = placement(1)

    assert "ParsingRunner" in GPU_RUNNERS
    assert all(devices[runner] in (None, "0") for runner in GPU_RUNNERS), devices


@pytest.mark.e2e  # slow (10-60 s on 2 cores): left to the full run
def test_with_a_gpu_per_runner_each_gets_its_own():
    devices = placement(len(GPU_RUNNERS))

    assert sorted(devices[runner] for runner in GPU_RUNNERS) == [str(index) for index in range(len(GPU_RUNNERS))], devices
    # mediapipe runs on the CPU: those runners ask for no GPU, so none is held for them.
    assert devices["SegmentationRunner"] is None and devices["PoseRunner"] is None, devices
