"""Coverage floors: ``total`` and per-path minimum coverage, checked inside the pytest run.

The pure part takes plain data: :func:`evaluate` matches :class:`FileCoverage` rows (one per
measured file, analysed once) against the floors and aggregates each pattern in memory;
:func:`terminal_rows` and :func:`markdown` render the verdict. :func:`measure` turns a
``coverage.Coverage`` object into those rows, and :class:`CoverageFloorsPlugin` finds the
coverage data of the run and sets the exit code.

Where the data comes from (checked against pytest-cov 7.1, ``pytest_cov/plugin.py`` and
``pytest_cov/engine.py``): pytest-cov registers ``CovPlugin`` as ``"_cov"`` only when
``--cov`` is given; its ``pytest_runtestloop`` wrapper stops coverage after its ``yield``,
combines the data of every xdist worker (``CovController.finish``) and leaves the combined
``coverage.Coverage`` in ``cov_controller.cov``; ``_disabled`` is true under ``--no-cov``;
``options.cov_precision`` is ``--cov-precision`` or coverage's ``precision``. Our wrapper is
``tryfirst`` and so the outer one: after *its* ``yield`` the data is combined, and bumping
``session.testsfailed`` still makes the exit code 1, as ``--cov-fail-under`` does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from .step_summary import append_step_summary, md_cell

if TYPE_CHECKING:
    from collections.abc import Generator, Iterable, Iterator, Sequence

    from coverage import Coverage
    from coverage.results import Analysis

    from .settings import Floor

__all__ = [
    "CoverageFloorsPlugin",
    "DataSource",
    "FileCoverage",
    "FloorResult",
    "Verdict",
    "analyses",
    "check",
    "evaluate",
    "fail_under_note",
    "find_coverage",
    "markdown",
    "measure",
    "percent_covered",
    "relative_path",
    "summary_line",
    "terminal_rows",
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


# --- pure aggregation ----------------------------------------------------------------------


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


def _matcher(pattern: str) -> Any:
    from coverage.files import globs_to_regex

    return globs_to_regex([pattern], case_insensitive=os.path.normcase("A") == "a")


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
            match = _matcher(floor.pattern).match
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


# --- rendering -----------------------------------------------------------------------------


def _pc(value: float, decimals: int) -> str:
    from coverage.results import display_covered

    return display_covered(value, decimals) + "%"


def _floor_text(floor: Floor) -> str:
    return f"{floor.percent:g}%"


def _cells(result: FloorResult, precision: int) -> tuple[str, str, str, str, str]:
    decimals = floor_precision(result.floor.percent, precision)
    covered = "-" if result.percent is None else _pc(result.percent, decimals)
    return (
        result.floor.pattern,
        str(result.files),
        covered,
        _floor_text(result.floor),
        result.status,
    )


def _missed_text(f: FileCoverage) -> str:
    parts = []
    if f.missing or not f.missing_branches:
        parts.append(f"{f.missing} line{'s' if f.missing != 1 else ''}")
    if f.missing_branches:
        parts.append(f"{f.missing_branches} branch{'es' if f.missing_branches != 1 else ''}")
    return " and ".join(parts) + " missed"


def _unchecked_line(verdict: Verdict) -> str:
    what = f"{verdict.floors} coverage floor{'s' if verdict.floors != 1 else ''}"
    line = f"{what} not checked: {verdict.unchecked}"
    if verdict.required:
        return f"ERROR: {line} (cov_floors_required = true)"
    return f"WARNING: {line}"


def summary_line(verdict: Verdict) -> str:
    """The last line of the section, e.g. ``FAIL: 1 of 3 coverage floors not met``."""
    if verdict.unchecked:
        return _unchecked_line(verdict)
    total = len(verdict.results)
    if verdict.unmatched:
        names = ", ".join(repr(p) for p in verdict.unmatched)
        return f"ERROR: no measured file matches {names}"
    if verdict.failed:
        return f"FAIL: {len(verdict.failed)} of {total} coverage floors not met"
    return f"PASS: {total} of {total} coverage floors met"


def terminal_rows(verdict: Verdict) -> list[tuple[str, str]]:
    """The lines of the "coverage floors" section, each with a colour ("", green, red)."""
    lines: list[tuple[str, str]] = []
    if verdict.unchecked:
        return [(_unchecked_line(verdict), "red")]
    header = ("pattern", "files", "covered", "floor", "result")
    rows = [_cells(r, verdict.precision) for r in verdict.results]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(5)]

    def fmt(row: Sequence[str]) -> str:
        return (
            f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}  "
            f"{row[3]:>{widths[3]}}  {row[4]}"
        )

    lines.append((fmt(header), ""))
    for result, row in zip(verdict.results, rows, strict=True):
        lines.append((fmt(row), "green" if result.met else "red"))
        for f in result.worst:
            text = f"    {f.path}: {_missed_text(f)}"
            lines.append((f"{text}: {f.missed}" if f.missed else text, ""))
    lines.extend((note, "") for note in verdict.notes)
    ok = not verdict.failed and not verdict.unmatched
    lines.append((summary_line(verdict), "green" if ok else "red"))
    return lines


def markdown(verdict: Verdict) -> str:
    """The same verdict as Markdown, for ``GITHUB_STEP_SUMMARY``."""
    out = ["### Coverage floors", ""]
    if verdict.unchecked:
        out += [f"**{md_cell(_unchecked_line(verdict))}**", ""]
        return "\n".join(out) + "\n"
    out += ["| pattern | files | covered | floor | result |", "|---|---:|---:|---:|---|"]
    for result in verdict.results:
        pattern, files, covered, floor, status = _cells(result, verdict.precision)
        shown = status if result.met else f"**{status}**"
        out.append(f"| {md_cell(pattern, code=True)} | {files} | {covered} | {floor} | {shown} |")
    worst = [(r, f) for r in verdict.results for f in r.worst]
    if worst:
        out += ["", "Files with the most missed lines under the failing floors:", ""]
        out += ["| floor | file | missed | lines |", "|---|---|---|---|"]
        for result, f in worst:
            out.append(
                f"| {md_cell(result.floor.pattern, code=True)} | {md_cell(f.path, code=True)} "
                f"| {_missed_text(f)} | {md_cell(f.missed)} |"
            )
    out += ["", md_cell(summary_line(verdict)), "", ""]
    return "\n".join(out)


# --- reading coverage data ------------------------------------------------------------------


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


def analyses(cov: Coverage) -> Iterator[tuple[str, Analysis]]:
    """(file name, analysis) of every file that ``coverage report`` reports on.

    Its ``include``/``omit`` settings apply: the files come from
    ``coverage.report_core.get_analysis_to_report``, the generator every coverage.py report is
    built on. A file that cannot be parsed is skipped with coverage's warning, as pytest-cov's
    report does (``ignore_errors=True``). Raises ``coverage.exceptions.NoDataError`` when no
    file was measured.
    """
    from coverage.report_core import get_analysis_to_report

    cov.get_data()  # under 'coverage run', moves the collected lines into the data
    ignore_errors = cov.get_option("report:ignore_errors")
    cov.set_option("report:ignore_errors", True)
    try:
        for reporter, analysis in get_analysis_to_report(cov, None):
            yield reporter.filename, analysis
    finally:
        cov.set_option("report:ignore_errors", ignore_errors)


def measure(cov: Coverage, root: str) -> list[FileCoverage]:
    """Analyse every measured file once (see :func:`analyses`) and return its numbers."""
    files = []
    for filename, analysis in analyses(cov):
        numbers = analysis.numbers
        missed = ""
        if numbers.n_missing or numbers.n_missing_branches:
            missed = analysis.missing_formatted(branches=analysis.has_arcs)
        files.append(
            FileCoverage(
                path=relative_path(filename, root),
                statements=numbers.n_statements,
                missing=numbers.n_missing,
                branches=numbers.n_branches,
                missing_branches=numbers.n_missing_branches,
                missed=missed,
            )
        )
    return files


@dataclass(frozen=True)
class DataSource:
    """Where the run's coverage data is: a ``Coverage`` object, or why there is none."""

    cov: Coverage | None = None
    #: pytest-cov's precision (``--cov-precision``, else coverage's); None: ask ``cov``.
    precision: int | None = None
    #: Why there is no data ("" when there is).
    reason: str = ""
    #: The ``Coverage`` is still measuring (``coverage run``): pause it while analysing.
    running: bool = False


