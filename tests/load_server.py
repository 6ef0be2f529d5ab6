"""A tiny HTTP server on 127.0.0.1 for the load tests, and a check for leftover processes."""

from __future__ import annotations

import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlparse

if TYPE_CHECKING:
    from collections.abc import Iterator


class _Handler(BaseHTTPRequestHandler):
    """``/`` answers 200, ``/fail`` 500, ``/slow?ms=N`` after N milliseconds."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        counted = getattr(self.server, "counted", None)
        if counted is not None:
            counted()
        url = urlparse(self.path)
        status = 200
        if url.path == "/fail":
            status = 500
        elif url.path == "/slow":
            ms = float(parse_qs(url.query).get("ms", ["100"])[0])
            time.sleep(ms / 1000)
        body = b"ok\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Quiet(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client killed mid-request (what the chaos tests do) is no error here


class Server:
    """Counts the requests it gets and remembers when the last one came (``time.monotonic``)."""

    def __init__(self) -> None:
        self.httpd = _Quiet(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.requests = 0
        self.last = 0.0
        self._lock = threading.Lock()
        self.httpd.counted = self._count  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _count(self) -> None:
        with self._lock:
            self.requests += 1
            self.last = time.monotonic()

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def serve() -> Iterator[Server]:
    with Server() as server:
        yield server


def processes_mentioning(text: str) -> list[int]:
    """Live (non-zombie) processes whose command line contains ``text``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
            with open(f"/proc/{entry}/stat", encoding="utf-8") as fh:
                stat = fh.read()
        except OSError:
            continue
        if text in cmdline and stat[stat.rfind(")") + 2 :].split()[0] != "Z":
            found.append(int(entry))
    return found
