"""The FASHN VTON runner on a GPU host, with CUDA and onnxruntime's providers faked (the suite has no GPU):
DWPose's provider check, no silent CPU (``TRYON_FASHN_DEVICE``), the compile warm-up before ready,
out-of-memory from compiled code, and the meta-device load."""

from __future__ import annotations

import asyncio
import logging
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.models.conftest import temporary_model_store
from tryon.engines.base import RunnerDescription
from tryon.engines.fashn_vton import runner as runner_module
from tryon.engines.fashn_vton.batching import unpack_result
from tryon.engines.fashn_vton.checkpoint import load_saved_transformer
from tryon.engines.fashn_vton.engine import step_performers
from tryon.engines.fashn_vton.model_store import (
    DWPOSE_FILES,
    DWPOSE_FOLDER,
    TRANSFORMER_FOLDER,
    save_fashn_vton,
    tiny_transformer,
)
from tryon.engines.fashn_vton.pipeline import FashnVtonPipeline
from tryon.engines.fashn_vton.runner import (
    MAX_BATCH_SIZE,
    DeviceUnavailableError,
    FashnVtonRunner,
    choose_device,
)
from tryon.models import devices
from tryon.models.store import ModelSource, require_model
from tryon.vision.batching import OUT_OF_MEMORY, is_out_of_memory, sample_fitting_memory
from tryon.vision.dwpose import CPU_PROVIDER, CUDA_PROVIDER, cpu_fallback_reason, open_sessions

from .test_runner import packed

REAL_SOURCE = ModelSource("fashn-ai/fashn-vton-1.5", "main", "apache-2.0", commit="0" * 40)
FAKE_GPU = devices.GpuInfo(
    gpu_name="Fake GPU (tests)", memory_allocated_gb=0.0, memory_reserved_gb=0.0, total_memory_gb=24.0, memory_used_gb=0.0
)


class FakeSession:
    """An onnxruntime session that reports the providers it runs on."""

    def __init__(self, path: str, providers: list[str], runs_on: list[str]) -> None:
        self.path, self.asked = path, providers
        self._providers = [provider for provider in providers if provider in runs_on]

    def get_providers(self) -> list[str]:
        return self._providers


def fake_onnxruntime(available: list[str], runs_on: list[str]) -> types.ModuleType:
    """onnxruntime offering ``available`` providers, whose sessions load only those in ``runs_on``."""
    module = types.ModuleType("onnxruntime")
    module.__version__ = "1.99.0"
    module.get_available_providers = lambda: list(available)
    module.InferenceSession = lambda path, providers: FakeSession(path, providers, runs_on)
    return module


@pytest.fixture()
def store(tmp_path):
    with temporary_model_store(tmp_path / "bentoml") as home:
        yield home


def stored_model(*, test_model: bool, dwpose: bool = False):
    model = require_model(str(save_fashn_vton(tiny_transformer(), source=REAL_SOURCE, test_model=test_model).tag))
    if dwpose:  # the sessions are faked: the files need only be there
        folder = Path(model.path) / DWPOSE_FOLDER
        folder.mkdir()
        for name in DWPOSE_FILES:
            (folder / name).write_bytes(b"onnx")
    return model


def start(monkeypatch, **settings: str) -> FashnVtonRunner:
    monkeypatch.setenv("TRYON_ENGINE", "fashn-vton")
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return FashnVtonRunner()


def described(runner: FashnVtonRunner) -> RunnerDescription:
    return RunnerDescription.model_validate(asyncio.run(runner.describe()))


def fake_gpu_host(monkeypatch) -> None:
    """torch sees CUDA here, as the runner's seam (``tryon.models.devices``) reports it; the model still loads on the CPU."""
    monkeypatch.setattr(devices, "cuda_available", lambda: True)
    monkeypatch.setattr(devices, "gpu_info", lambda index=0: FAKE_GPU)


# 1. DWPose on the GPU


