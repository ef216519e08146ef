"""The models in the BentoML model store: tag, licence, test or real, and whether their files still
match the sha256 recorded when they were saved."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..models.store import FILES_SHA256, TEST_MODEL_LABEL, file_sha256, find_model
from .report import Check, Status


def changed_files(folder: Path, recorded: dict[str, str]) -> list[str]:
    """The recorded files under ``folder`` that are missing or whose sha256 differs, as relative paths."""
    return [
        name for name, digest in recorded.items()
        if not (folder / name).is_file() or file_sha256(folder / name) != digest
    ]


def check_stored_model(name: str, *, required: bool) -> Check:
    """One stored model (``name:latest``): fails when a file changed since it was saved, or when
    ``required`` and it is not stored; warns when no checksums were recorded (saved by an older import)."""
    check_name = f"model {name}"
    model = find_model(f"{name}:latest")
    if model is None:
        status = Status.FAIL if required else Status.SKIPPED
        return Check(check_name, status, f"not in the model store (python model_store_scripts/import_models.py {name})")
    labels: dict[str, Any] = dict(model.info.labels)
    figures: dict[str, Any] = {
        "tag": str(model.tag),
        "license": labels.get("license"),
        "test_model": labels.get(TEST_MODEL_LABEL) == "true",
        "sha256_labels": {key: value for key, value in labels.items() if "sha256" in key},
        "path": str(model.path),
    }
    kind = "test model (random weights)" if figures["test_model"] else "real weights"
    described = f"{model.tag}, licence {figures['license'] or 'not labelled'}, {kind}"
    recorded = model.info.metadata.get(FILES_SHA256)
    if not recorded:
        return Check(check_name, Status.WARN, f"{described}; no file checksums recorded (saved before they were): re-import to record them", figures)
    started = time.perf_counter()
    changed = changed_files(Path(model.path), recorded)
    figures.update(files_checked=len(recorded), files_changed=changed, hash_seconds=round(time.perf_counter() - started, 2))
    if changed:
        return Check(check_name, Status.FAIL, f"{described}; changed since saved: {', '.join(changed)} (re-import it)", figures)
    if not figures["license"]:
        return Check(check_name, Status.WARN, f"{described}; {len(recorded)} files match their sha256, but no licence label", figures)
    return Check(check_name, Status.OK, f"{described}; {len(recorded)} files match their sha256", figures)
