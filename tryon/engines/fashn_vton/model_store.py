"""FASHN VTON in the model store: its name, how it is imported (hub or a local folder), faked and loaded.

One stored model, ``fashn-vton``, holds what the runner needs, so one import command and one version
cover it:

- ``transformer/``: the try-on MMDiT in diffusers' format (``save_pretrained``: config.json and
  safetensors), converted from the published ``model.safetensors`` through the key map;
- ``dwpose/`` (optional): ``yolox_l.onnx`` and ``dw-ll_ucoco_384.onnx``, the DWPose keypoint models
  the try-on model was trained with. Without them the runner uses mediapipe's keypoints.

The DWPose files live in the same stored model, not in one of their own, because the keypoints the
try-on model expects are part of the model: they are imported, versioned and shipped together.

From the hub, each source's revision is resolved to its commit (by default the pinned commits
below), every file is downloaded at that commit and its sha256 compared, before anything is saved,
with the hash this module ships for that commit (``SHIPPED_SHA256``) or else the hub's Git LFS hash
for the file at that commit: a file that differs is refused by name (``ChecksumMismatchError``). Before
anything is converted, every tensor name and shape of the checkpoint (read from the safetensors
header alone) is checked against ``full_size_manifest.json``, shipped in this package: a missing,
extra or mis-shaped tensor is refused by name.
"""

from __future__ import annotations

import json
import logging
import shutil
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...models.store import TEST_SOURCE, ModelSource, StoredModel, model_labels, resolve_source
from ...models.store import file_sha256, save_to_store, source_metadata
from ...vision.dwpose import DETECTOR_FILE, POSE_MODEL_FILE

log = logging.getLogger("tryon.models")

if TYPE_CHECKING:
    from argparse import ArgumentParser, Namespace

    from .transformer import FashnVtonTransformer

FASHN_VTON_MODEL = "fashn-vton"
LICENSE = "apache-2.0"
CHECKPOINT_FILE = "model.safetensors"
TRANSFORMER_FOLDER = "transformer"
DWPOSE_FOLDER = "dwpose"
DWPOSE_FILES = (DETECTOR_FILE, POSE_MODEL_FILE)
MANIFEST = Path(__file__).with_name("full_size_manifest.json")
MAX_HEADER_BYTES = 100 * 1024 * 1024

# The tiny model of the golden pipeline-tiny case: the full 864x576 canvas, patch 48; fast on CPU.
TEST_MODEL_CONFIG = {
    "input_shape": (864, 576),
    "hidden_size": 32,
    "n_heads": 1,
    "double_blocks_depth": 1,
    "single_blocks_depth": 1,
    "patch_size": 48,
    "axes_dim": (8, 12, 12),
    "patch_mixer_depth": 1,
}


COMMIT = re.compile(r"[0-9a-f]{40}")

# The published weights the service was checked against: the hub commits the import defaults to,
# and the sha256 of each file at those commits (the same as the hub's LFS hashes for them).
FASHN_VTON_COMMIT = "7720683168567eb5a2a4c67f15116c6e29c83ded"
DWPOSE_COMMIT = "548b5df25b84d9f4aac0611dfa1c2a7a12f15571"
SHIPPED_SHA256: dict[tuple[str, str], dict[str, str]] = {
    ("fashn-ai/fashn-vton-1.5", FASHN_VTON_COMMIT): {
        "model.safetensors": "d6cd38286885bc29fa487ea9383f80ffeb95862e7747c630d42c5d3c05bdd35a",
    },
    ("fashn-ai/DWPose", DWPOSE_COMMIT): {
        "yolox_l.onnx": "7860ae79de6c89a3c1eb72ae9a2756c0ccfbe04b7791bb5880afabd97855a411",
        "dw-ll_ucoco_384.onnx": "724f4ff2439ed61afb86fb8a1951ec39c6220682803b4a8bd4f598cd913b1843",
    },
}

Download = Callable[[str, str, str], Path]  # (repo, filename, commit) -> local path
FileHashes = Callable[[str, str, Sequence[str]], dict[str, str]]  # (repo, commit, filenames) -> {filename: sha256}


class CheckpointFileError(ValueError):
    """The file given as the checkpoint is not a safetensors file."""


class ChecksumMismatchError(ValueError):
    """A downloaded file is not the one its source records for the commit: refused, naming the file."""


def safetensors_header(path: str | Path) -> tuple[dict[str, dict], int]:
    """({tensor name: {"dtype", "shape", "data_offsets"}}, where the data starts) of a ``.safetensors`` file.

    The format: an 8-byte little-endian header length, then a JSON header naming each tensor's dtype,
    shape and offsets (from the end of the header).
    """
    with open(path, "rb") as file:
        length = int.from_bytes(file.read(8), "little")
        if not 0 < length <= MAX_HEADER_BYTES:
            raise CheckpointFileError(f"{path} is not a safetensors file (header length {length})")
        try:
            header = json.loads(file.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CheckpointFileError(f"{path} is not a safetensors file ({error})") from None
    return {name: entry for name, entry in header.items() if name != "__metadata__"}, 8 + length


def safetensors_shapes(path: str | Path) -> dict[str, list[int]]:
    """{tensor name: shape} of a ``.safetensors`` file, read from its header alone (no tensor is loaded)."""
    return {name: entry["shape"] for name, entry in safetensors_header(path)[0].items()}


def expected_shapes(config: Mapping | None = None) -> dict[str, list[int]]:
    """{reference tensor name: shape} a checkpoint must hold: the shipped manifest (full size), or
    those of a model of ``config`` (built on the meta device)."""
    if config is None:
        return json.loads(MANIFEST.read_text())["tensors"]
    import torch

    from .checkpoint import reference_shapes
    from .transformer import FashnVtonTransformer

    with torch.device("meta"):
        return {name: list(shape) for name, shape in reference_shapes(FashnVtonTransformer(**config)).items()}


def check_checkpoint(path: str | Path, config: Mapping | None = None) -> None:
    """Refuse a checkpoint whose tensors are not the model's (``CheckpointMismatchError`` names each)."""
    from .checkpoint import validate_tensor_shapes

    validate_tensor_shapes(safetensors_shapes(path), expected_shapes(config))


def hub_download(repo: str, filename: str, commit: str) -> Path:
    """``filename`` of hub model ``repo`` at ``commit``, through the Hugging Face cache."""
    from huggingface_hub import hf_hub_download

    return Path(hf_hub_download(repo_id=repo, filename=filename, revision=commit))


def hub_lfs_sha256(repo: str, commit: str, filenames: Sequence[str]) -> dict[str, str]:
    """{filename: sha256} the hub records for ``filenames`` of ``repo`` at ``commit`` (their Git LFS
    hashes; ``ChecksumMismatchError`` for a file the hub holds no such hash for)."""
    from huggingface_hub import HfApi

    infos = HfApi().get_paths_info(repo, list(filenames), revision=commit)
    hashes = {info.path: info.lfs.sha256 for info in infos if getattr(info, "lfs", None)}
    unhashed = [name for name in filenames if name not in hashes]
    if unhashed:
        raise ChecksumMismatchError(
            f"{repo}@{commit}: the hub records no LFS sha256 for {', '.join(unhashed)}: nothing to verify it against"
        )
    return hashes


def download_verified(
    source: ModelSource, filenames: Sequence[str], *, download: Download = hub_download, file_hashes: FileHashes = hub_lfs_sha256
) -> list[Path]:
    """Each of ``filenames`` of ``source`` at ``source.commit``, its sha256 checked against the hash
    shipped for that commit (``SHIPPED_SHA256``) or else the hub's (``file_hashes``);
    ``ChecksumMismatchError`` names the first file that differs.

    Nothing is saved here: callers save only what this returns.
    """
    if not source.commit or not COMMIT.fullmatch(source.commit):
        raise ValueError(f"{source.repo}: revision {source.revision!r} is not resolved to a commit ({source.commit!r})")
    shipped = SHIPPED_SHA256.get((source.repo, source.commit))
    expected, recorder = (shipped, "this service ships") if shipped else (file_hashes(source.repo, source.commit, filenames), "the hub records")
    paths = []
    for name in filenames:
        path = download(source.repo, name, source.commit)
        found = file_sha256(path)
        if found != expected[name].lower():
            raise ChecksumMismatchError(
                f"{source.repo}@{source.commit}: {name} has sha256 {found}, but {recorder} "
                f"{expected[name]} for it at that commit: a corrupted or substituted download, not "
                "imported (delete it from the Hugging Face cache and import again)"
            )
        paths.append(path)
    return paths


def import_from_hub(
    model_source: ModelSource,
    dwpose_source: ModelSource,
    *,
    config: Mapping | None = None,
    download: Download = hub_download,
    file_hashes: FileHashes = hub_lfs_sha256,
) -> Any:
    """Download the checkpoint and the DWPose files at their sources' commits, verified
    (``download_verified``), and import them (``import_checkpoint``); returns the stored model."""
    (checkpoint,) = download_verified(model_source, [CHECKPOINT_FILE], download=download, file_hashes=file_hashes)
    dwpose = download_verified(dwpose_source, DWPOSE_FILES, download=download, file_hashes=file_hashes)
    return import_checkpoint(checkpoint, source=model_source, dwpose_files=dwpose, config=config)


def save_fashn_vton(
    transformer: "FashnVtonTransformer",
    *,
    source: ModelSource,
    dwpose_files: Sequence[Path] = (),
    checkpoint_sha256: str | None = None,
    test_model: bool = False,
) -> Any:
    """Save the transformer (diffusers' format) and the DWPose files into the store as ``fashn-vton``."""

    def write(folder: Path) -> None:
        transformer.save_pretrained(folder / TRANSFORMER_FOLDER, safe_serialization=True)
        if dwpose_files:
            (folder / DWPOSE_FOLDER).mkdir()
            for file in dwpose_files:
                shutil.copyfile(file, folder / DWPOSE_FOLDER / file.name)

    labels = model_labels(task="virtual-try-on", framework="diffusers", source=source, test_model=test_model)
    labels.update(source=source.repo, revision=source.commit or source.revision)
    if checkpoint_sha256:
        labels["sha256"] = checkpoint_sha256
    metadata = {
        "source": source_metadata(source),
        "config": {key: value for key, value in transformer.config.items() if not key.startswith("_")},
        "pose_source": "dwpose" if dwpose_files else "mediapipe",
    }
    return save_to_store(FASHN_VTON_MODEL, write, labels=labels, metadata=metadata)


def import_checkpoint(
    checkpoint: Path,
    *,
    source: ModelSource,
    dwpose_files: Sequence[Path] = (),
    config: Mapping | None = None,
) -> Any:
    """Check the reference-named ``checkpoint`` against the manifest (or ``config``'s shapes), convert it
    through the key map and save it with the DWPose files; returns the stored model."""
    from .checkpoint import load_reference_checkpoint

    check_checkpoint(checkpoint, config)
    transformer = load_reference_checkpoint(checkpoint, config)
    return save_fashn_vton(
        transformer, source=source, dwpose_files=dwpose_files, checkpoint_sha256=file_sha256(checkpoint)
    )


def import_from_directory(directory: Path, *, license_id: str = LICENSE, config: Mapping | None = None) -> Any:
    """Import ``directory``/model.safetensors and, when both are there, ``directory``/dwpose/*.onnx."""
    checkpoint = directory / CHECKPOINT_FILE
    if not checkpoint.is_file():
        raise FileNotFoundError(f"{checkpoint} not found: --from needs a folder holding {CHECKPOINT_FILE}")
    dwpose = [directory / DWPOSE_FOLDER / name for name in DWPOSE_FILES]
    found = [file for file in dwpose if file.is_file()]
    if found and len(found) != len(dwpose):
        raise FileNotFoundError(f"{directory / DWPOSE_FOLDER} must hold both {' and '.join(DWPOSE_FILES)}, or neither")
    source = ModelSource(repo=f"local folder {directory.resolve()}", revision="local", license=license_id)
    return import_checkpoint(checkpoint, source=source, dwpose_files=found, config=config)


def tiny_transformer(seed: int = 0) -> "FashnVtonTransformer":
    """A randomly initialised transformer of ``TEST_MODEL_CONFIG``, in float32."""
    import torch

    from .transformer import FashnVtonTransformer

    torch.manual_seed(seed)
    return FashnVtonTransformer(**TEST_MODEL_CONFIG).eval()


class FashnVtonModel(StoredModel):
    """FASHN VTON v1.5 from the Hugging Face hub at a pinned revision (``--fashn-vton-revision``, and
    DWPose's ``--dwpose-revision``), or from a local folder (``--from DIR``); or a tiny random one."""

    name = FASHN_VTON_MODEL
    summary = "FASHN VTON v1.5 try-on MMDiT (diffusers format) + DWPose ONNX keypoint models"
    option_prefix = "fashn-vton"
    default_source = ModelSource("fashn-ai/fashn-vton-1.5", FASHN_VTON_COMMIT, LICENSE)
    dwpose_source = ModelSource("fashn-ai/DWPose", DWPOSE_COMMIT, LICENSE)

    def add_import_options(self, parser: "ArgumentParser") -> Any:
        group = super().add_import_options(parser)
        group.add_argument(
            "--from",
            dest="fashn_vton_from",
            type=Path,
            metavar="DIR",
            help=f"import from a local folder holding {CHECKPOINT_FILE} (and optionally dwpose/*.onnx), not the hub",
        )
        group.add_argument("--dwpose-repo", default=self.dwpose_source.repo)
        group.add_argument("--dwpose-revision", default=self.dwpose_source.revision, help="branch, tag or commit (pin one)")
        return group

    def sources(self, options: "Namespace") -> list[ModelSource]:
        if options.fashn_vton_from is not None:
            return [ModelSource(f"local folder {options.fashn_vton_from}", "local", options.fashn_vton_license)]
        dwpose = ModelSource(options.dwpose_repo, options.dwpose_revision, self.dwpose_source.license)
        return [*super().sources(options), dwpose]

    def import_model(self, options: "Namespace") -> Any:
        if options.fashn_vton_from is not None:
            return import_from_directory(options.fashn_vton_from, license_id=options.fashn_vton_license)
        return self._import_from_hub(options)

    def _import_from_hub(self, options: "Namespace") -> Any:
        model_source, dwpose_source = (resolve_source(source) for source in self.sources(options))
        for source in (model_source, dwpose_source):
            if not COMMIT.fullmatch(source.revision):
                log.warning(
                    "%s: revision %r is not a commit; importing its current commit %s (pin it with that hash)",
                    source.repo, source.revision, source.commit,
                )
        return import_from_hub(model_source, dwpose_source)

    def make_test_model(self, options: "Namespace") -> Any:
        return save_fashn_vton(tiny_transformer(), source=TEST_SOURCE, test_model=True)


FASHN_VTON_RECIPE = FashnVtonModel()
