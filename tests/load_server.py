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


#: ``PF_KTHREAD`` in ``/proc/PID/stat``'s flags: a kernel thread, whose command line is empty.
_PF_KTHREAD = 0x00200000


def read_process(pid: int) -> tuple[list[str], bytes] | None:
    """A live process's ``/proc/PID/stat`` fields after its name (state, ppid, ...) and its
    command line, NUL-separated; None for a zombie, a kernel thread or a process that is
    gone.

    A process in the middle of exec() shows an empty command line for a moment: the
    kernel sets the new one once the new program is loaded. It is read again until it
    shows (1 s at most, all a process that blanked its own arguments costs), so a check
    never misses a process that is starting, nor takes one that is about to become an
    engine for the program it was.
    """
    deadline = time.monotonic() + 1
    while True:
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as fh:
                stat = fh.read()
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmdline = fh.read()
        except OSError:
            return None
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields[0] == "Z" or int(fields[6]) & _PF_KTHREAD:
            return None
        if cmdline or time.monotonic() > deadline:
            return fields, cmdline
        time.sleep(0.001)


def command_line(pid: int) -> bytes | None:
    """The command line :func:`read_process` reads, or None."""
    found = read_process(pid)
    return None if found is None else found[1]


def kernel_threads() -> list[int]:
    """The kernel threads this process can see (none in some containers)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as fh:
                    stat = fh.read()
            except OSError:
                continue
            if int(stat[stat.rfind(")") + 2 :].split()[6]) & _PF_KTHREAD:
                found.append(int(entry))
    return found


def processes_mentioning(text: str, *, without: str = "") -> list[int]:
    """Live (non-zombie) processes whose command line contains ``text`` (and not
    ``without``, when given), judged on one reading of it."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        raw = command_line(int(entry))
        if raw is None:
            continue
        cmdline = raw.replace(b"\0", b" ").decode("utf-8", "replace")
        if text in cmdline and not (without and without in cmdline):
            found.append(int(entry))
    return found
