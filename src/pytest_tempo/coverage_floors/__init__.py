"""Coverage floors: ``total`` and per-path minimum coverage, checked inside the pytest run.

``engine`` holds the pure part (files' numbers in, a verdict out), ``render`` the terminal
section and the step summary, ``plugin`` the hook that reads the run's coverage data
(through ``pytest_tempo._coverage``, the one module that touches coverage.py and pytest-cov
internals) and sets the exit code.
"""

from __future__ import annotations

from .engine import (
    FileCoverage,
    FloorResult,
    Verdict,
    evaluate,
    fail_under_note,
    floor_met,
    floor_precision,
    percent_covered,
    relative_path,
)
from .plugin import CoverageFloorsPlugin, check, measure
from .render import markdown, summary_line, terminal_rows

__all__ = [
    "CoverageFloorsPlugin",
    "FileCoverage",
    "FloorResult",
    "Verdict",
    "check",
    "evaluate",
    "fail_under_note",
    "floor_met",
    "floor_precision",
    "markdown",
    "measure",
    "percent_covered",
    "relative_path",
    "summary_line",
    "terminal_rows",
]
