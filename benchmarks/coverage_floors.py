"""Measure the cost of checking coverage floors against the cost of one coverage report.

Run by hand from the repository root::

    python benchmarks/coverage_floors.py                 # 1,000 files, branch coverage
    python benchmarks/coverage_floors.py --files 200 --lines-only

A project of generated modules is written to a temporary directory, with coverage data
for it (a deterministic part of each module's arcs or lines marked executed; nothing is
traced). Then, alternating, several times:

- ``report``: one ``Coverage.report()`` over all the data, what ``coverage report`` and
  pytest-cov's terminal report do;
- ``floors``: pytest-tempo's check of 10 floors (``total`` and 9 globs): every file
  analysed once, then aggregated per pattern in memory;
- ``report per floor``: for reference, the naive way, one ``Coverage.report(include=...)``
  per floor.

Each run loads the data into a fresh ``Coverage`` object, so no run reuses another's
analysis. The medians and the ratio floors / report are printed.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from coverage import Coverage, CoverageData
from coverage.parser import PythonParser

from pytest_tempo.coverage_floors import evaluate, measure
from pytest_tempo.settings import parse_cov_floors

if TYPE_CHECKING:
    from collections.abc import Callable

PACKAGES = 20

FLOORS = [
    "total: 50",
    "src/app/pkg00/*: 90",
    "src/app/pkg01/*: 80",
    "src/app/pkg02/*: 70",
    "src/app/pkg1?/*: 60",
    "src/app/**/mod000.py: 100",
    "src/app/**/mod01*.py: 75",
    "src/app/pkg05/mod02?.py: 50",
    "mod03*.py: 40",
    "src/app/pkg19/*: 30",
]

FUNCTION = """

def f{n}(value, flag=False):
    total = 0
    if value > {n}:
        total += value
    else:
        total -= value
    for item in range(3):
        if flag and item:
            total += item
    while total > 100:
        total //= 2
    return total if flag else -total
"""


def module_source(index: int) -> str:
    """A module of about 50 statements and 16 branches."""
    head = f'"""Generated module {index}."""\n\nCONSTANT = {index}\n'
    return head + "".join(FUNCTION.format(n=n) for n in range(4))


def generate(root: Path, files: int, branch: bool) -> Path:
    """Write the project and its coverage data file; return the data file."""
    data_file = root / ".coverage"
    data = CoverageData(basename=str(data_file))
    per_package = max(1, files // PACKAGES)
    measured_arcs: dict[str, list[tuple[int, int]]] = {}
    measured_lines: dict[str, list[int]] = {}
    for index in range(files):
        package = root / "src" / "app" / f"pkg{index // per_package:02d}"
        package.mkdir(parents=True, exist_ok=True)
        path = package / f"mod{index % per_package:03d}.py"
        path.write_text(module_source(index))
        parser = PythonParser(filename=str(path))
        parser.parse_source()
        # Deterministic partial coverage: the first files fully, the others less.
        keep = 1 + index % 7
        if branch:
            arcs = sorted(parser.arcs())
            measured_arcs[str(path)] = [a for i, a in enumerate(arcs) if i % 8 < keep]
        else:
            lines = sorted(parser.statements)
            measured_lines[str(path)] = [n for i, n in enumerate(lines) if i % 8 < keep]
    if branch:
        data.add_arcs(measured_arcs)
    else:
        data.add_lines(measured_lines)
    data.write()
    return data_file


def fresh(data_file: Path) -> Coverage:
    cov = Coverage(data_file=str(data_file), config_file=False)
    cov.load()
    return cov


def run_report(data_file: Path, _root: str) -> float:
    return fresh(data_file).report(file=io.StringIO())


def run_floors(data_file: Path, root: str) -> float:
    floors = parse_cov_floors(FLOORS)
    files = measure(fresh(data_file), root)
    verdict = evaluate(floors, files, precision=0)
    assert len(verdict.results) == len(FLOORS)
    assert not verdict.unmatched, verdict.unmatched
    return len(files)


def run_report_per_floor(data_file: Path, _root: str) -> float:
    cov = fresh(data_file)
    for floor in parse_cov_floors(FLOORS):
        # coverage makes a pattern absolute against the current directory, the root here.
        include = None if floor.is_total else [floor.pattern]
        cov.report(include=include, file=io.StringIO())
    return 0.0


def timed(fn: Callable[[Path, str], float], data_file: Path, root: str) -> float:
    start = time.perf_counter()
    fn(data_file, root)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000, help="measured files (1000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each (5)")
    parser.add_argument("--lines-only", action="store_true", help="no branch coverage")
    parser.add_argument(
        "--skip-per-floor", action="store_true", help="skip the naive report-per-floor runs"
    )
    args = parser.parse_args()
    branch = not args.lines_only

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve()
        os.chdir(root)
        data_file = generate(root, args.files, branch)
        measured = int(run_floors(data_file, str(root)))
        print(
            f"{measured} measured files, {'branch' if branch else 'line'} coverage, "
            f"{len(FLOORS)} floors, {args.repeat} runs each"
        )
        contenders: dict[str, Callable[[Path, str], float]] = {
            "report": run_report,
            "floors": run_floors,
        }
        if not args.skip_per_floor:
            contenders["report per floor"] = run_report_per_floor
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(args.repeat):
            for name, fn in contenders.items():
                times[name].append(timed(fn, data_file, str(root)))
        medians = {name: statistics.median(values) for name, values in times.items()}
        for name, value in medians.items():
            print(f"  {name:<17} {value:8.3f} s (median)")
        print(f"  floors / report   {medians['floors'] / medians['report']:8.2f}")
        if "report per floor" in medians:
            ratio = medians["report per floor"] / medians["floors"]
            print(f"  report per floor / floors {ratio:.1f}")


if __name__ == "__main__":
    main()
