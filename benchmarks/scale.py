"""Does pytest-tempo scale to 100,000 tests? Writers, the controller's memory, and gc.

Run by hand from the repository root::

    python benchmarks/scale.py writers              # each writer alone, 100,000 tests
    python benchmarks/scale.py memory               # peak RSS of a real run, on vs off
    python benchmarks/scale.py gc                   # gc.collect() on a test process
    python benchmarks/scale.py all

**writers**: each end-of-run writer alone on generated data (median of 5, CPU and wall
seconds): the durations store (read and check, the ordering's snapshot, a run's update under
the lock), the JSON report of ``--slow-report-json`` (the document built and written, the
advice's part included), the HTML page of ``--tempo-html``, and the advice's judging (with
the outcome history read, updated and written).

**memory**: a generated suite of 100,000 tiny parametrized tests run by a real pytest
process (``-q -p no:randomly``), twice each with the plugin on and with ``-p no:tempo``,
alternating; the second run of each reads the store (and history) the first wrote. Peak
resident memory as ``getrusage`` reports it for the process, and the difference per test.

**gc**: a generated suite of 10,000 tests whose last test times ``gc.collect()`` (median of
7) on the process that runs it, with the plugin on (a store of 10,000 tests read at the
start) and off, serially and on an xdist worker (``-n 2``).

Nothing here is a timed test: the numbers go in ``benchmarks/README.md``, measured side by
side in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(action: Callable[[], object], repeat: int = 5) -> tuple[float, float]:
    """Median (CPU, wall) seconds of ``action``."""
    cpu, wall = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        action()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    return statistics.median(cpu), statistics.median(wall)


# --- writers ---------------------------------------------------------------------------------


def fake_timings(tests: int, seed: int = 7) -> list[Any]:
    """A run of ``tests`` tests on 4 workers: mostly milliseconds, 1% over a second."""
    from pytest_tempo.timing import TestTiming

    rng = random.Random(seed)
    clock = dict.fromkeys(("gw0", "gw1", "gw2", "gw3"), 1_750_000_000.0)
    timings = []
    for i in range(tests):
        worker = f"gw{i % 4}"
        call = rng.uniform(1.0, 3.0) if i % 100 == 0 else rng.lognormvariate(-7, 1)
        setup, teardown = rng.lognormvariate(-9, 1), rng.lognormvariate(-9, 1)
        start = clock[worker]
        clock[worker] = stop = start + setup + call + teardown + 0.0002
        outcome = "failed" if i % 5000 == 1 else "passed"
        nodeid = f"tests/unit/test_module_{i // 100:04d}.py::TestThing::test_case[{i}]"
        slow = i % 300 == 0
        timings.append(TestTiming(nodeid, setup, call, teardown, worker, slow, True, start, stop,
                                  outcome, ("unit",)))  # fmt: skip
    return timings


def fake_store(timings: list[Any], keep: int = 5) -> dict[str, Any]:
    return {
        t.nodeid: {
            "at": [1_749_000_000.0],
            "setup": [round(t.setup, 6)] * keep,
            "call": [round(t.call * (1 + k / 10), 6) for k in range(keep)],
            "teardown": [round(t.teardown, 6)] * keep,
            "shared": [0.0] * keep,
            "marks": [],
        }
        for t in timings
    }


class _FakeTiming:
    """What the advice reads of the timing feature."""

    def __init__(self, timings: list[Any]) -> None:
        self.timings = timings
        self.collected = [t.nodeid for t in timings]
        self.threshold = 1.0


class _FakeCache:
    def __init__(self, root: Path) -> None:
        self._root = root

    def mkdir(self, name: str) -> Path:
        path = self._root / "d" / name
        path.mkdir(parents=True, exist_ok=True)
        return path


class _FakeConfig:
    def __init__(self, root: Path) -> None:
        self.cache = _FakeCache(root / ".pytest_cache")
        self.rootpath = root


def writers(tests: int) -> list[tuple[str, float, float]]:
    from pytest_tempo.advice.judge import RunFacts, judge
    from pytest_tempo.advice.render import to_json as advice_json
    from pytest_tempo.durations import Snapshot
    from pytest_tempo.durations_io import Location, encode, open_store, write_atomic
    from pytest_tempo.durations_record import Recorder
    from pytest_tempo.json_report import encode_report
    from pytest_tempo.report.html import render_html
    from pytest_tempo.timing import measured_of, summarize, to_json

    timings = fake_timings(tests)
    summary = summarize(timings, [], 1.0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for f in range(tests // 100):  # the test files the outcome history fingerprints
            folder = root / "tests" / "unit"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"test_module_{f:04d}.py").write_text(f"def test_case(): pass  # {f}\n")
        store = fake_store(timings)
        location = Location.of_file(root / "durations.json")
        location = Location(location.path, location.journals, readable=False)
        write_atomic(location.path, encode(store, []))
        measured = {t.nodeid: measured_of(t) for t in timings}
        del store

        rows.append(("durations store: read and check", *timed(lambda: open_store(location))))
        parsed = open_store(location)[0]
        rows.append(("durations store: the ordering's snapshot",
                     *timed(lambda: Snapshot.of(parsed.store))))  # fmt: skip
        rows.append(("durations store: a run's update under the lock",
                     *timed(lambda: Recorder(location).finish(measured, None))))  # fmt: skip

        def facts() -> RunFacts:
            recorded = open_store(location)[0].store
            return RunFacts(
                config=_FakeConfig(root),  # type: ignore[arg-type]
                timings=timings,
                collected=[t.nodeid for t in timings],
                threshold=1.0,
                configured=timings[0].start - 2.0,
                store=lambda: recorded,
                uses={},
                facts={},
                sleeps={timings[100].nodeid: timings[100].call * 0.9},
                session_part={},
                reruns={},
            )

        run = facts()
        advice, _ = judge(run)
        rows.append(("advice: judged, outcome history updated", *timed(lambda: judge(run))))

        def json_before() -> None:  # the document as dictionaries, through json.dumps
            document = to_json(summary, timings)
            document["advice"] = advice_json(advice)
            (root / "report.json").write_text(json.dumps(document), encoding="utf-8")

        def json_report() -> None:
            parts = [("advice", advice_json(advice))]
            (root / "report.json").write_text(encode_report(summary, timings, parts))

        rows.append(("JSON report, as dictionaries through json.dumps (before)",
                     *timed(json_before)))  # fmt: skip
        rows.append(("JSON report (--slow-report-json)", *timed(json_report)))

        def html_page() -> None:
            from pytest_tempo.advice.render import render_html as advice_html

            page = render_html(summary, timings, extras=[advice_html(advice)])
            (root / "run.html").write_text(page, encoding="utf-8")

        rows.append(("HTML page (--tempo-html)", *timed(html_page)))
    return rows


# --- a real run ------------------------------------------------------------------------------

RUSAGE = """
import json, os, resource