def test_sessions_open_with_cuda_first_when_onnxruntime_offers_it(tmp_path) -> None:
    gpu = fake_onnxruntime([CUDA_PROVIDER, CPU_PROVIDER], runs_on=[CUDA_PROVIDER, CPU_PROVIDER])
    detector, pose_model = open_sessions(tmp_path, runtime=gpu)
    assert detector.asked == pose_model.asked == [CUDA_PROVIDER, CPU_PROVIDER]
    assert cpu_fallback_reason([detector, pose_model], available=gpu.get_available_providers(), runtime_version="1.99.0") is None

    cpu = fake_onnxruntime([CPU_PROVIDER], runs_on=[CPU_PROVIDER])
    detector, _ = open_sessions(tmp_path, runtime=cpu)
    assert detector.asked == [CPU_PROVIDER]


def test_a_cpu_fallback_says_why() -> None:
    on_cpu = [FakeSession("x", [CUDA_PROVIDER, CPU_PROVIDER], runs_on=[CPU_PROVIDER])]
    no_gpu_package = cpu_fallback_reason(on_cpu, available=[CPU_PROVIDER], runtime_version="1.99.0")
    assert "onnxruntime 1.99.0 offers no CUDA provider" in no_gpu_package and "install onnxruntime-gpu" in no_gpu_package
    broken = cpu_fallback_reason(on_cpu, available=[CUDA_PROVIDER, CPU_PROVIDER], runtime_version="1.99.0")
    assert "fell back to the CPU" in broken and "CUDA or cuDNN" in broken


@pytest.mark.parametrize(
    "available, runs_on, expected",
    [
        ([CUDA_PROVIDER, CPU_PROVIDER], [CUDA_PROVIDER, CPU_PROVIDER], f"dwpose (onnxruntime {CUDA_PROVIDER})"),
        ([CPU_PROVIDER], [CPU_PROVIDER], "dwpose on the CPU although this host has CUDA: onnxruntime 1.99.0 offers no CUDA provider"),
        ([CUDA_PROVIDER, CPU_PROVIDER], [CPU_PROVIDER], "dwpose on the CPU although this host has CUDA: onnxruntime 1.99.0 offers CUDA, but"),
    ],
)  # fmt: skip
def test_a_gpu_host_whose_dwpose_runs_on_the_cpu_says_so_in_health_and_the_log(
    store, monkeypatch, caplog, available, runs_on, expected
) -> None:
    stored_model(test_model=True, dwpose=True)
    fake_gpu_host(monkeypatch)
    monkeypatch.setitem(sys.modules, "onnxruntime", fake_onnxruntime(available, runs_on))

    with caplog.at_level(logging.WARNING, logger="tryon.runners"):
        description = described(start(monkeypatch))

    assert description.steps["pose"].startswith(expected), description.steps
    assert step_performers(description)["pose"] == description.steps["pose"]  # /health's engines.pose
    fell_back = "on the CPU" in expected
    assert ("DWPose runs on the CPU of a GPU host" in caplog.text) is fell_back


# 2. No silent CPU


def no_cuda() -> str:
    return "no CUDA device or driver (torch.cuda.is_available() is False)"


def busy() -> str:
    return "the CUDA device did not answer within 60 s (busy or wedged GPU?)"


@pytest.mark.parametrize("problem", [no_cuda, busy])
def test_a_real_model_without_cuda_stops_start_up_naming_the_cause_and_the_override(problem) -> None:
    with pytest.raises(DeviceUnavailableError) as refused:
        choose_device("auto", engine_setting="fashn-vton", model="fashn-vton:abc", test_model=False, problem=problem)
    message = str(refused.value)
    assert problem() in message and "fashn-vton:abc" in message
    assert "TRYON_FASHN_DEVICE=cpu" in message and "TRYON_ENGINE=auto" in message


def test_each_device_setting_decides_as_documented() -> None:
    def usable() -> None:
        return None

    choose = choose_device
    assert choose("auto", engine_setting="fashn-vton", model="m", test_model=False, problem=usable).device == "cuda"
    assert choose("auto", engine_setting="fashn-vton", model="m", test_model=True, problem=no_cuda).device == "cpu"
    skipped = choose("auto", engine_setting="auto", model="m", test_model=False, problem=busy)
    assert skipped.device is None and busy() in skipped.note and "classical" in skipped.note
    with pytest.raises(DeviceUnavailableError, match="TRYON_FASHN_DEVICE=cuda, but this runner cannot use CUDA: no CUDA"):
        choose("cuda", engine_setting="fashn-vton", model="m", test_model=True, problem=no_cuda)

    def not_asked() -> None:
        raise AssertionError("TRYON_FASHN_DEVICE=cpu probes no GPU")

    assert choose("cpu", engine_setting="fashn-vton", model="m", test_model=False, problem=not_asked).device == "cpu"


