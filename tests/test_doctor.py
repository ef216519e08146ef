"""``tryon doctor`` on the test models: the whole report and its JSON from the command as an operator
runs it, and the checks that must fail (a changed stored file, a numerics mismatch, no model), with
CUDA faked where the code path needs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from tests.models.conftest import temporary_model_store
from tryon.clients import cli
from tryon.doctor import batches, environment, example_tryon, numerics
from tryon.doctor.report import SECTIONS, Status
from tryon.engines.fashn_vton.inputs import CANVAS_HEIGHT, CANVAS_WIDTH
from tryon.engines.fashn_vton.model_store import FASHN_VTON_MODEL
from tryon.engines.fashn_vton.pose_source import MEDIAPIPE, PoseSource, open_pose_source
from tryon.models.store import find_model
from tryon.vision.keypoints import Keypoints


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A BentoML home holding the fashn-vton test model, as make_test_models saves it."""
    from model_store_scripts.make_test_models import make_test_models

    with temporary_model_store(tmp_path_factory.mktemp("bentoml")) as home:
        make_test_models([FASHN_VTON_MODEL])
        yield home


def doctor(tmp_path: Path, *options: str) -> tuple[int, dict]:
    """``tryon doctor`` in this process (the store as the fixtures set it); its exit code and JSON."""
    report = tmp_path / "doctor.json"
    code = cli.main(["doctor", "--json", str(report), "--output", str(tmp_path / "tryon.png"), *options])
    return code, json.loads(report.read_text())


def by_name(report: dict) -> dict[str, dict]:
    return {check["name"]: check for check in report["checks"]}


