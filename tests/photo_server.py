"""A real HTTP server on 127.0.0.1 serving photos by URL, and the ways a photo URL can misbehave."""

from __future__ import annotations

import mimetypes
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

CHUNK = b"\0" * 65536


class PhotoServer:
    """Serves, on a free loopback port:

    - ``/files/<path>``: the file under ``folder`` (404 if none), with its Content-Length;
    - ``/endless``: zeros without a Content-Length until the client hangs up (``streamed`` counts them);
    - ``/declared-huge``: a Content-Length of 10 GB, then a few bytes;
    - ``/slow``: nothing for ``slow_seconds``, then a 200;
    - ``/drip``: a JPEG's first bytes, then one byte every 0.1 s for ever;
    - ``/redirect?to=<url>``: a 302 to ``url``.

    ``requests`` lists the path of every request, in order.
    """

    def __init__(self, folder: Path, *, slow_seconds: float = 30) -> None:
        self.folder = folder
        self.slow_seconds = slow_seconds
        self.requests: list[str] = []
        self.streamed = 0
        self._closing = threading.Event()
        photos = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                photos.requests.append(self.path)
                url = urlsplit(self.path)
                try:
                    if url.path.startswith("/files/"):
                        self._file(url.path.removeprefix("/files/"))
                    elif url.path == "/endless":
                        self._endless()
                    elif url.path == "/declared-huge":
                        self._answer(200, b"\xff\xd8\xff" + b"\0" * 100, length=10 * 2**30)
                    elif url.path == "/slow":
                        photos._closing.wait(photos.slow_seconds)
                        self._answer(200, b"late")
                    elif url.path == "/drip":
                        self._drip()
                    elif url.path == "/redirect":
                        self.send_response(302)
                        self.send_header("Location", parse_qs(url.query)["to"][0])
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                    else:
                        self._answer(404, b"no such path")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client left, as a fetch that refuses an answer does

            def _file(self, relative: str) -> None:
                path = (photos.folder / relative).resolve()
                if not path.is_file() or photos.folder.resolve() not in path.parents:
                    self._answer(404, b"no such file")
                    return
                self._answer(200, path.read_bytes(), content_type=mimetypes.guess_type(path.name)[0])

            def _endless(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.end_headers()
                while not photos._closing.is_set():
                    self.wfile.write(CHUNK)
                    photos.streamed += len(CHUNK)

            def _drip(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.end_headers()
                self.wfile.write(b"\xff\xd8\xff")
                while not photos._closing.wait(0.1):
                    self.wfile.write(b"\0")
                    self.wfile.flush()

            def _answer(self, status: int, body: bytes, *, length: int | None = None, content_type: str | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type or "application/octet-stream")
                self.send_header("Content-Length", str(len(body) if length is None else length))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    def close(self) -> None:
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()
