"""The hooks of the hygiene report: :class:`HygienePlugin`, registered as ``tempo-hygiene``.
It gathers findings where pytest makes them, ships a worker's to the controller, and on the
controller fails the run (``strict``) and writes the section. The judging is in
:mod:`.rules`, the reading of pytest's objects in :mod:`.scan`, the text in :mod:`.render`.

Where the findings come from:

- Collection findings (marks, ids) are computed where tests are collected: the only process
  without pytest-xdist, each worker with it. A worker ships them as plain data through
  what it sends back; the controller merges them in ``pytest_testnodedown``. Each worker
  collects the whole suite, so merging keeps one of each.
- Run-time findings (``pytest.skip()`` and ``pytest.xfail()`` with no reason, in a test or
  in a fixture's set-up) are noticed where the test runs, by the wrappers that time a test's
  call and each fixture set-up (the timing feature's; :class:`RaisedHooks` where it is off):
  they tell :meth:`HygienePlugin.raised` only when something raised, so the feature has no
  hook per test. Without xdist they are counted there; an xdist worker keeps them, in the
  order its tests ran, and ships them with its collection findings; the controller counts
  them when the worker ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from .._hooks import HookObject
from .._xdist import from_worker, is_worker, to_controller

# The judges, the findings and the text load when there is something to judge: a collected
# test, a skip, an exception, a worker's findings.
if TYPE_CHECKING:
    from collections.abc import Callable, Generator

    from pytest import Config, Item, Session, TerminalReporter

    from ..settings import HygieneMode
    from .findings import Finding, Tally

__all__ = ["HygienePlugin", "RaisedHooks"]

#: The key of the collection findings in what a worker sends back.
WORKEROUTPUT_KEY = "tempo_hygiene"
#: The key of the run-time findings ``[what, path, line, nodeid]`` in what a worker sends back.
WORKEROUTPUT_CALLS = "tempo_hygiene_calls"


class HygienePlugin(HookObject):
    """Finds, reports and (``strict``) fails the run on hygiene problems."""

    def __init__(self, config: Config, mode: HygieneMode) -> None:
        self._config = config
        self._mode = mode
        self._controller = not is_worker(config)
        self._root = str(config.rootpath)
        self._collected: list[Finding] = []
        self._remote: list[Finding] = []
        self._module_skips: Tally | None = None
        self._calls: Tally | None = None
        # on an xdist worker: the run-time findings [what, path, line, nodeid], in test order
        self._worker_calls: list[list[Any]] = []
        self._findings: list[Finding] | None = None
        self._failed = False
        self._error = ""

    # --- where tests are collected -------------------------------------------------------

    def pytest_collection_finish(self, session: Session) -> None:
        if not session.items:
            return
        from .rules import registered_markers
        from .scan import CollectionScan, markers_strict, xfail_strict_default

        config = session.config
        registered = None
        if not markers_strict(config):
            registered = registered_markers(config.getini("markers"))
        scan = CollectionScan(registered, xfail_strict_default(config))
        for item in session.items:
            scan.add(item)
        self._collected = scan.findings()

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        longrepr = report.longrepr
        if report.skipped and isinstance(longrepr, tuple) and len(longrepr) == 3:
            from .rules import bare_skip_message, relative

            path, line, message = longrepr
            if bare_skip_message(str(message)):
                where = relative(str(path), self._root)
                self._module_skips = _tally(self._module_skips)
                self._module_skips.add(
                    "reason",
                    f"{where}:{line}",
                    "pytest.skip() at module level",
                    report.nodeid,
                    where,
                    int(line),
                )

    def pytest_sessionfinish(self, session: Session) -> None:
        if is_worker(session.config):  # the controller reports
            from .findings import merge

            skips = self._module_skips.findings() if self._module_skips is not None else []
            findings = merge(self._collected, skips)
            to_controller(session.config, WORKEROUTPUT_KEY, [f.to_plain() for f in findings])
            to_controller(session.config, WORKEROUTPUT_CALLS, self._worker_calls)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        for value in from_worker(node, WORKEROUTPUT_CALLS, ()) or ():
            if isinstance(value, (list, tuple)) and len(value) == 4:
                what, path, line, nodeid = value
                self._count_call(str(what), str(path), int(line), str(nodeid))
        values = from_worker(node, WORKEROUTPUT_KEY, ())
        if not values:
            return
        from .findings import Finding

        for value in values:
            finding = Finding.from_plain(value)
            if finding is not None:
                self._remote.append(finding)

    # --- where tests run ----------------------------------------------------------------

    def raised(self, nodeid: str, exc: BaseException) -> None:
        """Test ``nodeid``'s call or a fixture set-up for it raised ``exc``: told by the
        wrappers that time them (:meth:`TimingPlugin.watch <pytest_tempo.timing.plugin.
        TimingPlugin.watch>`), or by :class:`RaisedHooks` without the timing. A test that
        raises nothing costs nothing here; a fixture the test asks for in its body raises
        through both wrappers, and the tally counts a test once."""
        from .rules import bare_call

        what = bare_call(exc)
        if not what:
            return
        from .rules import relative
        from .scan import raise_site

        site = raise_site(pytest.ExceptionInfo.from_exception(exc))
        # Raised by pytest itself: a skip mark (judged at collection), not a call.
        if site is not None and not _is_pytest(site[2]):
            path = relative(site[0], self._root)
            if self._controller:
                self._count_call(what, path, site[1], nodeid)
            else:
                self._worker_calls.append([what, path, site[1], nodeid])

    def _count_call(self, what: str, path: str, line: int, nodeid: str) -> None:
        """Count a bare ``pytest.skip()``/``pytest.xfail()`` of test ``nodeid`` at path:line."""
        self._calls = _tally(self._calls)
        self._calls.add("reason", f"{path}:{line}", what, nodeid, path, line)

    # --- the controller -----------------------------------------------------------------

    def _final(self) -> list[Finding]:
        if self._findings is None:
            tallies = [t.findings() for t in (self._module_skips, self._calls) if t is not None]
            if not self._collected and not self._remote and not any(tallies):
                self._findings = []
            else:
                from .findings import merge

                self._findings = merge(self._collected, self._remote, *tallies)
        return self._findings

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: Session) -> Generator[None, object, object]:
        result = yield
        # After the loop (the workers are down, their findings merged), before the session
        # ends: the exit code still follows testsfailed, as for --slow-strict.
        if self._controller and self._mode == "strict" and self._final():
            self._failed = True
            session.testsfailed += 1
        return result

    def closing_lines(self) -> list[tuple[str, bool]]:
        """The strict gate, repeated in the last lines before pytest's summary line."""
        if not self._failed:
            return []
        from .render import plural

        count = plural(len(self._final()), "hygiene finding")
        return [(f"FAIL tempo_hygiene=strict: {count}", True)]

    def terminal_section(self, terminalreporter: TerminalReporter) -> None:
        """The "hygiene" section and, in strict mode, the line that fails the run."""
        if not self._controller:
            return
        findings = self._final()
        if not findings and not self._failed and not self._error:
            return
        from ..step_summary import append_step_summary
        from .render import ROWS, render_markdown, render_terminal  # only with findings

        if findings:
            terminalreporter.write_sep("=", "hygiene")
            rows = None if terminalreporter.config.get_verbosity() > 0 else ROWS
            for line in render_terminal(findings, rows):
                terminalreporter.write_line(line)
            # Here rather than at session finish: the step summary keeps the sections' order.
            self._error = append_step_summary(render_markdown(findings))
        # A failed strict mode is said in the closing lines (``closing_lines``).
        if self._error:
            terminalreporter.write_line(f"tempo: {self._error}", red=True, bold=True)


def _tally(tally: Tally | None) -> Tally:
    """``tally``, or a new one on first use."""
    if tally is not None:
        return tally
    from .findings import Tally

    return Tally()


class RaisedHooks(HookObject):
    """Hygiene's own wrappers of a test's call and of fixture set-ups, registered only where
    the timing's are not (``-p no:tempo-timing``): they tell :meth:`HygienePlugin.raised`
    what a test or a fixture raised."""

    def __init__(self, raised: Callable[[str, BaseException], None]) -> None:
        self._raised = raised

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: Item) -> Generator[None]:
        try:
            return (yield)
        except BaseException as exc:
            self._raised(item.nodeid, exc)
            raise

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> Generator[None, object, object]:
        try:
            return (yield)
        except BaseException as exc:
            self._raised(request._pyfuncitem.nodeid, exc)
            raise


def _is_pytest(module: str) -> bool:
    return module == "_pytest" or module.startswith("_pytest.")
