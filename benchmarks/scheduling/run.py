"""Scheduling benchmark: real runs under ``-n 2`` and simulated runs at 4, 8 and 16 workers.

Run by hand from the repository root::

    python benchmarks/scheduling/run.py            # real runs, CPU-bound and sleeping variants
    python benchmarks/scheduling/run.py --simulate # the simulation table only
    python benchmarks/scheduling/run.py --shards   # shard balance for N = 2, 4, 8
    python benchmarks/scheduling/run.py --matrix   # suite shape x fault x workers, simulated
    python benchmarks/scheduling/run.py --matrix --seeds 2 --shapes A --faults "50% unrecorded"

The full matrix (every shape and fault) writes its tables to ``RESULTS.md`` beside this file
and prints the worst run per fault and a PASS/FAIL per criterion.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
WORKERS = (2, 4, 8, 16, 32)
RESULTS = Path(__file__).with_name("RESULTS.md")


def _median(values: list[float]) -> str:
    """The median, or "stalls" when a scheduler never finished one of the runs."""
    if any(math.isnan(v) for v in values):
        return "stalls"
    return f"{statistics.median(values):.3f}"


RULES = {"complete": "complete data", "50% unrecorded": "50% unrecorded"}


@dataclass
class Run:
    shape: str
    fault: str
    workers: int
    seed: int
    ratios: dict[str, float]

    @property
    def where(self) -> str:
        return f"{self.shape[:1]} / {self.fault} / n={self.workers} / seed {self.seed}"

    @property
    def ok(self) -> bool:
        from tests.simulation import limit

        return self.ratios["duration"] <= limit(self.fault, self.ratios) + 1e-9

    def line(self) -> str:
        r = self.ratios
        return (
            f"{self.where}: duration {r['duration']:.3f}, load {r['load']:.3f}, "
            f"worksteal {r['worksteal']:.3f}, oracle {r['oracle']:.3f}"
        )


def run_matrix(seeds: int, shapes: list[Any], faults: list[str]) -> list[Run]:
    from tests.simulation import apply_fault, real_suite, run_cell

    runs: list[Run] = []
    for shape in shapes:
        suites = [real_suite(shape, seed) for seed in range(1, seeds + 1)]
        for fault in faults:
            for workers in WORKERS:
                for seed, suite in enumerate(suites, start=1):
                    case = apply_fault(suite, fault, workers, seed)
                    ratios = run_cell(case, workers, MATRIX_MODES)
                    runs.append(Run(shape.name, fault, workers, seed, ratios))
    return runs


def shape_table(runs: list[Run], shape: str, faults: list[str]) -> list[str]:
    """One Markdown table: per fault and n, the median of the seeds per mode."""
    lines = [
        f"### {shape}",
        "",
        f"| fault | n | {' | '.join(MATRIX_MODES)} | duration, worst |",
        "|---|---|" + "---:|" * (len(MATRIX_MODES) + 1),
    ]
    for fault in faults:
        for workers in WORKERS:
            cell = [r for r in runs if (r.shape, r.fault, r.workers) == (shape, fault, workers)]
            if not cell:
                continue
            values = " | ".join(_median([r.ratios[m] for r in cell]) for m in MATRIX_MODES)
            worst = max(r.ratios["duration"] for r in cell)
            lines.append(f"| {fault} | {workers} | {values} | {worst:.3f} |")
    return [*lines, ""]


def summary(runs: list[Run], faults: list[str]) -> list[str]:
    """Per fault: the median cell and the worst run of each mode, and where the worst is."""
    lines = [
        "| fault | `duration` (median cell) | `duration` (worst run) | `load` (median cell) "
        "| `worksteal` (median cell) | oracle (worst run) | `duration` / oracle (worst run) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    worst_lines = []
    for fault in faults:
        mine = [r for r in runs if r.fault == fault]
        cells: dict[tuple[str, int], list[Run]] = {}
        for r in mine:
            cells.setdefault((r.shape, r.workers), []).append(r)

        def median_cell(mode: str, cells: dict[tuple[str, int], list[Run]] = cells) -> float:
            return statistics.median(
                statistics.median(r.ratios[mode] for r in cell) for cell in cells.values()
            )

        worst = max(mine, key=lambda r: r.ratios["duration"])
        oracle = max(r.ratios["oracle"] for r in mine)
        behind = max(r.ratios["duration"] / r.ratios["oracle"] for r in mine)
        lines.append(
            f"| {fault} | {median_cell('duration'):.3f} | {worst.ratios['duration']:.3f} "
            f"| {median_cell('load'):.3f} | {median_cell('worksteal'):.3f} | {oracle:.3f} "
            f"| {behind:.3f} |"
        )
        worst_lines.append(f"- worst {fault}: {worst.line()}")
    return [*lines, "", *worst_lines, ""]


def verdicts(runs: list[Run], faults: list[str]) -> list[str]:
    """PASS/FAIL per criterion, with the runs that break it."""
    lines = []
    for fault in faults:
        mine = [r for r in runs if r.fault == fault]
        broken = [r for r in mine if not r.ok]
        rule = RULES.get(fault)
        verdict = ("PASS" if not broken else "FAIL") if rule else "info"
        what = {
            "complete": "duration <= min(1.05, better of load/worksteal)",
            "50% unrecorded": "duration <= max(1.10, 1.02 x better of load/worksteal)",
        }.get(fault, "duration <= better of load/worksteal")
        lines.append(
            f"- {verdict}: {fault}: {what} in {len(mine) - len(broken)} of {len(mine)} runs"
        )
        lines.extend(f"  - {r.line()}" for r in broken)
    return [*lines, ""]


def matrix(seeds: int, shape_names: str, fault_names: list[str] | None, write: bool) -> None:
    """Every suite shape x fault x worker count, ``seeds`` generated suites per cell.

    Prints the worst run per fault and a PASS/FAIL per criterion; the full run writes the
    tables to RESULTS.md.
    """
    from tests.simulation import FAULTS, SHAPES

    shapes = [s for s in SHAPES if s.name[:1] in shape_names]
    faults = [f for f in FAULTS if fault_names is None or f in fault_names]
    runs = run_matrix(seeds, shapes, faults)
    top = summary(runs, faults)
    rules = verdicts(runs, faults)
    tables = [line for shape in shapes for line in shape_table(runs, shape.name, faults)]
    print("\n".join([*top, *rules]))
    if not write:
        print("\n".join(tables))
        return
    import xdist

    RESULTS.write_text(
        "\n".join(
            [
                "# Scheduling matrix (generated)",
                "",
                "Written by `python benchmarks/scheduling/run.py --matrix "
                f"--seeds {seeds}` (pytest-xdist {xdist.__version__}); see",
                "`benchmarks/README.md` for the suites, the faults and the rules. Figures are",
                "makespan / lower bound max(longest test, total / workers) of the tests that",
                f"ran; medians of {seeds} generated suites per cell, and for `duration` also",
                'the worst of them. "stalls": xdist\'s `loadscope` never finished a run.',
                "",
                "## Per fault",
                "",
                *top,
                "## Criteria",
                "",
                *rules,
                "## Per suite shape",
                "",
                *tables,
            ]
        ),
        encoding="utf-8",
    )
    print(f"tables written to {RESULTS.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--simulate", action="store_true", help="only the simulation table")
    parser.add_argument("--shards", action="store_true", help="only the shard balance")
    parser.add_argument("--matrix", action="store_true", help="shape x fault x n, simulated")
    parser.add_argument("--real", choices=["CPU-bound", "sleeping"], help="only this real suite")
    parser.add_argument("--shapes", default="ABC", help="matrix: the suite shapes (letters)")
    parser.add_argument("--faults", help="matrix: only these faults (comma-separated)")
    args = parser.parse_args()
    if args.real:
        real(args.runs, (args.real,))
    elif args.simulate:
        simulated(args.seeds)
    elif args.shards:
        shards(args.seeds)
    elif args.matrix:
        faults = args.faults.split(",") if args.faults else None
        full = args.shapes == "ABC" and faults is None
        matrix(args.seeds, args.shapes, faults, write=full)
    else:
        real(args.runs)
        simulated(args.seeds)
        shards(args.seeds)


if __name__ == "__main__":
    main()