def test_the_runner_refuses_a_real_model_on_this_cpu_machine_unless_told_to_use_the_cpu(store, monkeypatch) -> None:
    stored_model(test_model=False)

    with pytest.raises(DeviceUnavailableError) as refused:
        start(monkeypatch)
    assert "cannot use CUDA" in str(refused.value) and "TRYON_FASHN_DEVICE=cpu" in str(refused.value)

    description = described(start(monkeypatch, TRYON_FASHN_DEVICE="cpu"))
    assert description.available and description.device == "cpu" and not description.test_model
    assert "TRYON_FASHN_DEVICE=cpu: sampling runs on the CPU in float32 (slow)" in description.reason


def test_under_auto_an_unusable_gpu_leaves_the_runner_unavailable_with_the_reason(store, monkeypatch) -> None:
    stored_model(test_model=False)
    fake_gpu_host(monkeypatch)  # auto loads a real model only where CUDA is seen
    monkeypatch.setattr(runner_module, "cuda_problem", busy)

    description = described(start(monkeypatch, TRYON_ENGINE="auto"))

    assert not description.available
    assert busy() in description.reason and "the classical engine serves" in description.reason


def test_test_models_keep_running_on_the_cpu(store, monkeypatch) -> None:
    stored_model(test_model=True)
    description = described(start(monkeypatch))
    assert description.available and description.device == "cpu" and description.test_model


# 3. Compile before ready


class FakeCompiler:
    """Stands in for torch.compile: counts its calls and records each forward's (rows, masked) shape."""

    def __init__(self) -> None:
        self.compiled = 0
        self.calls: list[tuple[int, bool]] = []

    def __call__(self, module: torch.nn.Module) -> torch.nn.Module:
        self.compiled += 1

        def record(_module, args, kwargs) -> None:
            self.calls.append((args[0].shape[0], kwargs.get("mask") is not None))

        module.register_forward_pre_hook(record, with_kwargs=True)
        return module


@pytest.mark.e2e  # slow (10-60 s on 2 cores): left to the full run
def test_with_compile_every_graph_is_compiled_before_the_runner_is_ready(store, monkeypatch, caplog) -> None:
    stored_model(test_model=True)
    compiler = FakeCompiler()
    monkeypatch.setattr(torch, "compile", compiler)

    with caplog.at_level(logging.INFO, logger="tryon.runners"):
        runner = start(monkeypatch, TRYON_FASHN_COMPILE="true")

    # Built, so ready: every batch size up to the largest, guided (2n rows, masked) and unguided (n rows).
    assert compiler.compiled == 1
    expected = {(2 * n, True) for n in range(1, MAX_BATCH_SIZE + 1)} | {(n, False) for n in range(1, MAX_BATCH_SIZE + 1)}
    assert set(compiler.calls) == expected and len(compiler.calls) == len(expected)
    assert "torch.compile before ready" in caplog.text and "compiled in" in caplog.text
    description = described(runner)
    assert description.steps["compile"].startswith("torch.compile before ready: guided steps of 2-16 rows")
    assert description.steps["compile"] in step_performers(description)["inpainting"]  # /health's engines

    warm = len(compiler.calls)
    rows = np.concatenate([packed("a", 1), packed("b", 2), packed("c", 3, num_steps=3)])
    assert all(isinstance(unpack_result(row), np.ndarray) for row in runner.sample(rows))
    assert set(compiler.calls[warm:]) <= expected  # sampling met no shape the warm-up did not compile


def test_without_compile_nothing_is_compiled(store, monkeypatch) -> None:
    stored_model(test_model=True)
    compiler = FakeCompiler()
    monkeypatch.setattr(torch, "compile", compiler)
    runner = start(monkeypatch)
    assert compiler.compiled == 0 and "compile" not in described(runner).steps


