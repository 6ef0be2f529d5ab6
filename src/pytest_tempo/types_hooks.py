"""The hooks of the "test types" summary (``tempo-summary``): cheap to import and to register.

The rows, the coverage per type and the rendering are in :mod:`.types_summary`, loaded when
the section has a test to show or coverage to read.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from ._hooks import HookObject
from ._xdist import is_reporting_process, is_worker

if TYPE_CHECKING:
    from collections.abc import Generator, Iterable, Sequence

    from .timing import TestTiming, TimingPlugin
    from .types_summary import TypeRow

__all__ = ["TypeSummaryPlugin"]


class TypeSummaryPlugin(HookObject):
    """Writes the "test types" section on the controller from the timing feature's data."""

    def __init__(self, timing: TimingPlugin, types: Sequence[str]) -> None:
        self._timing = timing
        self._types = tuple(types)
        self._coverage: dict[str, tuple[int, int]] | None = None
        self._note = ""

    # tryfirst makes this wrapper an outer one, around pytest-cov's: after our yield the
    # workers' coverage data is combined (as for the coverage floors).
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        result = yield
        config = session.config
        # pytest-cov registers its plugin as "_cov" only under --cov: without it, the coverage
        # adapter is not even imported.
        if not is_reporting_process(config) or not config.pluginmanager.has_plugin("_cov"):
            return result
        from ._coverage import find_coverage, pytest_cov_plugin

        plugin = pytest_cov_plugin(config)
        if plugin is None:
            return result
        source = find_coverage(plugin)
        if source.cov is not None:
            types_of = {t.nodeid: t.types for t in self._timing.timings}
            from .types_summary import NO_CONTEXTS, measure_contexts

            self._coverage = measure_contexts(source.cov, types_of)
            if self._coverage is None:
                self._note = NO_CONTEXTS
        return result

    def _rows(self, timings: Iterable[TestTiming]) -> list[TypeRow]:
        from .types_summary import type_rows

        rows = type_rows(timings, self._types)
        for row in rows:
            covered, statements = (self._coverage or {}).get(row.name, (0, 0))
            row.covered, row.statements = covered, statements
        return rows

    def terminal_section(self, terminalreporter: pytest.TerminalReporter) -> None:
        """The "test types" section (written in order by ``plugin.Sections``)."""
        if is_worker(terminalreporter.config):
            return
        timings = [*self._timing.timings, *self._timing.collection_results]
        if not timings:
            return  # no test, no row: nothing to load
        from .types_summary import render_markdown, render_terminal

        rows = self._rows(timings)
        if not rows:
            return
        tests = len(timings)
        with_coverage = self._coverage is not None
        terminalreporter.write_sep("=", "test types")
        for line in render_terminal(rows, tests, with_coverage, self._note):
            terminalreporter.write_line(line)
        problem = ""
        if os.environ.get("GITHUB_STEP_SUMMARY"):
            from .step_summary import append_step_summary

            problem = append_step_summary(render_markdown(rows, tests, with_coverage, self._note))
        if problem:
            terminalreporter.write_line(f"tempo: {problem}", red=True)
