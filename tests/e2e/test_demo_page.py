"""The /demo page in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

The first test picks the person photo, drops the garment photo, presses the button, waits for the result
image and downloads it. With ``TRYON_UPDATE_DOCS=1`` it also saves its screenshot to docs/demo.png
(the README's picture); otherwise the screenshot goes to the test's temporary folder.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
from pathlib import Path

import pytest
from PIL import Image

from tests.photo_server import PhotoServer

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
    page.wait_for_function("() => document.getElementById('person-preview').naturalWidth > 0")
    page.wait_for_function("() => document.getElementById('garment-preview').naturalWidth > 0")
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
    page.click("#more > summary")  # the options are folded away until asked for
    page.select_option("#output-format", "webp")
    page.click("#submit")
    page.wait_for_selector("body[data-state='completed']", timeout=90_000)
    job_id = page.evaluate("document.body.dataset.jobId")
    assert page.inner_text("#download") == "Download WEBP"
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


PERSON, GARMENT = "persons/studio_man_hoodie.png", "garments/shirt_oxford_blue.jpg"
BOTTOM = "garments/tshirt_white.jpg"  # any garment photo: the page only sends it
SUBMIT = re.compile(r"/api/tryon$")
POLL = re.compile(r"/api/tryon/[^/]+$")


def multipart_fields(request) -> list[tuple[str, str | tuple[str, str]]]:
    """The parts of a multipart/form-data request as sent, in order: (name, text), or (name,
    (filename, content type)) for a file (Chromium hands an intercepted request's file parts over
    without their bytes; the tests with the real service check those)."""
    boundary = request.headers["content-type"].split("boundary=", 1)[1].encode()
    fields = []
    for part in request.post_data_buffer.split(b"--" + boundary)[1:-1]:
        head, _, data = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]*)"', head).group(1).decode()
        filename = re.search(rb'filename="([^"]*)"', head)
        if filename:
            content_type = re.search(rb"Content-Type: (\S+)", head).group(1).decode()
            fields.append((name, (filename.group(1).decode(), content_type)))
        else:
            fields.append((name, data.removesuffix(b"\r\n").decode()))
    return fields


def intercept_submissions(page, answer: dict | None = None) -> list:
    """Record each POST the page sends to api/tryon; answer it with ``answer`` (a 202's body), or
    let it through to the service when ``answer`` is None."""
    sent: list = []

    def handle(route) -> None:
        if route.request.method != "POST":
            route.fallback()
            return
        sent.append(route.request)
        if answer is None:
            route.continue_()
        else:
            route.fulfill(status=202, content_type="application/json", body=json.dumps(answer))

    page.route(SUBMIT, handle)
    return sent


def answer_polls(page, final: dict) -> None:
    """Every poll answered with ``final``: a completed job, as the service would send it."""
    page.route(POLL, lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps(final)))


def picture(size: tuple[int, int], color: str, format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=format)
    return buffer.getvalue()


def completed(job_id: str, pictures: list[bytes], **extra) -> dict:
    """A completed job's poll answer with ``pictures`` in ``results`` (the first also as result_b64)."""
    encoded = [base64.b64encode(data).decode() for data in pictures]
    return {
        "job_id": job_id, "status": "completed", "progress": 100, "category": "upper_body",
        "result_b64": encoded[0], "results": [{"result_b64": data, "seed": 7 + i} for i, data in enumerate(encoded)],
        **extra,
    }  # fmt: skip


def open_demo(browser, service):
    page = browser.new_page(accept_downloads=True)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.goto(f"{service.url}/demo")
    return page, errors


def test_demo_page_runs_a_job_from_photo_urls(service, browser, data_dir: Path) -> None:
    """The shared server may fetch from loopback (SHARED_SETTINGS): the page sends the two URLs, the
    service fetches them, the job completes with the person photo's size."""
    photos = PhotoServer(data_dir)
    try:
        page, errors = open_demo(browser, service)
        sent = intercept_submissions(page)
        page.fill("#person-url", photos.url(f"files/{PERSON}"))
        page.press("#person-url", "Tab")  # typed: the page previews it
        page.fill("#garment-url", photos.url(f"files/{GARMENT}"))
        page.press("#garment-url", "Tab")
        page.wait_for_function("() => document.getElementById('person-preview').naturalWidth > 0")
        page.wait_for_function("() => document.getElementById('garment-preview').naturalWidth > 0")
        assert page.is_enabled("#submit")
        fetched_by_the_browser = len(photos.requests)  # the previews

        page.click("#submit")
        page.wait_for_selector("body[data-state='completed']", timeout=90_000)

        assert multipart_fields(sent[0]) == [
            ("person_image_url", photos.url(f"files/{PERSON}")),
            ("clothing_image_url", photos.url(f"files/{GARMENT}")),
            ("category", "auto"),
        ]
        assert sorted(photos.requests[fetched_by_the_browser:]) == sorted([f"/files/{PERSON}", f"/files/{GARMENT}"])
        size = page.eval_on_selector("#result-image", "img => [img.naturalWidth, img.naturalHeight]")
        with Image.open(data_dir / PERSON) as person:
            assert tuple(size) == person.size
        assert page.is_hidden("#results")  # one picture: no gallery
        assert errors == []
        page.close()
    finally:
        photos.close()


def test_demo_page_sends_only_the_fields_the_user_set(service, browser, data_dir: Path) -> None:
    page, errors = open_demo(browser, service)
    sent = intercept_submissions(page, {"job_id": "job-fields"})
    answer_polls(page, completed("job-fields", [picture((64, 96), "red")]))

    # Nothing extra set: the contract's two files and the category, as before the options existed.
    page.set_input_files("#person-input", str(data_dir / PERSON))
    page.set_input_files("#garment-input", str(data_dir / GARMENT))
    page.click("#submit")
    page.wait_for_selector("body[data-state='completed']")
    assert multipart_fields(sent[0]) == [
        ("person_image", ("studio_man_hoodie.png", "image/png")),
        ("clothing_image", ("shirt_oxford_blue.jpg", "image/jpeg")),
        ("category", "auto"),
    ]

    # Everything set: a URL replaces the person file; a quality goes only with a lossy format.
    page.fill("#person-url", "https://shop.example/person.jpg")
    page.click("#more > summary")  # the options are folded away until asked for
    page.set_input_files("#bottom-input", str(data_dir / BOTTOM))
    assert page.is_disabled("#output-quality")
    page.select_option("#num-samples", "3")
    page.select_option("#output-format", "webp")
    page.fill("#output-quality", "70")
    page.select_option("#mode", "quality")
    page.select_option("#result-size", "model")
    page.select_option("#category", "upper_body")
    page.click("#submit")
    page.wait_for_selector("body[data-state='completed']")
    assert multipart_fields(sent[1]) == [
        ("person_image_url", "https://shop.example/person.jpg"),
        ("clothing_image", ("shirt_oxford_blue.jpg", "image/jpeg")),
        ("bottom_image", ("tshirt_white.jpg", "image/jpeg")),
        ("category", "upper_body"),
        ("num_samples", "3"),
        ("output_format", "webp"),
        ("output_quality", "70"),
        ("mode", "quality"),
        ("result_size", "model"),
    ]

    # Back to PNG: the quality typed earlier is not sent; a file chosen again replaces the URL.
    page.select_option("#output-format", "")
    page.set_input_files("#person-input", str(data_dir / PERSON))
    assert page.input_value("#person-url") == ""
    page.click("#submit")
    page.wait_for_selector("body[data-state='completed']")
    names = [name for name, _ in multipart_fields(sent[2])]
    assert names == ["person_image", "clothing_image", "bottom_image", "category", "num_samples", "mode", "result_size"]
    # The only error: the browser could not preview shop.example (no network here; the page hides it).
    assert errors == ["Failed to load resource: net::ERR_NAME_NOT_RESOLVED"]
    assert page.is_hidden("#person-preview") is False  # the person file chosen again is previewed
    page.close()


def test_demo_page_shows_every_picture_of_num_samples(service, browser, data_dir: Path, tmp_path: Path) -> None:
    page, errors = open_demo(browser, service)
    sent = intercept_submissions(page, {"job_id": "job-samples"})
    sizes = [(64, 96), (65, 96), (66, 96)]
    answer_polls(page, completed("job-samples", [picture(size, color) for size, color in zip(sizes, ["red", "green", "blue"])]))
    page.set_input_files("#person-input", str(data_dir / PERSON))
    page.set_input_files("#garment-input", str(data_dir / GARMENT))
    page.click("#more > summary")  # the options are folded away until asked for
    page.select_option("#num-samples", "3")
    page.click("#submit")
    page.wait_for_selector("body[data-state='completed']")

    assert ("num_samples", "3") in multipart_fields(sent[0])
    assert page.eval_on_selector("#result-image", "img => img.naturalWidth") == 64  # the first, in the panel
    page.wait_for_function("() => [...document.querySelectorAll('#results img')].every((img) => img.naturalWidth > 0)")
    shown = page.eval_on_selector_all("#results img", "images => images.map((img) => img.naturalWidth)")
    assert shown == [64, 65, 66]
    captions = page.eval_on_selector_all("#results figcaption span", "spans => spans.map((s) => s.textContent)")
    assert captions == ["#1 · seed 7", "#2 · seed 8", "#3 · seed 9"]
    with page.expect_download() as download_info:
        page.click("#results figure:nth-child(3) a")
    assert download_info.value.suggested_filename == "tryon-job-samples-3.png"
    saved = tmp_path / "third.png"
    download_info.value.save_as(saved)
    with Image.open(saved) as third:
        assert third.size == sizes[2]
    assert errors == []
    page.close()


@pytest.mark.parametrize(("output_format", "pil_format", "extension"), [("jpeg", "JPEG", "jpg"), ("webp", "WEBP", "webp")])
def test_demo_page_shows_and_downloads_the_output_format(
    service, browser, data_dir: Path, tmp_path: Path, output_format: str, pil_format: str, extension: str
) -> None:
    page, errors = open_demo(browser, service)
    sent = intercept_submissions(page, {"job_id": "job-format"})
    answer_polls(page, completed("job-format", [picture((80, 120), "orange", pil_format)]))
    page.set_input_files("#person-input", str(data_dir / PERSON))
    page.set_input_files("#garment-input", str(data_dir / GARMENT))
    page.click("#more > summary")  # the options are folded away until asked for
    page.select_option("#output-format", output_format)
    page.fill("#output-quality", "85")
    page.click("#submit")
    page.wait_for_selector("body[data-state='completed']")

    fields = multipart_fields(sent[0])
    assert ("output_format", output_format) in fields and ("output_quality", "85") in fields
    assert page.eval_on_selector("#result-image", "img => img.naturalWidth") == 80
    assert page.inner_text("#download") == f"Download {extension.upper()}"
    with page.expect_download() as download_info:
        page.click("#download")
    assert download_info.value.suggested_filename == f"tryon-job-format.{extension}"
    saved = tmp_path / f"result.{extension}"
    download_info.value.save_as(saved)
    with Image.open(saved) as result:
        assert result.format == pil_format
    assert errors == []
    page.close()


def test_demo_page_sends_a_bottom_garment_and_shows_the_notes(service, browser, data_dir: Path) -> None:
    page, errors = open_demo(browser, service)
    sent = intercept_submissions(page, {"job_id": "job-outfit"})
    note = "Whole outfit: the bottom garment first, then the top over it (two passes)."
    answer_polls(page, completed("job-outfit", [picture((64, 96), "gray")], notes=[note]))
    page.set_input_files("#person-input", str(data_dir / PERSON))
    page.set_input_files("#garment-input", str(data_dir / GARMENT))
    page.click("#more > summary")  # the options are folded away until asked for
    page.set_input_files("#bottom-input", str(data_dir / BOTTOM))
    page.wait_for_function("() => document.getElementById('bottom-preview').naturalWidth > 0")
    page.click("#submit")
    page.wait_for_selector("body[data-state='completed']")

    assert ("bottom_image", ("tshirt_white.jpg", "image/jpeg")) in multipart_fields(sent[0])
    assert note in page.inner_text("#status")
    assert errors == []
    page.close()