def inductor_out_of_memory() -> Exception:
    from torch._inductor.exc import InductorError

    return InductorError(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 4.00 GiB"), None)


def wrapped_out_of_memory() -> Exception:
    try:
        try:
            raise torch.OutOfMemoryError("CUDA out of memory.")
        except torch.OutOfMemoryError as error:
            raise RuntimeError("compiled graph failed") from error
    except RuntimeError as wrapped:
        return wrapped


@pytest.mark.parametrize(
    "error",
    [inductor_out_of_memory, wrapped_out_of_memory, lambda: RuntimeError("CUDA error: out of memory\nCUDA kernel errors")],
)
def test_out_of_memory_from_compiled_code_is_split_and_retried(error) -> None:
    batches: list[int] = []

    def sample(items):
        batches.append(len(items))
        if len(items) > 1:
            raise error()
        return [f"picture {item}" for item in items]

    assert sample_fitting_memory([1, 2, 3], sample, free_memory=lambda: None) == ["picture 1", "picture 2", "picture 3"]
    assert batches == [3, 2, 1, 1, 1]

    def never_fits(items):
        raise error()

    assert sample_fitting_memory(["x"], never_fits, free_memory=lambda: None) == [OUT_OF_MEMORY]


def test_other_errors_are_not_mistaken_for_out_of_memory() -> None:
    assert not is_out_of_memory(RuntimeError("shapes cannot be multiplied"))

    def broken(items):
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        sample_fitting_memory([1, 2], broken, free_memory=lambda: None)


# 4. Load without building the model twice


@pytest.fixture()
def saved_folder(tmp_path) -> tuple[Path, dict[str, torch.Tensor]]:
    model = tiny_transformer(seed=3)
    model.save_pretrained(tmp_path / TRANSFORMER_FOLDER, safe_serialization=True)
    return tmp_path / TRANSFORMER_FOLDER, {name: tensor.clone() for name, tensor in model.state_dict().items()}


def test_the_model_is_built_on_the_meta_device_and_takes_the_saved_tensors(saved_folder, monkeypatch) -> None:
    folder, saved = saved_folder
    initialised: list[str] = []
    for layer in (torch.nn.Linear, torch.nn.Conv2d, torch.nn.Embedding):
        reset = layer.reset_parameters

        def recording(self, reset=reset) -> None:
            initialised.append(self.weight.device.type)
            reset(self)

        monkeypatch.setattr(layer, "reset_parameters", recording)

    pipeline = FashnVtonPipeline.from_pretrained(folder)  # as the runner loads it

    assert initialised and set(initialised) == {"meta"}  # no parameter was materialised before the weights
    loaded = pipeline.transformer.state_dict()
    assert loaded.keys() == saved.keys()
    assert all(torch.equal(loaded[name], saved[name]) for name in saved)
    assert pipeline.transformer.device.type == "cpu" and pipeline.transformer.dtype == torch.float32


def test_the_load_casts_to_the_asked_dtype(saved_folder) -> None:
    folder, saved = saved_folder
    model = load_saved_transformer(folder, dtype=torch.bfloat16)
    assert all(tensor.dtype == torch.bfloat16 for tensor in model.state_dict().values())
    assert all(torch.equal(model.state_dict()[name], saved[name].to(torch.bfloat16)) for name in saved)


def test_a_folder_without_weights_is_refused(tmp_path) -> None:
    tiny_transformer().save_config(tmp_path)
    with pytest.raises(FileNotFoundError, match="diffusion_pytorch_model.safetensors"):
        load_saved_transformer(tmp_path)



# 6. Seeds: what docs/fashn-vton.md says reproduces


def test_the_same_seeds_device_dtype_and_batch_composition_give_the_same_pictures(store, monkeypatch) -> None:
    stored_model(test_model=True)
    runner = start(monkeypatch)
    rows = np.concatenate([packed("a", 11), packed("b", 12)])

    first = [unpack_result(row) for row in runner.sample(rows)]
    again = [unpack_result(row) for row in runner.sample(rows)]

    assert all(np.array_equal(one, other) for one, other in zip(first, again, strict=True))
    assert not np.array_equal(first[0], first[1])
