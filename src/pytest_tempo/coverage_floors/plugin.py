"""Coverage floors, the hooks: read the run's coverage data and set the exit code.

:func:`measure` turns a ``coverage.Coverage`` into :class:`.engine.FileCoverage` rows and
:func:`check` judges them; both read coverage data only through the coverage adapter
(``pytest_tempo._coverage``), which also says when pytest-cov's data is combined.
:class:`CoverageFloorsPlugin` runs the check on the controller once the tests have run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from .._coverage import (
    DataSource,
    coverage_of_run,
    file_numbers,
    paused,
    pytest_cov_options,
    pytest_cov_plugin,
    report_precision,
)
from .._hooks import HookObject
from .._xdist import is_reporting_process
from ..step_summary import append_step_summary
from .engine import FileCoverage, Verdict, evaluate, fail_under_note, relative_path
from .render import markdown, summary_line, terminal_rows

if TYPE_CHECKING:
    from collections.abc import Generator, Sequence

    from coverage import Coverage

    from ..settings import Floor

__all__ = ["CoverageFloorsPlugin", "check", "measure"]


def measure(cov: Coverage, root: str) -> list[FileCoverage]:
    """Every reported file's numbers (analysed once), with paths relative to ``root``."""
    return [
        FileCoverage(
            path=relative_path(f.filename, root),
            statements=f.statements,
            missing=f.missing,
            branches=f.branches,
            missing_branches=f.missing_branches,
            missed=f.missed,
        )
        for f in file_numbers(cov)
    ]


def check(
    source: DataSource,
    floors: Sequence[Floor],
    root: str,
    *,
    required: bool = False,
    notes: tuple[str, ...] = (),
) -> Verdict:
    """Check the floors against the data of ``source`` (or say why they cannot be)."""
    cov = source.cov
    if cov is None:
        return Verdict(unchecked=source.reason, floors=len(floors), required=required)
    with paused(source):
        precision = source.precision
        if precision is None:
            precision = report_precision(cov)
        files = measure(cov, root)
    verdict = evaluate(floors, files, precision)
    return Verdict(
        results=verdict.results,
        precision=precision,
        floors=len(floors),
        required=required,
        notes=notes,
    )


class CoverageFloorsPlugin(HookObject):
    """Checks the coverage floors on the controller once the tests have run."""

    def __init__(self, floors: Sequence[Floor], required: bool) -> None:
        self.floors = tuple(floors)
        self.required = required
        self.verdict: Verdict | None = None
        self.summary_error = ""

    # tryfirst makes this the outer wrapper, around pytest-cov's: after our yield its data is
    # combined, and session.testsfailed still decides the exit code (see the adapter's doc).
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        result = yield
        config = session.config
        if not is_reporting_process(config):
            return result
        options = pytest_cov_options(pytest_cov_plugin(config))
        if session.testsfailed and options.no_cov_on_fail:
            self.verdict = Verdict(
                unchecked="tests failed and --no-cov-on-fail is given", floors=len(self.floors)
            )
            return result
        verdict = check(
            coverage_of_run(config),
            self.floors,
            str(config.rootpath),
            required=self.required,
            notes=fail_under_note(options.fail_under),
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
