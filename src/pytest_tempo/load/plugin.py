"""The ``tempo-load`` feature plugin with a load profile: baselines, the "load" summary.

Registered instead of :class:`~.hooks.LoadHooks` (k6 items, the ``load_test`` fixture)
when ``--load-profile`` is set. Hooks only: the run's load settings and what an item does
with them are in :mod:`.state`, the fixture's function in :mod:`.fixture`, the "load"
section's text in :mod:`.render`. Without ``--load-profile`` every load item and every test
using ``load_test`` is skipped with a reason saying how to run it, so a plain ``pytest``
never starts load by surprise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from .._hooks import HookObject
from .._xdist import is_worker, to_worker, worker_input
from ..settings import SETTINGS_KEY
from ..step_summary import append_step_summary, md_cell
from .hooks import LoadHooks
from .render import markdown_table, notes_lines, summary_rows, text_table
from .state import LOAD_KEY, PROPERTY, LoadState

if TYPE_CHECKING:
    from pathlib import Path

    from _pytest.terminal import TerminalReporter
    from pytest import Config

__all__ = ["LOAD_KEY", "LoadPlugin", "LoadState", "summary_rows"]

#: The key of the load baselines in what the controller ships a worker.
WORKERINPUT_BASELINES = "tempo_load_baselines"


class LoadPlugin(LoadHooks):
    """With a load profile: what :class:`~.hooks.LoadHooks` does, and the baselines, the
    report hook and the "load" section."""

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self._seen: list[tuple[str, str, dict[str, Any]]] = []
        #: (item key, shape, record, replace) of passing runs, written at the end.
        self._records: list[tuple[str, str, dict[str, Any], bool]] = []
        self._store_path: Path | None = None
        self._problems: list[str] = []
        self._read_baselines()

    def pytest_report_header(self) -> list[str]:
        """Where k6 comes from, when load tests run: ``load: k6 /usr/bin/k6 (PATH)``."""
        if self.state.profile is None:
            return []
        from .k6bin import locate

        found = locate(self.state.k6_binary)
        if found.path is None:
            return [f"load: k6 not found ({found.problem or 'k6 items will skip'})"]
        return [f"load: k6 {found.path} ({found.source})"]

    def _read_baselines(self) -> None:
        """Baselines of this run's shape: the controller reads the store, workers get them."""
        state = self.state
        if state.profile is None or state.baseline_mode == "off":
            return
        given = worker_input(self._config)
        if given is not None:
            shipped = given.get(WORKERINPUT_BASELINES)
            state.baselines = dict(shipped) if isinstance(shipped, dict) else {}
            return
        self._store_path = self._baseline_path()
        if self._store_path is None or state.baseline_mode == "update":
            return
        from .baseline import read_file

        store, problem = read_file(self._store_path)
        if problem:
            self._problems.append(problem)
        shape = state.shape
        state.baselines = {key: shapes[shape] for key, shapes in store.items() if shape in shapes}

    def _baseline_path(self) -> Path | None:
        settings = self._config.stash[SETTINGS_KEY]
        if settings.load_baseline_path is not None:
            return self._config.rootpath / settings.load_baseline_path
        cache = getattr(self._config, "cache", None)
        if cache is None:  # -p no:cacheprovider
            return None
        folder: Path = cache.mkdir("tempo-load")
        return folder / "baselines.json"

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """Ship this run's baselines to an xdist worker (workers never read the store)."""
        to_worker(node, WORKERINPUT_BASELINES, self.state.baselines)

    def pytest_sessionfinish(self) -> None:
        if self._store_path is None or not self._records:
            return
        from .baseline import merge_into_file

        problem = merge_into_file(self._store_path, self._records)
        if problem:
            self._problems.append(problem)

    @property
    def reports(self) -> LoadReports:
        """The per-report hook, registered only when load tests run (a profile is set)."""
        return LoadReports(self)

    def read_report(self, report: pytest.TestReport) -> None:
        # Under xdist this runs on the controller with the worker's user_properties.
        if report.when != "call" and not (report.when == "setup" and report.skipped):
            return
        for key, value in report.user_properties:
            if key == PROPERTY and isinstance(value, dict):
                self._seen.append((report.nodeid, report.outcome, value))
                record = value.get("record")
                if report.passed and isinstance(record, dict):
                    self._records.append(
                        (record["key"], record["shape"], record["record"], record["replace"])
                    )

    def terminal_section(self, terminalreporter: TerminalReporter) -> None:
        """The "load" section (written in order by ``plugin.Sections``)."""
        if not self._seen or is_worker(self._config):
            return
        rows = summary_rows(self._seen)
        profile = self.state.profile
        title = "load" + (f" ({profile.name}, {profile.vus} vus)" if profile else "")
        terminalreporter.write_sep("=", title)
        for line in text_table(rows):
            terminalreporter.write_line(line)
        notes = notes_lines(self._seen, self._problems)
        for line in notes:
            terminalreporter.write_line(line)
        problem = append_step_summary(
            f"### {title}\n\n"
            + "\n".join(markdown_table(rows))
            + "\n\n"
            + "".join(f"- {md_cell(line)}\n" for line in notes)
            + ("\n" if notes else "")
        )
        if problem:
            terminalreporter.write_line(f"tempo: {problem}", red=True)


class LoadReports(HookObject):
    """Reads each test report for a load test's metrics: only when load tests run, so a
    suite without them pays nothing per test."""

    def __init__(self, plugin: LoadPlugin) -> None:
        self._plugin = plugin

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._plugin.read_report(report)
