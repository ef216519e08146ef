"""``tryon doctor``'s steps, in order; each check is a named function returning a ``Check``."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import torch

from ..engines.fashn_vton.inputs import PRE_RESIZE_SIDE
from ..engines.fashn_vton.model_store import DWPOSE_FOLDER, FASHN_VTON_MODEL, TRANSFORMER_FOLDER
from ..engines.fashn_vton.pipeline import FashnVtonPipeline
from ..engines.fashn_vton.pose_source import PoseSource, open_pose_source
from ..engines.fashn_vton.transformer import inference_dtype
from ..vision.canvas import pre_resize
from ..engines.registry import stored_models
from ..models.store import find_model, is_test_model
from . import numerics
from .batches import check_out_of_memory_split, check_seed_in_batch
from .environment import check_environment, dense_bf16_peak_tflops
from .example_tryon import check_example_tryon, check_pose, read_photo
from .report import SECTIONS, Check, Report, Status
from .sampling_speed import JOB_STEPS, SpeedRow, format_row, measure_speed
from .stored_models import check_stored_model

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


# The sections that run the stored model, and the check that stands for each when it cannot load.
MODEL_SECTIONS = {
    "numerics": "stored bfloat16",
    "sampling": "sampling eager",
    "oom": "out-of-memory split",
    "seeds": "seed alone vs in batch",
    "pose": "pose",
    "tryon": "example try-on",
}


@dataclass(frozen=True)
class DoctorOptions:
    """What to check and how hard. ``batches`` and ``steps`` (timed guided steps per batch size, and
    the try-on's and seed check's denoising steps); ``sections``: a subset of ``SECTIONS``."""

    device: torch.device
    batches: tuple[int, ...]
    steps: int
    output: Path
    person: Path = EXAMPLES / "person.jpg"
    garment: Path = EXAMPLES / "shirt.jpg"
    compile: bool = False
    sections: tuple[str, ...] = SECTIONS
    attention: str = "auto"


def default_options(device: str | None = None, **overrides) -> DoctorOptions:
    """GPU hosts: 30 steps, batches 1 4 8; the CPU (test models): 1 step, batches 1 4."""
    from ..settings import ModelSettings

    resolved = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    gpu = resolved.type == "cuda"
    values = {
        "batches": (1, 4, 8) if gpu else (1, 4),
        "steps": JOB_STEPS if gpu else 1,
        "output": Path("tryon-doctor.png"),
        "attention": ModelSettings().fashn_attention,  # TRYON_FASHN_ATTENTION, as the runner samples
    }
    values.update({key: value for key, value in overrides.items() if value is not None})
    return DoctorOptions(device=resolved, **values)


def options_json(options: DoctorOptions) -> dict:
    return {key: str(value) if isinstance(value, (Path, torch.device)) else value for key, value in asdict(options).items()}


@dataclass
class Loaded:
    """The stored model on the serving device in its serving dtype, and what samples with it."""

    folder: Path
    test_model: bool
    pipeline: FashnVtonPipeline
    sampling_context: Callable[[], AbstractContextManager] = nullcontext
    pose: PoseSource | None = None


@dataclass
class Doctor:
    """Runs the checks of ``options`` in order, handing each to ``on_check`` as it completes."""

    options: DoctorOptions
    on_check: Callable[[Check], None] = lambda check: None
    checks: list[Check] = field(default_factory=list)

    def run(self) -> Report:
        started, started_at = time.perf_counter(), datetime.now(timezone.utc).isoformat(timespec="seconds")
        options, wanted = self.options, set(self.options.sections)
        if "environment" in wanted:
            self.record("environment", "environment", lambda: check_environment(options.device))
        if "models" in wanted:
            for model in stored_models():
                self.record("models", f"model {model.name}", lambda name=model.name: check_stored_model(name, required=name == FASHN_VTON_MODEL))
        if "numerics" in wanted:
            self.numerics()
        needing_model = [section for section in MODEL_SECTIONS if section in wanted]
        loaded = self.load() if needing_model else None
        if loaded is not None:
            self.with_model(loaded, wanted)
        else:
            for section in needing_model:
                self.skip(section, MODEL_SECTIONS[section], "the stored model did not load (see model load)")
        return Report(tuple(self.checks), time.perf_counter() - started, started_at, options_json(options))

    def record(self, section: str, name: str, check: Callable[[], Check]) -> None:
        """Run ``check`` (of ``section``); an error it raises becomes a failed check named ``name`` with the error's line."""
        started = time.perf_counter()
        try:
            result = check()
        except Exception as error:  # a check that crashes is a finding, not the end of the report
            traceback.print_exc()
            result = Check(name, Status.FAIL, f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
        result = replace(result, section=section, seconds=time.perf_counter() - started)
        self.checks.append(result)
        self.on_check(result)

    def skip(self, section: str, name: str, reason: str) -> None:
        self.record(section, name, lambda: Check(name, Status.SKIPPED, reason))

    def numerics(self) -> None:
        """The tiny model on the device against the CPU in float32, then in bfloat16."""
        device = self.options.device
        self.record("numerics", "tiny float32", lambda: numerics.check_tiny_float32(device, numerics.cpu_reference()))
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            self.skip("numerics", "tiny bfloat16", "this GPU has no bfloat16")
        else:
            self.record("numerics", "tiny bfloat16", lambda: numerics.check_tiny_bfloat16(device, numerics.cpu_reference()))

    def load(self) -> Loaded | None:
        """The stored model on the device, as the runner loads it; None (and a failed check) when it cannot be."""
        loaded: list[Loaded] = []

        def load_model() -> Check:
            from ..engines.fashn_vton.runner import attention_context, check_canvas

            stored = find_model(f"{FASHN_VTON_MODEL}:latest")
            if stored is None:
                return Check("model load", Status.FAIL, f"{FASHN_VTON_MODEL} is not in the model store: the model checks cannot run")
            device, dtype = self.options.device, inference_dtype(self.options.device)
            started = time.perf_counter()
            pipeline = FashnVtonPipeline.from_pretrained(Path(stored.path) / TRANSFORMER_FOLDER, device=device, dtype=dtype)
            check_canvas(pipeline)
            seconds = time.perf_counter() - started
            context = attention_context(self.options.attention, str(device), dtype)
            loaded.append(Loaded(Path(stored.path), is_test_model(stored), pipeline, context))
            name = str(dtype).removeprefix("torch.")
            figures = {"tag": str(stored.tag), "device": str(device), "dtype": name, "seconds": seconds, "attention": self.options.attention}
            note = "; a real model on the CPU: a job takes very long" if device.type == "cpu" and not is_test_model(stored) else ""
            status = Status.WARN if note else Status.OK
            return Check("model load", status, f"{stored.tag} on {device} in {name} in {seconds:.1f} s{note}", figures)

        self.record("models", "model load", load_model)
        return loaded[0] if loaded else None

    def with_model(self, loaded: Loaded, wanted: set[str]) -> None:
        options = self.options
        largest = max(options.batches)
        if "numerics" in wanted:
            self.record("numerics", "stored bfloat16", lambda: self.stored_bfloat16(loaded))
        if "sampling" in wanted:
            with loaded.sampling_context():
                self.record("sampling", "sampling eager", lambda: self.sampling(loaded.pipeline.transformer, "eager"))
                if options.compile:
                    self.record("sampling", "sampling compiled", lambda: self.sampling(torch.compile(loaded.pipeline.transformer), "compiled"))
        if "oom" in wanted:
            with loaded.sampling_context():
                self.record("oom", "out-of-memory split", lambda: check_out_of_memory_split(loaded.pipeline, options.device, max(largest, 2)))
        if "seeds" in wanted:
            with loaded.sampling_context():
                self.record("seeds", "seed alone vs in batch", lambda: check_seed_in_batch(loaded.pipeline, max(largest, 2), options.steps))
        if wanted & {"pose", "tryon"}:
            if not (options.person.is_file() and options.garment.is_file()):
                for section, name in (("pose", "pose"), ("tryon", "example try-on")):
                    self.skip(section, name, f"the example photos are missing ({options.person}, {options.garment}): --person / --garment")
                return
            self.record("pose", "pose", lambda: self.pose(loaded))
        if "tryon" in wanted and loaded.pose is None:
            self.skip("tryon", "example try-on", "no pose source opened (see pose)")
        elif "tryon" in wanted:
            with loaded.sampling_context():
                self.record(
                    "tryon",
                    "example try-on",
                    lambda: check_example_tryon(
                        loaded.pipeline, loaded.pose, options.person, options.garment, options.output, num_steps=options.steps
                    ),
                )

    def stored_bfloat16(self, loaded: Loaded) -> Check:
        """The stored model's other dtype loaded beside the serving one; one forward of each."""
        device = self.options.device
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            return Check("stored bfloat16", Status.SKIPPED, "this GPU has no bfloat16")
        serving = loaded.pipeline.transformer
        other_dtype = torch.float32 if serving.dtype == torch.bfloat16 else torch.bfloat16
        other = FashnVtonPipeline.from_pretrained(loaded.folder / TRANSFORMER_FOLDER, device=device, dtype=other_dtype).transformer
        pair = (serving, other) if serving.dtype == torch.float32 else (other, serving)
        try:
            return numerics.check_stored_bfloat16(*pair)
        finally:
            del other, pair
            if device.type == "cuda":
                torch.cuda.empty_cache()

    def sampling(self, transformer, mode: str) -> Check:
        """One ``SpeedRow`` per batch size; a batch that runs out of memory ends the rows with a warning."""
        options = self.options
        peak = dense_bf16_peak_tflops(torch.cuda.get_device_name(options.device)) if options.device.type == "cuda" else None
        rows: list[SpeedRow] = []
        failed = ""
        for batch in options.batches:
            try:
                rows.append(measure_speed(transformer, batch, steps=options.steps, warmup=2 if mode == "compiled" else 1, peak_tflops=peak))
            except torch.OutOfMemoryError:
                failed = f"; batch {batch} ran out of memory"
                if options.device.type == "cuda":
                    torch.cuda.empty_cache()
                break
        figures = {
            "mode": mode,
            "timed_steps": options.steps,
            "job_steps": JOB_STEPS,
            "dense_bf16_peak_tflops": peak if options.device.type == "cuda" else "n/a (CPU)",
            "rows": [row.as_json() for row in rows],
            "table": [format_row(row) for row in rows],
        }
        if not rows:
            return Check(f"sampling {mode}", Status.FAIL, f"no batch size sampled{failed}", figures)
        first = rows[0]
        share = f"{first.share_of_peak:.1%} of peak" if first.share_of_peak is not None else (
            "share of peak n/a (CPU)" if options.device.type == "cpu" else "share of peak unknown (GPU not in the table)"
        )
        memory = (
            f"peak {first.peak_allocated_gib:.2f} GiB allocated / {first.peak_reserved_gib:.2f} reserved"
            if first.peak_allocated_gib is not None else f"peak RSS {first.peak_rss_gib:.2f} GiB"
        )
        per_batch = ", ".join(f"b{row.batch} {row.seconds_per_job:.2f} s/job" for row in rows)
        compiling = f"; compiling took {rows[0].warmup_seconds:.0f} s (first steps)" if mode == "compiled" else ""
        reason = f"{per_batch} ({JOB_STEPS} steps); batch {first.batch}: {share}, {memory}{compiling}{failed}"
        return Check(f"sampling {mode}", Status.WARN if failed else Status.OK, reason, figures)

    def pose(self, loaded: Loaded) -> Check:
        loaded.pose = open_pose_source(loaded.folder / DWPOSE_FOLDER, cuda_host=torch.cuda.is_available())
        person = pre_resize(read_photo(self.options.person), PRE_RESIZE_SIDE)
        return check_pose(loaded.pose, person, real_model=not loaded.test_model)


def run_doctor(options: DoctorOptions, on_check: Callable[[Check], None] = lambda check: None) -> Report:
    """Every check of ``options``, in order; ``on_check`` sees each as it completes."""
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.set_verbosity_error()  # casting the tiny model to bfloat16 is meant
    return Doctor(options, on_check).run()
