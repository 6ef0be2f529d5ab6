"""Scheduling benchmark: real runs under ``-n 2`` and simulated runs at 4, 8 and 16 workers.

Run by hand from the repository root::

    python benchmarks/scheduling/run.py            # real runs, CPU-bound and sleeping variants
    python benchmarks/scheduling/run.py --simulate # the simulation table only
    python benchmarks/scheduling/run.py --shards   # shard balance for N = 2, 4, 8
    python benchmarks/scheduling/run.py --matrix   # suite shape x fault x workers, simulated

Real runs: a generated suite with a skewed duration mix (many tests of milliseconds, a few
of seconds, the long ones scattered through the collection) runs once to record durations,
then ``--dist load``, ``--dist worksteal`` and ``--tempo-dist=duration`` run alternately,
several times each. Printed per mode: the median wall time of the whole pytest process, the
median makespan of the tests themselves (first set-up to last teardown, from
``--slow-report-json``), and the makespan's ratio to the lower bound
max(longest test, total / workers) computed from the recorded durations.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.simulation import QUIET, lower_bound, simulate, skewed_mix  # noqa: E402

MODES = {
    "load": ["--dist=load"],
    "worksteal": ["--dist=worksteal"],
    "duration": ["--tempo-dist=duration"],
}

CPU = """def burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
"""
SLEEP = "def burn(seconds):\n    time.sleep(seconds)\n"


def write_suite(root: Path, work: str, seed: int = 7) -> None:
    """12 modules of 40 tests: 475 of 2-6 ms, five of 1.2-3 s (about 70% of the total)."""
    rng = random.Random(seed)
    places = [(1, 30), (5, 12), (8, 39), (10, 3), (11, 38)]
    long_tests = dict(zip(places, [3.0, 2.6, 2.2, 1.6, 1.2], strict=True))
    for m in range(12):
        lines = ["import time", "", work]
        for t in range(40):
            seconds = long_tests.get((m, t), rng.uniform(0.002, 0.006))
            lines.append(f"def test_{t}():\n    burn({seconds:.4f})\n")
        (root / f"test_mod{m:02d}.py").write_text("\n".join(lines))
    (root / "pytest.ini").write_text("[pytest]\n")


def run(root: Path, args: list[str], report: Path) -> tuple[float, float]:
    command = [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:randomly",
               f"--slow-report-json={report}", *args]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, cwd=root, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    tests = json.loads(report.read_text())["all_tests"]
    makespan = max(t["stop"] for t in tests) - min(t["start"] for t in tests)
    return wall, makespan


def stored_bound(root: Path, workers: int = 2) -> float:
    store = json.loads((root / ".pytest_cache" / "v" / "tempo" / "durations").read_text())
    totals = [
        sum(statistics.median(e[phase]) for phase in ("setup", "call", "teardown"))
        for e in store["tests"].values()
    ]
    return lower_bound(totals, workers)


def real(runs: int, variants: tuple[str, ...] = ("CPU-bound", "sleeping")) -> None:
    for name, work in (("CPU-bound", CPU), ("sleeping", SLEEP)):
        if name not in variants:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            write_suite(root, work)
            report = root / "report.json"
            run(root, [], report)  # record durations (and warm caches)
            run(root, [], report)
            bound = stored_bound(root)
            walls: dict[str, list[float]] = {m: [] for m in MODES}
            spans: dict[str, list[float]] = {m: [] for m in MODES}
            for _ in range(runs):
                for mode, args in MODES.items():
                    # The same collection order for every mode; only --tempo-dist reads the
                    # store, and the built-in modes do not record into it.
                    extra = [] if mode == "duration" else ["-p", "no:cacheprovider"]
                    wall, span = run(root, [*args, "--tempo-order=off", *extra], report)
                    walls[mode].append(wall)
                    spans[mode].append(span)
            print(f"\n{name} suite, 480 tests, -n 2, {runs} runs per mode")
            print(f"lower bound from the store: {bound:.2f} s")
            print(f"{'mode':<10} {'wall (median)':>14} {'makespan':>10} {'makespan/bound':>15}")
            for mode in MODES:
                w, s = statistics.median(walls[mode]), statistics.median(spans[mode])
                print(f"{mode:<10} {w:>12.2f} s {s:>8.2f} s {s / bound:>15.3f}")


def simulated(seeds: int) -> None:
    import xdist.scheduler
    from tests.test_scheduling import duration_scheduler, recorded_for

    makers = {
        "duration": None,
        "load": lambda config, n: xdist.scheduler.LoadScheduling(config, QUIET),
        "worksteal": lambda config, n: xdist.scheduler.WorkStealingScheduling(config, QUIET),
    }
    print("\nsimulated makespan / lower bound, 3,000 tests, slowest 1% = 60-75% of the time")
    print(f"{'workers':>7} " + " ".join(f"{m:>10}" for m in makers))
    for workers in (4, 8, 16):
        ratios: dict[str, list[float]] = {m: [] for m in makers}
        for seed in range(seeds):
            rng = random.Random(seed)
            durations = skewed_mix(seed, 3000, rng.uniform(0.6, 0.75), rng.uniform(0.05, 0.12))
            bound = lower_bound(durations, workers)
            for mode, make in makers.items():
                maker = make or duration_scheduler(recorded_for(durations, seed=seed))
                ratios[mode].append(simulate(maker, durations, workers).makespan / bound)
        cells = " ".join(f"{statistics.median(r):>10.3f}" for r in ratios.values())
        worst = max(ratios["duration"])
        print(f"{workers:>7} {cells}   (duration worst of {seeds}: {worst:.3f})")


def shards(seeds: int) -> None:
    from pytest_tempo.shards import Basis

    print("\nshard balance: max shard / mean shard seconds (median over seeds)")
    for count in (2, 4, 8):
        values = []
        for seed in range(seeds):
            durations = skewed_mix(seed, 3000)
            ids = [f"t::{i}" for i in range(len(durations))]
            seconds = dict(zip(ids, durations, strict=True))
            basis = Basis.of(ids, seconds)
            loads = [0.0] * count
            for nodeid, shard in zip(basis.tests, basis.shards(count), strict=True):
                loads[shard] += seconds[nodeid]
            values.append(max(loads) / (sum(loads) / count))
        print(f"  N={count}: {statistics.median(values):.3f}")


MATRIX_MODES = ("duration", "load", "worksteal", "loadscope", "oracle")


def _median(values: list[float]) -> str:
    """The median, or "stalls" when a scheduler never finished one of the runs."""
    if any(math.isnan(v) for v in values):
        return "stalls"
    return f"{statistics.median(values):.3f}"


def passes(fault: str, ratios: dict[str, float]) -> bool:
    """The rule a cell must meet: see benchmarks/README.md."""
    better = min(ratios["load"], ratios["worksteal"])
    if fault == "50% unrecorded":
        return ratios["duration"] <= max(1.10, 1.02 * better) + 1e-9
    if fault == "complete":
        return ratios["duration"] <= min(1.05, better) + 1e-9
    return True  # reported, no rule


def matrix(seeds: int) -> None:
    """Every suite shape x fault x worker count, ``seeds`` generated suites per cell.

    Prints a Markdown table per shape: the median makespan / lower bound per mode, and the
    worst of the seeds for ``duration``; then the cells that break the rule.
    """
    from tests.simulation import FAULTS, SHAPES, apply_fault, real_suite, run_cell

    failures: list[str] = []
    worst: tuple[float, str] = (0.0, "")
    for shape in SHAPES:
        suites = [real_suite(shape, seed) for seed in range(1, seeds + 1)]
        print(f"\n#### {shape.name}\n")
        head = " | ".join(MATRIX_MODES)
        print(f"| fault | n | {head} | duration, worst |")
        print("|---|---|" + "---|" * (len(MATRIX_MODES) + 1))
        for fault in FAULTS:
            for workers in (2, 4, 8, 16, 32):
                cells: dict[str, list[float]] = {m: [] for m in MATRIX_MODES}
                for seed, suite in enumerate(suites, start=1):
                    case = apply_fault(suite, fault, workers, seed)
                    ratios = run_cell(case, workers, MATRIX_MODES)
                    for mode, value in ratios.items():
                        cells[mode].append(value)
                    where = f"{shape.name[:1]} / {fault} / n={workers} / seed {seed}"
                    if not passes(fault, ratios):
                        failures.append(
                            f"{where}: duration {ratios['duration']:.3f}, load "
                            f"{ratios['load']:.3f}, worksteal {ratios['worksteal']:.3f}"
                        )
                    if fault == "complete" and ratios["duration"] > worst[0]:
                        worst = (ratios["duration"], where)
                values = " | ".join(_median(cells[m]) for m in MATRIX_MODES)
                print(f"| {fault} | {workers} | {values} | {max(cells['duration']):.3f} |")
    print(f"\nworst complete-data cell for duration: {worst[0]:.3f} ({worst[1]})")
    print(f"cells breaking the rule: {len(failures)}")
    for line in failures:
        print(f"  {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--simulate", action="store_true", help="only the simulation table")
    parser.add_argument("--shards", action="store_true", help="only the shard balance")
    parser.add_argument("--matrix", action="store_true", help="shape x fault x n, simulated")
    parser.add_argument("--real", choices=["CPU-bound", "sleeping"], help="only this real suite")
    args = parser.parse_args()
    if args.real:
        real(args.runs, (args.real,))
    elif args.simulate:
        simulated(args.seeds)
    elif args.shards:
        shards(args.seeds)
    elif args.matrix:
        matrix(args.seeds)
    else:
        real(args.runs)
        simulated(args.seeds)
        shards(args.seeds)


if __name__ == "__main__":
    main()
