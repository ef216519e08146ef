"""A real ``bentoml serve`` of the service on a free loopback port, driven over HTTP."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from .served import FASHN_SETTINGS, GUARDED_KEY, GUARDED_MAX_QUEUE, ServedService, make_test_models

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# From ../shared/platform-notes.md. Playwright adds --headless and --no-sandbox itself and keeps its
# own temporary profile (it refuses --user-data-dir here).
CHROMIUM_FLAGS = [
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def fashn_service(tmp_path_factory: pytest.TempPathFactory):
    """The FASHN engine served on the test models (its transformer and the garment masker) with
    ``FASHN_SETTINGS``: shared by every module that tests that engine with no other setting."""
    server = ServedService(tmp_path_factory.mktemp("fashn"), **FASHN_SETTINGS)
    make_test_models(server, "fashn-vton", "tryon-garment-masker")
    yield server.start(timeout=240)
    server.stop()


@pytest.fixture(scope="session")
def guarded_service(tmp_path_factory: pytest.TempPathFactory):
    """A server with an API key, a short queue and one worker: shared by the key and limit tests."""
    served = ServedService(
        tmp_path_factory.mktemp("served-guarded"),
        TRYON_API_KEY=GUARDED_KEY,
        TRYON_MAX_QUEUE=str(GUARDED_MAX_QUEUE),
        TRYON_WORKERS="1",
    ).start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright (never a browser Playwright downloads)."""
    assert Path(CHROMIUM).exists(), "Chromium is missing: apt-get install -y chromium chromium-driver"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()
