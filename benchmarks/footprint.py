"""What the plugin keeps in a test process: gc.collect() time and the controller's memory.

    python benchmarks/footprint.py                      # 10,000 tests: gc; 20,000: memory
    python benchmarks/footprint.py --gc-tests 10000 --memory-tests 100000 --runs 5

**gc.collect()**: a generated suite of trivial tests whose last test calls ``gc.collect()``
20 times and writes the median; the durations store holds every test (two warm-up runs).
Plugin on and ``-p no:tempo`` alternate, ``--runs`` times each; the ratio of the medians.
Every container the plugin keeps alive (the store read at the start, the per-test tuples)
is walked by each full collection, so this is what a suite that calls ``gc.collect()`` in
its tests or fixtures pays.

**Memory**: the largest resident set of the pytest process (``ru_maxrss``) running a
generated suite, plugin on and off, after two warm-up runs; the difference per test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

GC_TEST = """
import gc, os, statistics, time


def test_zz_gc():
    times = []
    for _ in range(20):
        start = time.process_time()  # CPU time: the machine may be shared
        gc.collect()
        times.append(time.process_time() - start)
    with open(os.environ["TEMPO_GC_OUT"], "w") as f:
        f.write(repr(statistics.median(times)))
"""

ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def write_suite(root: Path, tests: int, per_file: int = 100) -> None:
    for f in range(tests // per_file):
        body = [f"def test_{f}_{t}():\n    assert True\n" for t in range(per_file)]
        (root / f"test_gen_{f:05d}.py").write_text("\n".join(body))
    (root / "pytest.ini").write_text("[pytest]\n")


def run(root: Path, args: list[str], env: dict[str, str]) -> None:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cov", *args]
    done = subprocess.run(command, cwd=root, env=env, stdout=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {done.returncode}")


def measure_gc(tests: int, runs: int, callgrind: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_suite(root, tests)
        (root / "test_zz_gc.py").write_text(GC_TEST)
        out = root / "gc.out"
        env = {**ENV, "TEMPO_GC_OUT": str(out)}
        variants = {"off": ["-p", "no:tempo"], "on": []}
        for args in variants.values():  # warm the caches and the store
            run(root, args, env)
            run(root, args, env)
        seconds: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(runs):
            for name, args in variants.items():
                run(root, args, env)
                seconds[name].append(float(out.read_text()))
        if runs:
            off, on = (statistics.median(seconds[n]) for n in ("off", "on"))
            print(f"gc.collect(), {tests:,} tests, store warm: off {off * 1e3:.2f} ms, "
                  f"on {on * 1e3:.2f} ms, on/off {on / off:.3f} (medians of {runs})")  # fmt: skip
        if callgrind:
            counts = {name: gc_instructions(root, args, env) for name, args in variants.items()}
            print(f"gc.collect() x20, {tests:,} tests, store warm, instructions: "
                  f"off {counts['off']:,}, on {counts['on']:,}, "
                  f"on/off {counts['on'] / counts['off']:.3f}")  # fmt: skip


#: CPython's function behind ``gc.collect()`` (Argument Clinic's wrapper; the collections
#: the interpreter starts by itself do not go through it). Checked on CPython 3.11.
GC_FUNCTION = "gc_collect"


def gc_instructions(root: Path, args: list[str], env: dict[str, str]) -> int:
    """Instructions of the ``gc.collect()`` calls of one run, counted by callgrind: they
    repeat from run to run, where CPU time on a shared machine drifts by 5% or more."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cov", *args]
    grind = ["valgrind", "--tool=callgrind", f"--toggle-collect={GC_FUNCTION}",
             "--callgrind-out-file=/dev/null"]  # fmt: skip
    done = subprocess.run([*grind, *command], cwd=root, env=env, capture_output=True,
                          text=True, check=False)  # fmt: skip
    found = [line for line in done.stderr.splitlines() if "Collected :" in line]
    if done.returncode != 0 or not found:
        raise RuntimeError(f"valgrind {' '.join(command)} exited with {done.returncode}")
    return int(found[-1].split(":")[-1].replace(",", "").strip())


def measure_memory(tests: int) -> None:
    # ru_maxrss of RUSAGE_CHILDREN is the largest of all children so far: the smaller
    # variant runs first, each in a fresh interpreter that runs nothing else.
    results = {}
    for name, args in (("off", ["-p", "no:tempo"]), ("on", [])):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            write_suite(root, tests)
            script = (
                "import resource, subprocess, sys\n"
                f"cmd = [sys.executable, '-m', 'pytest', '-q', '-p', 'no:randomly', "
                f"'-p', 'no:cov', *{args!r}]\n"
                "for _ in range(3):\n"
                "    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)\n"
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
            )
            done = subprocess.run(
                [sys.executable, "-c", script], cwd=root, env=ENV, capture_output=True,
                text=True, check=True,
            )  # fmt: skip
            results[name] = int(done.stdout.split()[-1])
    per_test = (results["on"] - results["off"]) * 1024 / tests
    print(f"memory, {tests:,} tests, store warm: off {results['off'] / 1024:.0f} MiB, "
          f"on {results['on'] / 1024:.0f} MiB, {per_test:.0f} bytes per test")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gc-tests", type=int, default=10_000)
    parser.add_argument("--memory-tests", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="also count the instructions of the gc.collect() calls, once per variant",
    )
    args = parser.parse_args()
    if args.gc_tests:
        measure_gc(args.gc_tests, args.runs, args.callgrind)
    if args.memory_tests:
        measure_memory(args.memory_tests)


if __name__ == "__main__":
    main()
