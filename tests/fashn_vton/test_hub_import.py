"""The hub import, with the hub faked (files in a folder, a fake metadata function; no network): each file
at the resolved commit, its sha256 checked against the hub's before anything is saved."""

from __future__ import annotations

import shutil
from pathlib import Path

import bentoml
import pytest

from tests.models.conftest import temporary_model_store
from tryon.engines.fashn_vton.model_store import (
    CHECKPOINT_FILE,
    DWPOSE_FILES,
    FASHN_VTON_MODEL,
    SHIPPED_SHA256,
    ChecksumMismatchError,
    FashnVtonModel,
    file_sha256,
    import_from_hub,
)
from tryon.models.store import ModelSource, find_model

from .golden_models import MMDIT_TINY, case_config

TINY_CONFIG = case_config(MMDIT_TINY)["model"]
MODEL_COMMIT, DWPOSE_COMMIT = "a" * 40, "b" * 40
MODEL = ModelSource("fashn-ai/fashn-vton-1.5", "main", "apache-2.0", commit=MODEL_COMMIT)
DWPOSE = ModelSource("fashn-ai/DWPose", "main", "apache-2.0", commit=DWPOSE_COMMIT)


class FakeHub:
    """Files of each (repo, commit) in a folder; ``recorded`` overrides the sha256 the hub reports."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.recorded: dict[str, str] = {}
        self.downloads: list[tuple[str, str, str]] = []

    def add(self, source: ModelSource, name: str, content: bytes | Path) -> None:
        path = self.root / source.repo / source.commit / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copyfile(content, path)
        else:
            path.write_bytes(content)

    def download(self, repo: str, filename: str, commit: str) -> Path:
        self.downloads.append((repo, filename, commit))
        return self.root / repo / commit / filename

    def file_hashes(self, repo: str, commit: str, filenames) -> dict[str, str]:
        return {name: self.recorded.get(name) or file_sha256(self.root / repo / commit / name) for name in filenames}


@pytest.fixture()
def hub(tmp_path) -> FakeHub:
    hub = FakeHub(tmp_path / "hub")
    hub.add(MODEL, CHECKPOINT_FILE, MMDIT_TINY / "weights.safetensors")
    for name in DWPOSE_FILES:
        hub.add(DWPOSE, name, f"{name} bytes".encode())
    return hub


def test_files_whose_sha256_matches_the_hub_are_imported_at_the_commit(hub, tmp_path) -> None:
    with temporary_model_store(tmp_path / "bentoml"):
        stored = import_from_hub(MODEL, DWPOSE, config=TINY_CONFIG, download=hub.download, file_hashes=hub.file_hashes)
        labels = stored.info.labels

    assert labels["revision"] == MODEL_COMMIT and labels["sha256"] == file_sha256(MMDIT_TINY / "weights.safetensors")
    assert stored.info.metadata["pose_source"] == "dwpose"
    assert {(repo, commit) for repo, _, commit in hub.downloads} == {(MODEL.repo, MODEL_COMMIT), (DWPOSE.repo, DWPOSE_COMMIT)}


@pytest.mark.parametrize("name", [CHECKPOINT_FILE, DWPOSE_FILES[0], DWPOSE_FILES[1]])
def test_a_file_that_differs_from_the_hubs_hash_is_refused_by_name_and_nothing_is_saved(hub, tmp_path, name) -> None:
    hub.recorded[name] = "0" * 64
    with temporary_model_store(tmp_path / "bentoml"):
        with pytest.raises(ChecksumMismatchError) as refused:
            import_from_hub(MODEL, DWPOSE, config=TINY_CONFIG, download=hub.download, file_hashes=hub.file_hashes)
        assert find_model(f"{FASHN_VTON_MODEL}:latest") is None
        assert not bentoml.models.list()

    message = str(refused.value)
    assert f": {name} has sha256 " in message and f"the hub records {'0' * 64}" in message
    assert "not imported" in message


def test_a_revision_not_resolved_to_a_commit_is_refused(hub) -> None:
    unresolved = ModelSource(MODEL.repo, "main", "apache-2.0")
    with pytest.raises(ValueError, match="revision 'main' is not resolved to a commit"):
        import_from_hub(unresolved, DWPOSE, config=TINY_CONFIG, download=hub.download, file_hashes=hub.file_hashes)
    assert not hub.downloads


def test_the_default_sources_are_pinned_commits_whose_files_the_project_ships_hashes_for() -> None:
    from tryon.models.garment_masker_store import GARMENT_MASKER

    pinned = (FashnVtonModel.default_source, FashnVtonModel.dwpose_source, GARMENT_MASKER.default_source)
    assert all(len(source.revision) == 40 and int(source.revision, 16) >= 0 for source in pinned)
    assert set(SHIPPED_SHA256[(MODEL.repo, FashnVtonModel.default_source.revision)]) == {CHECKPOINT_FILE}
    assert set(SHIPPED_SHA256[(DWPOSE.repo, FashnVtonModel.dwpose_source.revision)]) == set(DWPOSE_FILES)


def test_at_a_pinned_commit_the_shipped_hash_decides_even_when_the_hub_agrees_with_the_file(hub, tmp_path) -> None:
    pinned = ModelSource(MODEL.repo, "main", "apache-2.0", commit=FashnVtonModel.default_source.revision)
    hub.add(pinned, CHECKPOINT_FILE, MMDIT_TINY / "weights.safetensors")  # not the published checkpoint
    with temporary_model_store(tmp_path / "bentoml"):
        with pytest.raises(ChecksumMismatchError) as refused:
            import_from_hub(pinned, DWPOSE, config=TINY_CONFIG, download=hub.download, file_hashes=hub.file_hashes)
        assert not bentoml.models.list()

    shipped = SHIPPED_SHA256[(MODEL.repo, pinned.commit)][CHECKPOINT_FILE]
    assert f": {CHECKPOINT_FILE} has sha256 " in str(refused.value) and f"this service ships {shipped}" in str(refused.value)
