"""The /demo page in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

The test picks the person photo, drops the garment photo, presses the button, waits for the result
image and downloads it. With ``TRYON_UPDATE_DOCS=1`` it also saves its screenshot to docs/demo.png
(the README's picture); otherwise the screenshot goes to the test's temporary folder.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "docs" / "demo.png"
STEPS = ["segmentation", "pose", "warp", "inpainting", "blend", "done"]

# Records every value the progress bar takes, from the moment the page loads.
RECORD_PROGRESS = """
window.progressSeen = [];
new MutationObserver(() => {
  const bar = document.getElementById('bar');
  window.progressSeen.push(Number(bar.getAttribute('aria-valuenow')));
}).observe(document.getElementById('bar'), {attributes: true, attributeFilter: ['aria-valuenow']});
"""

DROP_FILE = """
([name, type, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, {type}));
  return transfer;
}
"""


def test_demo_page_runs_a_try_on_and_shows_the_result(
    service, browser, data_dir: Path, tmp_path: Path
) -> None:
    person = data_dir / "persons" / "studio_man_hoodie.png"
    garment = data_dir / "garments" / "shirt_oxford_blue.jpg"
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))

    page.goto(f"{service.url}/demo")
    assert page.title().startswith("Virtual try-on")
    assert page.is_disabled("#submit")
    page.evaluate(RECORD_PROGRESS)

    # One photo picked with the file dialog's input, the other dropped onto its panel.
    page.set_input_files("#person-input", str(person))
    transfer = page.evaluate_handle(
        DROP_FILE, [garment.name, "image/jpeg", base64.b64encode(garment.read_bytes()).decode()]
    )
    page.dispatch_event("#garment-drop", "drop", {"dataTransfer": transfer})
    page.wait_for_function("document.getElementById('person-preview').naturalWidth > 0")
    page.wait_for_function("document.getElementById('garment-preview').naturalWidth > 0")
    assert page.is_enabled("#submit")

    page.click("#submit")
    page.wait_for_selector("body[data-state='completed']", timeout=90_000)

    width, height = page.eval_on_selector("#result-image", "img => [img.naturalWidth, img.naturalHeight]")
    assert width > 0
    with Image.open(person) as original:
        assert (width, height) == original.size
    assert page.get_attribute("#bar", "aria-valuenow") == "100"
    progress = page.evaluate("window.progressSeen")
    assert progress == sorted(progress) and progress[-1] == 100, progress
    passed = page.eval_on_selector_all("#steps li.passed", "items => items.map(i => i.dataset.step)")
    assert passed == STEPS
    job_id = page.evaluate("document.body.dataset.jobId")
    assert job_id in page.inner_text("#status")

    # The download link saves the same PNG.
    with page.expect_download() as download_info:
        page.click("#download")
    download = download_info.value
    assert download.suggested_filename == f"tryon-{job_id}.png"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    with Image.open(saved) as result:
        assert result.format == "PNG" and result.size == (width, height)

    screenshot = SCREENSHOT if os.environ.get("TRYON_UPDATE_DOCS") == "1" else tmp_path / "demo.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 0
    assert errors == []
    context.close()


def test_demo_page_asks_for_the_chosen_format_and_downloads_it(service, browser, data_dir: Path, tmp_path: Path) -> None:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.goto(f"{service.url}/demo")
    page.set_input_files("#person-input", str(data_dir / "persons" / "studio_man_hoodie.png"))
    page.set_input_files("#garment-input", str(data_dir / "garments" / "shirt_oxford_blue.jpg"))
    page.select_option("#output-format", "webp")
    page.click("#submit")
    page.wait_for_selector("body[data-state='completed']", timeout=90_000)
    job_id = page.evaluate("document.body.dataset.jobId")
    assert page.inner_text("#download") == "Download WebP"
    with page.expect_download() as download_info:
        page.click("#download")
    assert download_info.value.suggested_filename == f"tryon-{job_id}.webp"
    saved = tmp_path / "result.webp"
    download_info.value.save_as(saved)
    with Image.open(saved) as result:
        assert result.format == "WEBP"
    context.close()


def test_demo_page_shows_the_servers_reason_for_a_refused_upload(
    service, browser, tmp_path: Path, data_dir: Path
) -> None:
    gif = tmp_path / "person.gif"
    Image.new("RGB", (128, 128), "white").save(gif, format="GIF")
    page = browser.new_page()
    page.goto(f"{service.url}/demo")
    # The page judges by the browser's type for quick feedback; the server judges by the bytes.
    gif_b64 = base64.b64encode(gif.read_bytes()).decode()
    transfer = page.evaluate_handle(DROP_FILE, ["person.png", "image/png", gif_b64])
    page.dispatch_event("#person-drop", "drop", {"dataTransfer": transfer})
    page.set_input_files("#garment-input", str(data_dir / "garments" / "shirt_oxford_blue.jpg"))
    page.click("#submit")
    page.wait_for_selector("body[data-state='failed']", timeout=30_000)
    assert "Unsupported image type: image/gif" in page.inner_text("#status")
    page.close()