NOT_ACTIVE = "coverage is not active; run with pytest-cov's --cov=PACKAGE"
NO_COV = "coverage is disabled by --no-cov"
COVERAGE_RUN_XDIST = (
    "'coverage run' combines the xdist workers' data only after pytest exits; "
    "use pytest-cov's --cov"
)


def find_coverage(
    cov_plugin: object | None,
    *,
    no_cov: bool = False,
    xdist: bool = False,
    current: Coverage | None = None,
) -> DataSource:
    """The run's coverage data.

    ``cov_plugin`` is pytest-cov's ``"_cov"`` plugin, if registered (only with ``--cov``);
    ``current`` is the running ``Coverage`` of ``coverage run -m pytest``, if any. With
    xdist, ``coverage run`` has only the controller's data: the workers' is combined
    after pytest exits, too late for the exit code.
    """
    from coverage import Coverage

    if cov_plugin is not None:
        if getattr(cov_plugin, "_disabled", False):
            return DataSource(reason=NO_COV)
        cov = getattr(getattr(cov_plugin, "cov_controller", None), "cov", None)
        if not isinstance(cov, Coverage):
            return DataSource(reason=NOT_ACTIVE)
        precision = getattr(getattr(cov_plugin, "options", None), "cov_precision", None)
        return DataSource(cov=cov, precision=precision if isinstance(precision, int) else None)
    if current is not None:
        if xdist:
            return DataSource(reason=COVERAGE_RUN_XDIST)
        return DataSource(cov=current, running=True)
    return DataSource(reason=NO_COV if no_cov else NOT_ACTIVE)