def pytest_unconfigure(config):
    if hasattr(config, "workerinput"):
        return
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(os.environ["TEMPO_SCALE_OUT"], "w") as f:
        json.dump({"peak_kib": peak}, f)
"""

GC_TEST = """
import gc, json, os, statistics, time


def test_zz_gc():
    samples = []
    for _ in range(7):
        start = time.perf_counter()
        gc.collect()
        samples.append(time.perf_counter() - start)
    tracked = len(gc.get_objects())
    name = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with open(os.environ["TEMPO_SCALE_OUT"] + "." + name, "w") as f:
        json.dump({"seconds": statistics.median(samples), "tracked": tracked}, f)
"""


def write_param_suite(root: Path, tests: int, per_file: int = 1_000) -> None:
    """``tests`` tiny tests, ``per_file`` parametrizations of one function per module."""
    for f in range(0, tests, per_file):
        count = min(per_file, tests - f)
        body = f"import pytest\n\n@pytest.mark.parametrize('n', range({count}))\n"
        (root / f"test_p{f // per_file:03d}.py").write_text(body + "def test_n(n):\n    pass\n")
    (root / "pytest.ini").write_text("[pytest]\n")


def run_pytest(root: Path, args: list[str], out: Path) -> dict[str, Any]:
    env = dict(ENV, TEMPO_SCALE_OUT=str(out))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *args]
    done = subprocess.run(command, cwd=root, env=env, stdout=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {done.returncode}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def memory(tests: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_param_suite(root, tests)
        (root / "conftest.py").write_text(RUSAGE)
        out = root / "rusage.json"
        peaks: dict[str, list[int]] = {"off": [], "on": []}
        for round_ in range(2):
            for name, args in (("off", ["-p", "no:tempo"]), ("on", [])):
                peak = run_pytest(root, args, out)["peak_kib"]
                peaks[name].append(peak)
                shown = f"{peak / 1024:.1f} MiB"
                print(f"run {round_ + 1}, plugin {name}: peak RSS {shown}", flush=True)
        off, on = peaks["off"][-1], peaks["on"][-1]
        store = root / ".pytest_cache" / "v" / "tempo" / "durations"
        size = store.stat().st_size / 2**20 if store.exists() else 0.0
        print(f"\n{tests:,} tests (store {size:.1f} MiB), second runs:")
        print("| plugin | peak RSS | per test |\n|---|---:|---:|")
        print(f"| off (-p no:tempo) | {off / 1024:.1f} MiB | |")
        print(f"| on | {on / 1024:.1f} MiB | {(on - off) * 1024 / tests:.0f} B more |")


def gc_time(tests: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_param_suite(root, tests)
        (root / "test_zz_gc.py").write_text(GC_TEST)
        out = root / "gc.json"
        results: dict[str, dict[str, Any]] = {}
        for _ in range(2):  # the first run writes the store the second reads
            for mode, extra in (("serial", []), ("-n 2", ["-n", "2"])):
                for name, args in (("off", ["-p", "no:tempo"]), ("on", [])):
                    run_pytest(root, [*args, *extra], out)
                    found = next(root.glob("gc.json.*"))
                    results[f"{mode} {name}"] = json.loads(found.read_text())
                    found.unlink()
        print(f"\n{tests:,} tests, gc.collect() on the process that ran the last test "
              "(median of 7), second runs:")  # fmt: skip
        print("| process | plugin off | plugin on | on / off | objects tracked, off / on |")
        print("|---|---:|---:|---:|---:|")
        for mode in ("serial", "-n 2"):
            off, on = results[f"{mode} off"], results[f"{mode} on"]
            print(
                f"| {'the only process' if mode == 'serial' else 'an xdist worker'} | "
                f"{off['seconds'] * 1000:.1f} ms | {on['seconds'] * 1000:.1f} ms | "
                f"{on['seconds'] / off['seconds']:.3f} | {off['tracked']:,} / {on['tracked']:,} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("writers", "memory", "gc", "all"))
    parser.add_argument("--tests", type=int, default=100_000, help="writers and memory")
    parser.add_argument("--gc-tests", type=int, default=10_000)
    args = parser.parse_args()
    if args.what in ("writers", "all"):
        rows = writers(args.tests)
        print(f"{args.tests:,} tests, median of 5\n")
        print("| writer | CPU s | wall s |\n|---|---:|---:|")
        for name, cpu, wall in rows:
            print(f"| {name} | {cpu:.3f} | {wall:.3f} |")
    if args.what in ("memory", "all"):
        memory(args.tests)
    if args.what in ("gc", "all"):
        gc_time(args.gc_tests)


if __name__ == "__main__":
    main()
