"""Malformed and malicious requests: each gets a 4xx with a readable detail; the server stays up.

Ends with schemathesis generating requests from /openapi.json: no server error, and every
response matches the documented status codes, content types and schemas.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.factories import image_bytes
from tests.test_images import _png_with_declared_size

OK_JPEG = image_bytes("JPEG", (200, 300))


def multipart(url: str, parts: list[tuple[str, tuple]], **kwargs) -> requests.Response:
    return requests.post(f"{url}/api/tryon", files=parts, timeout=60, **kwargs)


def pair(person: bytes, clothing: bytes = OK_JPEG, *, person_name="p.jpg", person_type="image/jpeg"):
    return [("person_image", (person_name, person, person_type)), ("clothing_image", ("c.jpg", clothing, "image/jpeg"))]


def raw(url: str, body: bytes, content_type: str) -> requests.Response:
    return requests.post(f"{url}/api/tryon", data=body, headers={"Content-Type": content_type}, timeout=30)


HOSTILE = {
    "zero-byte person": lambda url: multipart(url, pair(b"")),
    "zero-byte clothing": lambda url: multipart(url, pair(OK_JPEG, b"")),
    "truncated JPEG": lambda url: multipart(url, pair(image_bytes("JPEG", (640, 480))[:2500])),
    "truncated PNG": lambda url: multipart(url, pair(image_bytes("PNG", (640, 480))[:3000])),
    "truncated WEBP": lambda url: multipart(url, pair(image_bytes("WEBP", (640, 480))[:200])),
    "JPEG magic then garbage": lambda url: multipart(url, pair(b"\xff\xd8\xff\xe0" + b"\x13" * 5000)),
    "PNG signature then HTML (polyglot)": lambda url: multipart(url, pair(b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>")),
    "GIF header on JPEG bytes (polyglot)": lambda url: multipart(url, pair(b"GIF89a" + OK_JPEG)),
    "GIF": lambda url: multipart(url, pair(image_bytes("GIF"))),
    "BMP": lambda url: multipart(url, pair(image_bytes("BMP"))),
    "TIFF": lambda url: multipart(url, pair(image_bytes("TIFF"))),
    "PDF": lambda url: multipart(url, pair(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n")),
    "SVG": lambda url: multipart(url, pair(b'<svg xmlns="http://www.w3.org/2000/svg"><script>x</script></svg>')),
    "ZIP": lambda url: multipart(url, pair(b"PK\x03\x04" + b"\0" * 100)),
    "decompression bomb header": lambda url: multipart(url, pair(_png_with_declared_size(50_000, 50_000))),
    "100k pixels wide": lambda url: multipart(url, pair(_png_with_declared_size(100_000, 64))),
    "1x1 pixel": lambda url: multipart(url, pair(image_bytes("PNG", (1, 1)))),
    "over 20 MB": lambda url: multipart(url, pair(OK_JPEG + b"\0" * (20 * 1024 * 1024 + 1))),
    "wrong field names": lambda url: multipart(url, [("photo", ("p.jpg", OK_JPEG)), ("shirt", ("s.jpg", OK_JPEG))]),
    "no fields": lambda url: multipart(url, [("other", ("x.txt", b"x"))]),
    "image sent as a text field": lambda url: requests.post(f"{url}/api/tryon", data={"person_image": "aGVsbG8=", "clothing_image": "x"}, timeout=30),
    "huge text field": lambda url: multipart(url, pair(OK_JPEG) + [("notes", (None, "x" * (3 * 1024 * 1024)))]),
    "non-UTF-8 filename": lambda url: raw(
        url,
        b"--b\r\nContent-Disposition: form-data; name=\"person_image\"; filename=\"\xff\xfe\xe9.gif\"\r\n"
        b"Content-Type: image/gif\r\n\r\n" + image_bytes("GIF") + b"\r\n--b--\r\n",
        "multipart/form-data; boundary=b",
    ),
    "declared image/jpeg, bytes are text": lambda url: multipart(url, pair(b"not really a jpeg" * 20, person_type="image/jpeg")),
    "JSON body": lambda url: requests.post(f"{url}/api/tryon", json={"person_image": "x"}, timeout=30),
    "plain text body": lambda url: raw(url, b"hello", "text/plain"),
    "malformed multipart": lambda url: raw(url, b"--b\r\nContent-Disposition: form-data\r\n\r\nx", "multipart/form-data; boundary=b"),
    "multipart without boundary": lambda url: raw(url, b"x", "multipart/form-data"),
    "many files": lambda url: multipart(url, pair(OK_JPEG) + [(f"f{i}", (f"{i}.jpg", b"x")) for i in range(1200)]),
    "control characters in the job id": lambda url: requests.get(f"{url}/api/tryon/a%0Ab", timeout=10),
    "job id of 10,000 characters": lambda url: requests.get(f"{url}/api/tryon/{'a' * 10_000}", timeout=10),
    # Refused from the headers: the 100 MB are never sent, let alone held in memory.
    "body declared larger than two photos": lambda url: requests.post(
        f"{url}/api/tryon",
        data=iter([b""]),
        headers={"Content-Type": "multipart/form-data; boundary=x", "Content-Length": str(100 * 2**20)},
        timeout=30,
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_request_gets_a_readable_4xx(service, case: str) -> None:
    response = HOSTILE[case](service.url)
    assert 400 <= response.status_code < 500, (case, response.status_code, response.text[:300])
    detail = response.json()["detail"]
    assert isinstance(detail, str) and len(detail) > 10, detail
    for leak in ("Traceback", "/work/", "site-packages", ".py\"", "File \""):
        assert leak not in detail, detail
    health = requests.get(f"{service.url}/health", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "ok"


def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(service, tmp_path: Path) -> None:
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st, "schemathesis is part of the test extra"
    run = subprocess.run(
        [
            st, "run", f"{service.url}/openapi.json",
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
            "response_schema_conformance,response_headers_conformance",
            "--phases", "examples,coverage,fuzzing",
            "--max-examples", "30",
            "--workers", "1",
            "--seed", "1",
        ],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout[-6000:]
