"""The web demo at ``/demo``: plain HTML and JavaScript, served by the service itself.

The page talks to the documented API with relative URLs (``api/tryon``), so it works wherever the
service is mounted. Include it with ``app.include_router(demo_router)``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).parent / "static"

# Scripts and styles only from this service; result images may also come from S3 (presigned URLs).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data: blob: http: https:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
ASSETS = {"demo.js": "text/javascript", "demo.css": "text/css"}

demo_router = APIRouter(tags=["demo"], include_in_schema=False)


@demo_router.get("/demo")
def demo_page() -> FileResponse:
    """The page: pick or drop two photos, watch the steps, see and download the result."""
    return _static("demo.html", "text/html; charset=utf-8")


@demo_router.get("/demo/{asset}")
def demo_asset(asset: str) -> FileResponse:
    if asset not in ASSETS:
        raise HTTPException(status_code=404, detail=f"No demo file named {asset}.")
    return _static(asset, ASSETS[asset])


def _static(name: str, media_type: str) -> FileResponse:
    return FileResponse(
        STATIC_DIR / name,
        media_type=media_type,
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )
