"""A load target run as its own process: ``python load_target.py PORTFILE [DELAY_MS] [LEAK_KB]``.

It answers every GET with 200 after ``DELAY_MS`` milliseconds (a slower release the test
controls) and keeps ``LEAK_KB`` kilobytes per request for ever (a leak on purpose). Its port
goes to PORTFILE, written last and atomically, once it listens; the process is what the load
tests watch.
"""

from __future__ import annotations

import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DELAY = float(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.0
LEAK = int(sys.argv[3]) * 1024 if len(sys.argv) > 3 else 0
KEPT: list[bytearray] = []
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if DELAY:
            time.sleep(DELAY)
        if LEAK:
            KEPT.append(bytearray(os.urandom(16)) * (LEAK // 16))
        # One write: headers and body apart would meet Nagle's algorithm and delayed ACKs.
        self.wfile.write(RESPONSE)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_file = sys.argv[1]
    with open(port_file + ".tmp", "w", encoding="utf-8") as fh:
        fh.write(str(server.server_address[1]))
    os.replace(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
