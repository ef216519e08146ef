"""A real ``bentoml serve`` of the service on a free loopback port, driven over HTTP."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from .served import ServedService

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
def service(tmp_path_factory: pytest.TempPathFactory):
    served = ServedService(tmp_path_factory.mktemp("served")).start()
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