def check(
    source: DataSource,
    floors: Sequence[Floor],
    root: str,
    *,
    required: bool = False,
    notes: tuple[str, ...] = (),
) -> Verdict:
    """Check the floors against the data of ``source`` (or say why they cannot be)."""
    from coverage.exceptions import NoDataError

    cov = source.cov
    if cov is None:
        return Verdict(unchecked=source.reason, floors=len(floors), required=required)
    if source.running:
        # Pause while analysing, so that the analysis itself is not measured, and carry on
        # afterwards (as pytest-cov's no_cover marker does).
        cov.stop()
    try:
        precision = source.precision
        if precision is None:
            value = cov.get_option("report:precision")
            precision = value if isinstance(value, int) else 0
        try:
            files = measure(cov, root)
        except NoDataError:
            files = []
    finally:
        if source.running:
            cov.start()
    verdict = evaluate(floors, files, precision)
    return Verdict(
        results=verdict.results,
        precision=precision,
        floors=len(floors),
        required=required,
        notes=notes,
    )


def fail_under_note(cov_plugin: object | None) -> tuple[str, ...]:
    """Say that pytest-cov's ``--cov-fail-under`` is a separate gate, reported above."""
    fail_under = getattr(getattr(cov_plugin, "options", None), "cov_fail_under", None)
    if not isinstance(fail_under, (int, float)) or not fail_under:
        return ()
    return (
        f"(pytest-cov's --cov-fail-under={fail_under:g} is checked separately; "
        "its verdict is in the coverage section above)",
    )


# --- the plugin ----------------------------------------------------------------------------


class CoverageFloorsPlugin:
    """Checks the coverage floors on the controller once the tests have run."""

    def __init__(self, floors: Sequence[Floor], required: bool) -> None:
        self.floors = tuple(floors)
        self.required = required
        self.verdict: Verdict | None = None
        self.summary_error = ""

    # tryfirst makes this the outer wrapper, around pytest-cov's: after our yield its data
    # is combined, and session.testsfailed still decides the exit code (see the module doc).
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        result = yield
        config = session.config
        if hasattr(config, "workerinput") or config.option.collectonly:
            return result
        plugin = config.pluginmanager.get_plugin("_cov")
        if (
            plugin is not None
            and session.testsfailed
            and getattr(getattr(plugin, "options", None), "no_cov_on_fail", False)
        ):
            self.verdict = Verdict(
                unchecked="tests failed and --no-cov-on-fail is given", floors=len(self.floors)
            )
            return result
        verdict = check(
            self._data_source(config, plugin),
            self.floors,
            str(config.rootpath),
            required=self.required,
            notes=fail_under_note(plugin),
        )
        self.verdict = verdict
        if verdict.fails_run:
            session.testsfailed += 1
        if verdict.unmatched:
            names = ", ".join(repr(p) for p in verdict.unmatched)
            raise pytest.UsageError(
                f"coverage floor {names} matches no measured file (patterns are relative "
                f"to the rootdir {config.rootpath}; a file never imported counts, as 0%, "
                "only when --cov=PACKAGE names its package)"
            )
        return result

    @staticmethod
    def _data_source(config: pytest.Config, cov_plugin: object | None) -> DataSource:
        from coverage import Coverage

        # 'coverage run' sets COVERAGE_RUN; without it, a running Coverage belongs to
        # someone else (such as the pytest-cov of an outer run that runs this one in-process).
        under_coverage_run = os.environ.get("COVERAGE_RUN") == "true"
        return find_coverage(
            cov_plugin,
            no_cov=bool(config.getoption("no_cov", default=False)),
            xdist=config.pluginmanager.has_plugin("dsession"),
            current=Coverage.current() if under_coverage_run else None,
        )

    def _write_step_summary(self, verdict: Verdict) -> None:
        self.summary_error = append_step_summary(markdown(verdict))

    def closing_lines(self) -> list[tuple[str, bool]]:
        """A failed gate, repeated in the last lines before pytest's summary line."""
        verdict = self.verdict
        if verdict is None or not verdict.fails_run:
            return []
        return [(f"coverage floors: {summary_line(verdict)}", True)]

    def terminal_section(self, terminalreporter: pytest.TerminalReporter) -> None:
        """The "coverage floors" section (written in order by ``plugin.Sections``)."""
        verdict = self.verdict
        if verdict is None:
            return
        # Here rather than after the run: the step summary keeps the sections' order.
        self._write_step_summary(verdict)
        terminalreporter.write_sep("=", "coverage floors")
        for text, colour in terminal_rows(verdict):
            markup = {colour: True, "bold": colour == "red"} if colour else {}
            terminalreporter.write_line(text, **markup)
        if self.summary_error:
            terminalreporter.write_line(f"WARNING: {self.summary_error}", yellow=True)
