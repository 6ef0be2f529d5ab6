"""Measure pytest-tempo's cost: reordering 100,000 items, and the per-test overhead.

Run by hand from the repository root::

    python benchmarks/overhead.py                      # whole plugin vs -p no:tempo
    python benchmarks/overhead.py --against no:tempo-timing
    python benchmarks/overhead.py --all-features       # every feature configured and on
    python benchmarks/overhead.py --all-features --callgrind   # instruction counts

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


#: Every feature configured: ordering by durations, test types, hygiene, the timing report
#: with JSON and HTML, coverage floors (checked when --cov is given).
ALL_FEATURES_INI = """\
[pytest]
tempo_order = durations
slow_threshold = 0.5
tempo_hygiene = report
tempo_markers =
    billing: touches invoices
test_types =
    tests/unit/*: unit
    tests/integration/*: integration db
    tests/smoke/*: smoke
cov_floors =
    total: 0
"""
ALL_FEATURES_ARGS = ["--slow-report-json=timing.json", "--tempo-html=timing.html"]


def write_typed_suite(root: Path, tests: int, per_file: int = 100) -> None:
    """A suite in unit/integration/smoke folders, with markers and parametrized tests."""
    folders = ("unit", "unit", "unit", "integration", "smoke")
    app = root / "app"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    for f in range(tests // per_file):
        folder = root / "tests" / folders[f % len(folders)]
        folder.mkdir(parents=True, exist_ok=True)
        body = ["import pytest", "from app.calc import add", ""]
        for t in range(0, per_file - 10, 2):
            mark = "@pytest.mark.billing\n" if t % 20 == 0 else ""
            body.append(f"{mark}def test_{f}_{t}():\n    assert add({t}, 1) == {t + 1}\n")
            body.append(f"def test_{f}_{t + 1}():\n    assert True\n")
        body.append(
            '@pytest.mark.parametrize("n", range(10))\n'
            f"def test_{f}_param(n):\n    assert add(n, 0) == n\n"
        )
        (folder / f"test_gen_{f}.py").write_text("\n".join(body))
    (root / "pytest.ini").write_text(ALL_FEATURES_INI + "pythonpath = .\n")


# As on a developer's machine: bytecode caches on, so pytest's rewritten modules (pytest
# rewrites the asserts of every plugin installed through an entry point) are compiled once.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


BASE = ["-q", "-p", "no:randomly", "-p", "no:cacheprovider"]


def run_suite(root: Path, extra: list[str], base: list[str] = BASE) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one pytest process."""
    command = [sys.executable, "-m", "pytest", *base]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([*command, *extra], cwd=root, check=True, stdout=subprocess.DEVNULL, env=ENV)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def instructions(root: Path, extra: list[str], base: list[str]) -> int:
    """Instructions of one pytest process, counted by valgrind's callgrind."""
    with tempfile.NamedTemporaryFile(suffix=".callgrind") as out:
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out.name}"]
        command += [sys.executable, "-m", "pytest", *base, *extra]
        subprocess.run(
            command,
            cwd=root,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=ENV,
        )
        for line in Path(out.name).read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError("callgrind wrote no totals")


def bench_suite(
    tests: int,
    runs: int,
    against: str,
    with_args: list[str],
    *,
    all_features: bool = False,
    callgrind: bool = False,
) -> None:
    # Without the plugin its ini keys are unknown: pytest warns, and prints the warning.
    base = ["-q", "-p", "no:randomly", "-W", "ignore::pytest.PytestConfigWarning"]
    base = base if all_features else BASE
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if all_features:
            write_typed_suite(root, tests)
            with_args = [*ALL_FEATURES_ARGS, *with_args]
        else:
            write_suite(root, tests)
        # Warm the file system and the bytecode caches (and, with the cache on, record the
        # durations that --tempo-order=durations reads).
        run_suite(root, with_args, base)
        run_suite(root, ["-p", against], base)
        kind = "typed tests, every feature on" if all_features else "trivial tests"
        if callgrind:
            on_count = instructions(root, with_args, base)
            off_count = instructions(root, ["-p", against], base)
            print(f"suite of {tests} {kind}, instructions (callgrind)")
            print(
                f"  plugin on {on_count:,}, -p {against} {off_count:,}, "
                f"ratio {on_count / off_count:.3f}"
            )
            return
        on: list[tuple[float, float]] = []
        off: list[tuple[float, float]] = []
        for _ in range(runs):
            on.append(run_suite(root, with_args, base))
            off.append(run_suite(root, ["-p", against], base))
    print(f"suite of {tests} {kind}, {runs} runs each, alternating")
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
    parser.add_argument(
        "--all-features",
        action="store_true",
        help="a typed suite with every feature configured (ordering by durations, test types, "
        "hygiene, JSON and HTML reports, floors), pytest's cache on",
    )
    parser.add_argument(
        "--callgrind", action="store_true", help="count instructions once each, with valgrind"
    )
    args = parser.parse_args()
    if not args.callgrind:
        seconds = bench_reorder(args.items, repeat=5)
        print(f"reordering {args.items} items: median {seconds * 1000:.1f} ms")
    bench_suite(
        args.tests,
        args.runs,
        args.against,
        args.with_args.split(),
        all_features=args.all_features,
        callgrind=args.callgrind,
    )


if __name__ == "__main__":
    main()
