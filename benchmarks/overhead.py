"""Measure pytest-tempo's cost: reordering 100,000 items, and the per-test overhead.

Run by hand from the repository root::

    python benchmarks/overhead.py                      # whole plugin vs -p no:tempo
    python benchmarks/overhead.py --against no:tempo-timing

The suite comparison runs a generated suite of trivial tests with the plugin on and with
the plugin (or one feature) off, alternating the two, several times, and prints the median
wall time of each and their ratio. Nothing here is a timed test: the numbers are reported in
the docs and release notes, measured side by side in one run.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from pytest_tempo.ordering import OrderingPlugin

SMOKE = SimpleNamespace(name="smoke")
SLOW = SimpleNamespace(name="slow")


def fake_items(count: int, per_module: int = 50) -> list[SimpleNamespace]:
    """Items shaped like pytest's: node ids, own markers, a module and a session parent."""
    session = SimpleNamespace(parent=None, own_markers=[])
    items = []
    module = session
    for n in range(count):
        if n % per_module == 0:
            module = SimpleNamespace(parent=session, own_markers=[])
            path = f"tests/test_m{n // per_module}.py"
        marks = [SMOKE] if n % 97 == 0 else [SLOW] if n % 31 == 0 else []
        items.append(SimpleNamespace(nodeid=f"{path}::test_{n}", own_markers=marks, parent=module))
    return items


def bench_reorder(count: int, repeat: int) -> float:
    plugin = OrderingPlugin()
    times = []
    for _ in range(repeat):
        items = fake_items(count)
        start = time.perf_counter()
        plugin.pytest_collection_modifyitems(items)  # type: ignore[arg-type]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def write_suite(root: Path, tests: int, per_file: int = 100) -> None:
    for f in range(tests // per_file):
        body = [f"def test_{f}_{t}():\n    assert True\n" for t in range(per_file)]
        (root / f"test_gen_{f}.py").write_text("\n".join(body))
    (root / "pytest.ini").write_text("[pytest]\n")


# As on a developer's machine: bytecode caches on, so pytest's rewritten modules (pytest
# rewrites the asserts of every plugin installed through an entry point) are compiled once.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_suite(root: Path, extra: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one pytest process."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([*command, *extra], cwd=root, check=True, stdout=subprocess.DEVNULL, env=ENV)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def bench_suite(tests: int, runs: int, against: str, with_args: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_suite(root, tests)
        run_suite(root, [])  # warm the file system and the bytecode caches
        run_suite(root, ["-p", against])
        on: list[tuple[float, float]] = []
        off: list[tuple[float, float]] = []
        for _ in range(runs):
            on.append(run_suite(root, with_args))
            off.append(run_suite(root, ["-p", against]))
    print(f"suite of {tests} trivial tests, {runs} runs each, alternating")
    for what, column in (("wall", 0), ("CPU", 1)):
        m_on = statistics.median(r[column] for r in on)
        m_off = statistics.median(r[column] for r in off)
        print(
            f"  {what:<4} plugin on {m_on:.3f} s, -p {against} {m_off:.3f} s, "
            f"ratio {m_on / m_off:.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--tests", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--against", default="no:tempo", help="the -p value for the 'off' runs")
    parser.add_argument("--with", dest="with_args", default="", help="extra args for 'on' runs")
    args = parser.parse_args()
    seconds = bench_reorder(args.items, repeat=5)
    print(f"reordering {args.items} items: median {seconds * 1000:.1f} ms")
    bench_suite(args.tests, args.runs, args.against, args.with_args.split())


if __name__ == "__main__":
    main()
