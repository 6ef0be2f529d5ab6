"""The durations store: how long a large store takes, and whether concurrent runs keep it all.

    python benchmarks/store.py --tests 100000          # read, fold and write times
    python benchmarks/store.py --concurrent            # two runs at once, three rounds
    python benchmarks/store.py --concurrent --source OTHER/src   # another checkout's plugin
    valgrind --tool=callgrind python benchmarks/store.py --one-run 3000 [--setup-only]

The first part times, on a store of N tests with five samples per phase (what a suite has
after five runs), each step the end of a run takes: reading and checking the store, folding
one run's measurements in, and writing it (compact in the cache, and one test per line as a
``durations_path`` file), then a whole update under the lock. Median of five, CPU and wall
seconds.

``--one-run N`` does once what a run of N tests does with the store, for an instruction
count under callgrind: read and check it, read the recorded calls (as the ``tiers`` order
does), fold the run in, write it. With ``--setup-only`` it only builds the store text and
the run's records, so the difference of the two counts, divided by N, is the store's cost
per test. It runs against any checkout (``PYTHONPATH=OTHER/src``).

The second runs the scenario of the test ``test_concurrent_runs_keep_every_sample``: a
200-test suite, two pytest processes started together in one folder (one serial, one with
``-n 2``), both past reading the store before either writes, three rounds (both run all
tests twice, then half each), and counts the call samples kept against the 1,000 measured.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_tempo.durations import KEEP, Measured, fold, fold_records
from pytest_tempo.durations_io import Location, encode, open_store, write_atomic
from pytest_tempo.durations_record import Recorder

if TYPE_CHECKING:  # (only the plugin of this checkout has it: any checkout runs this)
    from pytest_tempo.durations import Entries


def big_store(tests: int) -> Entries:
    store: Entries = {}
    for i in range(tests):
        nodeid = f"tests/unit/test_module_{i // 50:04d}.py::TestThing::test_case_{i:06d}[param]"
        base = 0.0001 * (1 + i % 997)
        store[nodeid] = {
            "at": [1_750_000_000.0 + i],
            "setup": [round(base / 7, 6)] * KEEP,
            "call": [round(base * (1 + k / 10), 6) for k in range(KEEP)],
            "teardown": [round(base / 9, 6)] * KEEP,
            "shared": [0.0] * KEEP,
            "marks": ["slow"] if i % 100 == 0 else [],
        }
    return store


def timed(action: object, repeat: int = 5) -> tuple[float, float]:
    """Median (CPU, wall) seconds: on a shared machine CPU time is the steadier one."""
    cpu, wall = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        action()  # type: ignore[operator]
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    return statistics.median(cpu), statistics.median(wall)


def sizes(tests: int) -> None:
    store = big_store(tests)
    measured = [
        (n, Measured(0.001, 0.002, 0.001, {"setup", "call", "teardown"}, at=1.8e9)) for n in store
    ]
    with tempfile.TemporaryDirectory() as tmp:
        compact = Location.of_file(Path(tmp) / "compact")
        compact = Location(compact.path, compact.journals, readable=False)
        readable = Location.of_file(Path(tmp) / "readable.json")
        write_atomic(compact.path, encode(store, []))
        write_atomic(readable.path, encode(store, [], readable=True))
        parsed = open_store(compact)[0]
        held = parsed.store  # the store as a run holds it
        rows = [
            ("read and check (compact)", timed(lambda: open_store(compact))),
            ("read and check (one test per line)", timed(lambda: open_store(readable))),
            ("fold one run in", timed(lambda: fold(parsed.store, measured))),
            ("write (compact)", timed(lambda: write_atomic(compact.path, encode(held, [])))),
            ("write (one test per line)",
             timed(lambda: write_atomic(readable.path, encode(held, [], readable=True)))),
            ("a run's whole update under the lock (store changed since the start: read again)",
             timed(lambda: Recorder(compact).finish(dict(measured), None))),
        ]  # fmt: skip
        size = compact.path.stat().st_size / 2**20
        size_readable = readable.path.stat().st_size / 2**20
    print(f"{tests:,} tests; store {size:.1f} MiB compact, {size_readable:.1f} MiB one per line\n")
    print("| step | CPU s | wall s |\n|---|---:|---:|")
    for name, (cpu, wall) in rows:
        print(f"| {name} | {cpu:.3f} | {wall:.3f} |")


CONFTEST = """
import os, pathlib, time

def pytest_sessionstart(session):
    if os.environ.get("PYTEST_XDIST_WORKER") or not os.environ.get("TEMPO_BARRIER"):
        return
    folder = pathlib.Path(os.environ["TEMPO_BARRIER"])
    folder.joinpath(str(os.getpid())).write_text("")
    deadline = time.monotonic() + 60
    while len(list(folder.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
"""


def concurrent(source: str | None) -> None:
    body = "import pytest\n@pytest.mark.parametrize('i', range(100))\ndef test_n(i): pass\n"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "test_one.py").write_text(body)
        (root / "test_two.py").write_text(body)
        (root / "conftest.py").write_text(CONFTEST)
        (root / "pytest.ini").write_text("[pytest]\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("COV_CORE_")}
        if source:
            env["PYTHONPATH"] = source
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cov"]
        rounds = [([], []), ([], []), (["test_one.py"], ["test_two.py"])]
        for number, (first, second) in enumerate(rounds):
            barrier = root / f"barrier-{number}"
            barrier.mkdir()
            env["TEMPO_BARRIER"] = str(barrier)
            procs = [
                subprocess.Popen([*command, *first], cwd=root, env=env, stdout=subprocess.DEVNULL),
                subprocess.Popen([*command, "-n", "2", *second], cwd=root, env=env,
                                 stdout=subprocess.DEVNULL),
            ]  # fmt: skip
            for proc in procs:
                proc.wait(timeout=300)
        value = json.loads((root / ".pytest_cache/v/tempo/durations").read_text())
        kept = sum(len(entry.get("call", [])) for entry in value["tests"].values())
    print("| measured | kept | lost |\n|---:|---:|---:|")
    print(f"| 1,000 | {kept:,} | {1000 - kept:,} |")


def one_run(tests: int, setup_only: bool) -> None:
    from pytest_tempo.durations import recorded_calls
    from pytest_tempo.durations_io import decode
    from pytest_tempo.durations_journal import to_raw

    text = encode(big_store(tests), [])
    phases = {"setup", "call", "teardown"}
    records = [
        to_raw(nodeid, Measured(0.000123 + i * 1e-9, 0.000234, 0.0000345, phases, at=1.8e9))
        for i, nodeid in enumerate(json.loads(text)["tests"])
    ]
    if setup_only:
        return
    parsed = decode(text)
    try:
        recorded_calls(parsed.store, 0.1)  # what the tiers order reads (threshold 1 s)
    except TypeError:  # a plugin whose order reads every call
        recorded_calls(parsed.store)
    fold_records(parsed.store, records)
    encode(parsed.store, [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=100_000)
    parser.add_argument("--concurrent", action="store_true")
    parser.add_argument("--source", help="PYTHONPATH for the runs: another checkout's src")
    parser.add_argument("--one-run", type=int, metavar="N", help="one run's store work, once")
    parser.add_argument("--setup-only", action="store_true", help="with --one-run: no work")
    args = parser.parse_args()
    if args.one_run is not None:
        one_run(args.one_run, args.setup_only)
    elif args.concurrent:
        concurrent(args.source)
    else:
        sizes(args.tests)


if __name__ == "__main__":
    main()
