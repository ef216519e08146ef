"""Fixtures for the pipeline tests: the shared photos as RGB arrays, and the real person analyzer."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import DATA_DIR
from tryon.engines.classical.pipeline.types import BodyPose
from tryon.engines.classical.analyzer import CanvasPersonAnalyzer, local_person_analyzer

PERSONS = ("studio_man_hoodie.png", "studio_woman_jacket.png", "indoor_man_sweater.jpg")
UPPER_GARMENTS = ("shirt_oxford_blue.jpg", "tshirt_white.jpg", "sweatshirt_grey.jpg")


def load_rgb(path: Path) -> np.ndarray:
    """``HxWx3`` uint8 RGB pixels of an image file."""
    assert path.is_file(), f"test photo not found: {path} (set TRYON_TEST_DATA)"
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="session")
def persons() -> dict[str, np.ndarray]:
    return {name: load_rgb(DATA_DIR / "persons" / name) for name in PERSONS}


@pytest.fixture(scope="session")
def garments() -> dict[str, np.ndarray]:
    return {name: load_rgb(DATA_DIR / "garments" / name) for name in UPPER_GARMENTS}


@pytest.fixture(scope="session")
def jeans() -> np.ndarray:
    return load_rgb(DATA_DIR / "garments" / "jeans_blue.jpg")


@pytest.fixture(scope="session")
def analyzer() -> CanvasPersonAnalyzer:
    return local_person_analyzer()


@pytest.fixture(scope="session")
def poses(persons: dict[str, np.ndarray], analyzer: CanvasPersonAnalyzer) -> dict[str, BodyPose]:
    found = {name: analyzer.estimate_pose(image) for name, image in persons.items()}
    assert all(pose is not None for pose in found.values())
    return found


@pytest.fixture(scope="session")
def silhouettes(persons: dict[str, np.ndarray], analyzer: CanvasPersonAnalyzer) -> dict[str, np.ndarray]:
    return {name: analyzer.segment_person(image) > 0.5 for name, image in persons.items()}
