"""Coverage floors, the pure part: files' numbers in, a verdict out.

:func:`evaluate` matches :class:`FileCoverage` rows (one per measured file, analysed once)
against the floors and aggregates each pattern in memory, rounding as coverage.py does for
``fail_under``. Nothing here reads coverage data: :mod:`.plugin` does, through the
coverage adapter.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from .._coverage import glob_regex

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from ..settings import Floor

__all__ = [
    "WORST",
    "FileCoverage",
    "FloorResult",
    "Verdict",
    "evaluate",
    "fail_under_note",
    "floor_met",
    "floor_precision",
    "percent_covered",
    "relative_path",
]

#: How many of the most-missed files are listed under a failing floor.
WORST = 5


@dataclass(frozen=True)
class FileCoverage:
    """The coverage numbers of one measured file (statements, and branches when measured).

    ``missed`` lists the missed lines and branches the way ``coverage report -m`` does
    (``12-14, 20, 31->33``); it is filled in only for files that missed something.
    """

    path: str
    statements: int
    missing: int
    branches: int = 0
    missing_branches: int = 0
    missed: str = ""

    @property
    def missed_total(self) -> int:
        return self.missing + self.missing_branches


@dataclass(frozen=True)
class FloorResult:
    """One floor checked: the files it matched, their coverage taken together, the verdict."""

    floor: Floor
    files: int
    percent: float | None
    met: bool
    worst: tuple[FileCoverage, ...] = ()

    @property
    def status(self) -> str:
        if self.percent is None:
            return "NO FILES"
        return "PASS" if self.met else "FAIL"


@dataclass(frozen=True)
class Verdict:
    """The outcome of the gate: the checked floors, or why they could not be checked."""

    results: tuple[FloorResult, ...] = ()
    precision: int = 0
    #: Why the floors were not checked ("" when they were).
    unchecked: str = ""
    floors: int = 0
    required: bool = False
    #: Lines printed under the table, such as where pytest-cov's own gate is reported.
    notes: tuple[str, ...] = ()

    @property
    def failed(self) -> tuple[FloorResult, ...]:
        return tuple(r for r in self.results if r.status == "FAIL")

    @property
    def unmatched(self) -> tuple[str, ...]:
        return tuple(r.floor.pattern for r in self.results if r.status == "NO FILES")

    @property
    def fails_run(self) -> bool:
        """True when the run must fail (exit code 1)."""
        return bool(self.failed) or bool(self.unchecked and self.required)


# --- pure aggregation --------------------------------------------------------------------------


def percent_covered(files: Iterable[FileCoverage]) -> float:
    """Coverage of the files taken together, as coverage.py computes a total.

    Executed statements plus executed branches over statements plus branches
    (``coverage.results.Numbers.pc_covered``); 100 when there is nothing to execute.
    """
    statements = missing = branches = missing_branches = 0
    for f in files:
        statements += f.statements
        missing += f.missing
        branches += f.branches
        missing_branches += f.missing_branches
    denominator = statements + branches
    if denominator == 0:
        return 100.0
    return 100.0 * (denominator - missing - missing_branches) / denominator


def floor_precision(floor: float, precision: int) -> int:
    """Decimals used to compare with ``floor``: ``precision``, or more if the floor has more.

    The same rule as ``coverage.results.should_fail_under`` (its ``_fail_under_precision``),
    so the number shown is the number compared.
    """
    if floor == int(floor):
        return precision
    exponent = Decimal(str(floor)).as_tuple().exponent
    assert isinstance(exponent, int)
    return max(precision, -exponent)


def floor_met(percent: float, floor: float, precision: int) -> bool:
    """Whether a measured percentage meets a floor, rounded as coverage.py 7.17 rounds for
    ``fail_under`` (``coverage.results.should_fail_under``); written out here so that every
    supported coverage.py version gives the same verdict. 100 must really be 100."""
    if floor == 100.0:
        return percent == 100.0
    return round(percent, floor_precision(floor, precision)) >= floor


def evaluate(floors: Sequence[Floor], files: Sequence[FileCoverage], precision: int) -> Verdict:
    """Check every floor against the measured files (each file was analysed once).

    ``total`` takes every file; a glob takes the files whose path matches it in coverage.py's
    glob syntax (``*`` inside a directory, ``**/`` any directories, a trailing ``/*``
    everything below, a pattern without ``/`` a file name anywhere). Patterns may overlap:
    a file counts under every floor that matches it.
    """
    results = []
    for floor in floors:
        if floor.is_total:
            matched = list(files)
        else:
            match = glob_regex(floor.pattern).match
            matched = [f for f in files if match(f.path)]
        if not matched:
            results.append(FloorResult(floor=floor, files=0, percent=None, met=False))
            continue
        pc = percent_covered(matched)
        met = floor_met(pc, floor.percent, precision)
        worst: tuple[FileCoverage, ...] = ()
        if not met:
            missed = [f for f in matched if f.missed_total]
            missed.sort(key=lambda f: (-f.missing, -f.missing_branches, f.path))
            worst = tuple(missed[:WORST])
        results.append(
            FloorResult(floor=floor, files=len(matched), percent=pc, met=met, worst=worst)
        )
    return Verdict(results=tuple(results), precision=precision, floors=len(floors))


def relative_path(filename: str, root: str) -> str:
    """``filename`` relative to ``root`` with ``/`` separators; absolute if outside it."""
    path = os.path.abspath(filename)
    try:
        rel = os.path.relpath(path, root)
    except ValueError:  # another drive on Windows
        return path.replace(os.sep, "/")
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return path.replace(os.sep, "/")
    return rel.replace(os.sep, "/")


def fail_under_note(fail_under: float | None) -> tuple[str, ...]:
    """Say that pytest-cov's ``--cov-fail-under`` is a separate gate, reported above."""
    if not fail_under:
        return ()
    return (
        f"(pytest-cov's --cov-fail-under={fail_under:g} is checked separately; "
        "its verdict is in the coverage section above)",
    )
