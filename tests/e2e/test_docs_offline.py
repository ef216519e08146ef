"""/docs and /redoc render in Chromium with every request outside the server blocked.

A self-hosted service often has no internet access: pages that load Swagger UI or ReDoc from a CDN
stay blank there. The browser here may reach the server under test and nothing else.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

SUMMARIES = (
    "Submit a virtual try-on job",
    "Poll a job's status and retrieve its result",
    "Cancel a job",
    "Service health and GPU memory status",
)
# The "API docs by Redocly" logo in ReDoc's sidebar footer is built into its bundle with this URL
# and has no option to turn it off; it is decoration, and the page renders without it.
REDOC_FOOTER_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture()
def offline_page(service, browser):
    """A page that may load from the service under test only; ``page.blocked`` lists the rest."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    blocked: list[str] = []

    def only_the_service(route) -> None:
        url = urlsplit(route.request.url)
        if (url.hostname, url.port) == ("127.0.0.1", service.port):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", only_the_service)
    page = context.new_page()
    page.blocked = blocked
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def test_swagger_ui_renders_every_operation_offline(service, offline_page) -> None:
    offline_page.goto(f"{service.url}/docs")
    offline_page.wait_for_selector(".opblock-summary", timeout=30_000)

    operations = offline_page.eval_on_selector_all(
        ".opblock-summary",
        """blocks => blocks.map(b => [
            b.querySelector('.opblock-summary-method').textContent,
            b.querySelector('.opblock-summary-path').textContent.replace(/\\u200b/g, ''),
        ].join(' '))""",
    )
    assert {"POST /api/tryon", "GET /api/tryon/{job_id}", "DELETE /api/tryon/{job_id}", "GET /health"} <= set(
        operations
    ), operations
    text = offline_page.inner_text("body")
    assert all(summary in text for summary in SUMMARIES), text[:2000]
    assert offline_page.blocked == [] and offline_page.errors == []


def test_redoc_renders_every_operation_offline(service, offline_page) -> None:
    offline_page.goto(f"{service.url}/redoc")
    offline_page.wait_for_selector("h2 >> text=Submit a virtual try-on job", timeout=30_000)

    text = offline_page.inner_text("body")
    assert all(summary in text for summary in SUMMARIES), text[:2000]
    assert "/api/tryon/{job_id}" in text
    assert set(offline_page.blocked) <= {REDOC_FOOTER_LOGO} and offline_page.errors == []
