"""A cutout service on 127.0.0.1 for tests: serves image files by galaxy id,
and misbehaves on request (slow, failing, missing, not an image)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse


@dataclass
class CutoutServer:
    """``url`` is the template root: ``{url}/cutout?id=<galaxy_id>``. Ids in
    ``slow`` answer after ``delay_s``; in ``failing`` with 500; in
    ``garbage`` with text; unknown ids with 404. ``hits`` counts requests."""

    images: dict[str, Path]
    slow: set[str] = field(default_factory=set)
    failing: set[str] = field(default_factory=set)
    garbage: set[str] = field(default_factory=set)
    delay_s: float = 3.0
    hits: Counter = field(default_factory=Counter)
    url: str = ""

    @property
    def template(self) -> str:
        return self.url + "/cutout?id={galaxy_id}"


@contextmanager
def serve_cutouts(server: CutoutServer, port: int = 0) -> Iterator[CutoutServer]:
    """Run ``server`` on 127.0.0.1 (``port``, or a free one) until the block ends."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            galaxy = parse_qs(urlparse(self.path).query).get("id", [""])[0]
            server.hits[galaxy] += 1
            if galaxy in server.slow:
                time.sleep(server.delay_s)
            if galaxy in server.failing:
                self.send_error(500)
                return
            if galaxy in server.garbage:
                body = b"<html>maintenance</html>"
            elif galaxy in server.images:
                body = server.images[galaxy].read_bytes()
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    httpd.daemon_threads = True
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