@pytest.mark.e2e  # slow (10-60 s on 2 cores): left to the full run
def test_the_doctor_passes_on_the_test_models_and_its_json_holds_every_section(store, tmp_path) -> None:
    """The operator's command, as a process of its own with the CPU defaults: exit 0 within a minute."""
    report, picture = tmp_path / "doctor.json", tmp_path / "tryon.png"
    env = {**os.environ, "BENTOML_HOME": str(store)}
    finished = subprocess.run(
        [sys.executable, "-m", "tryon.clients.cli", "doctor", "--json", str(report), "--output", str(picture)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    lines = finished.stdout.splitlines()
    assert lines[0].split() == ["status", "check", "reason"]
    assert "0 fail" in lines[-2] and lines[-1] == f"tryon doctor: wrote {report}"

    written = json.loads(report.read_text())
    assert written["ok"] is True
    assert {check["section"] for check in written["checks"]} == set(SECTIONS)
    assert all(check["status"] in ("ok", "skipped") for check in written["checks"]), lines
    checks = by_name(written)
    assert checks["environment"]["figures"]["torch"] == torch.__version__
    assert "CPUExecutionProvider" in checks["environment"]["figures"]["onnxruntime_providers"]
    assert checks["model fashn-vton"]["figures"]["license"] == "apache-2.0"
    assert checks["model fashn-vton"]["figures"]["files_checked"] == 2  # config.json and the safetensors
    assert checks["tiny float32"]["figures"]["forward_max_abs"] <= numerics.FORWARD_TOLERANCE
    assert 0 < checks["tiny bfloat16"]["figures"]["forward_relative_rms"] <= numerics.BF16_RELATIVE_RMS
    assert 0 < checks["stored bfloat16"]["figures"]["relative_rms"] <= numerics.BF16_RELATIVE_RMS
    rows = checks["sampling eager"]["figures"]["rows"]
    assert [row["batch"] for row in rows] == [1, 4]
    # The JSON rounds both to 4 decimals: 30 steps carry the step's rounding 30 times, the job's once.
    assert all(row["seconds_per_job"] == pytest.approx(30 * row["seconds_per_step"], abs=31 * 5e-5) for row in rows)
    assert all(row["share_of_peak"] is None and row["peak_rss_gib"] > 0 for row in rows)
    assert checks["out-of-memory split"]["figures"]["batches_tried"] == [4, 2, 2]
    assert checks["seed alone vs in batch"]["figures"]["max_difference_levels"] <= batches.SEED_MAX_LEVELS
    assert checks["pose"]["figures"]["source"] == MEDIAPIPE and checks["pose"]["figures"]["seconds_per_call"] > 0
    assert "not stored: mediapipe stand-in" in checks["pose"]["reason"]
    with Image.open(picture) as image:  # the example person, unpadded to its own aspect
        assert image.size == tuple(checks["example try-on"]["figures"]["size"]) and image.size[1] == CANVAS_HEIGHT


def test_a_stored_file_changed_since_it_was_saved_fails_the_run(tmp_path) -> None:
    from model_store_scripts.make_test_models import make_test_models

    with temporary_model_store(tmp_path / "bentoml"):
        make_test_models([FASHN_VTON_MODEL])
        config = Path(find_model(f"{FASHN_VTON_MODEL}:latest").path) / "transformer" / "config.json"
        config.write_text(config.read_text() + "\n")  # one byte more: still valid JSON, another sha256
        code, report = doctor(tmp_path, "--only", "models")

    assert code == cli.EXIT_FAILED and report["ok"] is False
    stored = by_name(report)["model fashn-vton"]
    assert stored["status"] == "fail" and stored["figures"]["files_changed"] == ["transformer/config.json"]
    assert "changed since saved: transformer/config.json" in stored["reason"]


def test_no_model_in_the_store_fails_the_run_and_names_the_import(tmp_path) -> None:
    with temporary_model_store(tmp_path / "bentoml"):
        code, report = doctor(tmp_path, "--only", "models", "sampling")

    assert code == cli.EXIT_FAILED
    checks = by_name(report)
    assert checks["model fashn-vton"]["status"] == "fail"
    assert "import_models.py fashn-vton" in checks["model fashn-vton"]["reason"]
    assert checks["model load"]["status"] == "fail"
    assert checks["sampling eager"]["status"] == "skipped" and "did not load" in checks["sampling eager"]["reason"]


def test_a_numerics_mismatch_fails_its_check() -> None:
    """The device's float32 output 1e-3 away from the CPU's (an injected mismatch): over the golden tolerance."""
    forward, sample = numerics.cpu_reference()

    matching = numerics.check_tiny_float32(torch.device("cpu"), (forward, sample))
    off = numerics.check_tiny_float32(torch.device("cpu"), (forward + 1e-3, sample))

    assert matching.status is Status.OK and matching.figures["forward_max_abs"] == 0
    assert off.status is Status.FAIL and off.figures["forward_max_abs"] == pytest.approx(1e-3, rel=1e-2)
    assert off.reason.startswith("cpu vs cpu: forward 1.0e-03 (<= 1e-04)")


def test_a_check_that_raises_is_a_failed_line_and_the_others_still_run(store, tmp_path, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("CUDA error: an illegal memory access was encountered\nmore lines")

    monkeypatch.setattr("tryon.doctor.run.check_seed_in_batch", broken)
    code, report = doctor(tmp_path, "--only", "seeds", "oom", "--steps", "1")

    assert code == cli.EXIT_FAILED
    checks = by_name(report)
    assert checks["seed alone vs in batch"].pop("seconds") >= 0
    assert checks["seed alone vs in batch"] == {
        "section": "seeds",
        "name": "seed alone vs in batch",
        "status": "fail",
        "reason": "RuntimeError: CUDA error: an illegal memory access was encountered",
        "figures": {},
    }
    assert checks["out-of-memory split"]["status"] == "ok"


# CUDA faked: what torch reports on an H100 host.
def fake_cuda(monkeypatch, *, total_memory: int = 80 * 2**30) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "NVIDIA H100 80GB HBM3")
    monkeypatch.setattr(
        torch.cuda, "get_device_properties", lambda index=0: SimpleNamespace(total_memory=total_memory, major=9, minor=0)
    )
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: 91002)
    monkeypatch.setattr(environment, "nvidia_driver_version", lambda: "570.124.06")


def test_on_a_gpu_host_the_environment_names_the_gpu_its_driver_and_its_peak(monkeypatch) -> None:
    fake_cuda(monkeypatch)
    check = environment.check_environment(torch.device("cuda"))

    assert check.status is Status.OK
    assert check.figures["gpu_name"] == "NVIDIA H100 80GB HBM3" and check.figures["driver"] == "570.124.06"
    assert check.figures["bf16_supported"] is True and check.figures["dense_bf16_peak_tflops"] == 989.0
    assert check.reason.endswith("NVIDIA H100 80GB HBM3 (80.0 GB), driver 570.124.06, bf16 yes")


def test_asking_for_cuda_on_a_host_without_it_fails(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    check = environment.check_environment(torch.device("cuda"))
    assert check.status is Status.FAIL and "--device cuda was asked for" in check.reason


@pytest.mark.parametrize(
    "name, tflops",
    [
        ("NVIDIA H100 80GB HBM3", 989.0),
        ("NVIDIA H100 PCIe", 756.0),
        ("NVIDIA A100-SXM4-80GB", 312.0),
        ("NVIDIA A10", 125.0),
        ("NVIDIA A10G", None),
        ("NVIDIA L4", 121.0),
        ("NVIDIA L40S", 362.0),
        ("NVIDIA GeForce RTX 4090", None),
    ],
)
def test_the_peak_table_knows_datacenter_gpus_by_name_and_no_other(name, tflops) -> None:
    assert environment.dense_bf16_peak_tflops(name) == tflops


class FakeCudaMemory:
    """A GPU whose allocator refuses what would go over ``set_per_process_memory_fraction``'s cap:
    ``weights`` bytes held, each sampled row needing ``per_row`` more at its peak."""

    def __init__(self, monkeypatch, *, total: int, weights: int, per_row: int) -> None:
        self.total, self.weights, self.per_row = total, weights, per_row
        self.fraction, self.peak, self.fractions = 1.0, weights, []
        for name, function in {
            "empty_cache": lambda: None,
            "memory_allocated": lambda device=None: self.weights,
            "reset_peak_memory_stats": lambda device=None: setattr(self, "peak", self.weights),
            "max_memory_allocated": lambda device=None: self.peak,
            "set_per_process_memory_fraction": self.set_fraction,
        }.items():
            monkeypatch.setattr(torch.cuda, name, function)

    def set_fraction(self, fraction: float, device=None) -> None:
        self.fraction = fraction
        self.fractions.append(round(fraction, 4))

    def sample_canvases(self, canvases, categories, seeds, num_steps):
        need = self.weights + len(canvases) * self.per_row
        if need > self.fraction * self.total:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB")
        self.peak = max(self.peak, need)
        return [np.zeros((CANVAS_HEIGHT, CANVAS_WIDTH, 3), np.uint8) for _ in canvases]


def test_under_a_cuda_memory_cap_a_batch_of_8_is_halved_and_completes(monkeypatch) -> None:
    fake_cuda(monkeypatch, total_memory=80 * 2**30)
    gpu = FakeCudaMemory(monkeypatch, total=80 * 2**30, weights=2 * 2**30, per_row=2**30)
    pipeline = SimpleNamespace(canvas_height=CANVAS_HEIGHT, canvas_width=CANVAS_WIDTH, sample_canvases=gpu.sample_canvases)

    check = batches.check_out_of_memory_split(pipeline, torch.device("cuda"), 8)

    # Cap: the weights and 4.5 rows (6.5 GiB of 80): 8 rows do not fit, 4 do.
    assert check.status is Status.OK, check.reason
    assert check.figures["batches_tried"] == [8, 4, 4] and check.figures["completed"] == 8
    assert gpu.fractions == [round(6.5 / 80, 4), 1.0]  # capped for the split, lifted after
    assert "under a cap of 8.1% of the GPU's memory" in check.reason


def test_a_cap_that_never_runs_out_of_memory_is_a_warning_not_a_pass(monkeypatch) -> None:
    fake_cuda(monkeypatch)
    gpu = FakeCudaMemory(monkeypatch, total=80 * 2**30, weights=2 * 2**30, per_row=0)
    pipeline = SimpleNamespace(canvas_height=CANVAS_HEIGHT, canvas_width=CANVAS_WIDTH, sample_canvases=gpu.sample_canvases)

    check = batches.check_out_of_memory_split(pipeline, torch.device("cuda"), 4)

    assert check.status is Status.WARN and "nothing was split" in check.reason


def test_dwpose_stored_reports_its_sessions_providers_and_warns_on_the_cpu_of_a_gpu_host(tmp_path) -> None:
    import onnx

    from tests.vision.test_dwpose import tiny_detector, tiny_pose_model
    from tryon.vision.dwpose import DETECTOR_FILE, POSE_MODEL_FILE

    onnx.save(tiny_detector(), tmp_path / DETECTOR_FILE)
    onnx.save(tiny_pose_model(), tmp_path / POSE_MODEL_FILE)
    photo = np.random.default_rng(0).integers(0, 256, (864, 576, 3), dtype=np.uint8)
    source = open_pose_source(tmp_path, cuda_host=False)
    on_cpu_host = example_tryon.check_pose(source, photo, real_model=True)
    on_gpu_host = example_tryon.check_pose(open_pose_source(tmp_path, cuda_host=True), photo, real_model=True)

    assert source.name == "dwpose" and source.providers == (("CPUExecutionProvider",),) * 2  # onnxruntime's CPU build
    assert on_cpu_host.status is Status.OK and on_cpu_host.reason.startswith("DWPose on CPUExecutionProvider, ")
    assert on_cpu_host.figures["seconds_per_call"] > 0 and on_cpu_host.figures["body_points_seen"] == 18
    assert on_gpu_host.status is Status.WARN and "on the CPU of a GPU host" in on_gpu_host.reason


def test_without_dwpose_a_real_model_warns_that_mediapipe_stands_in(tmp_path) -> None:
    source = PoseSource(MEDIAPIPE, lambda image: Keypoints.none_seen(), lambda image: False)
    photo = np.zeros((64, 64, 3), np.uint8)

    assert example_tryon.check_pose(source, photo, real_model=False).status is Status.OK
    real = example_tryon.check_pose(source, photo, real_model=True)
    assert real.status is Status.WARN and real.reason.startswith("DWPose not stored: mediapipe stand-in, ")
