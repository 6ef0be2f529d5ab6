"""The timing feature's hooks: ``TimingPlugin``, registered as ``tempo-timing``.

Where tests run (the only process without xdist, each worker with it) it measures the call
phase and fixture set-ups; on an xdist worker it puts them, with the test's recorded
markers, on the test reports as plain data, which pytest-xdist carries to the controller.
The controller reads the phase reports where pytest's terminal reporter keeps them (its
``stats``, as pytest's ``--durations`` does: the reports already carry each phase's
duration, start and stop), so a test costs it no hook; the per-test timings are built from
them by :mod:`.aggregate` only when something asks: the journal's writer thread, the other
features at the end of the run, the report. A worker, and a run without the terminal
reporter, take each report with one plain hook (:class:`PhaseHook`). The controller alone prints the
report, writes the files (:mod:`.outputs`, loaded only then) and the durations store, and
fails the run under ``--slow-strict``.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import pytest

from .._hooks import HookObject
from .._xdist import from_worker, is_worker, to_controller
from ..markers import RECORDED_MARKS, MarkerIndex

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Generator, Mapping, Sequence

    from pytest import Config, Session, TerminalReporter, TestReport

    from ..durations import Record
    from ..durations_record import Recorder
    from ..settings import Settings
    from ..store_handle import StoreHandle
    from .aggregate import Aggregate, FixtureTiming, Phase, TestTiming, TimingSummary

__all__ = ["HTML_EXTRAS", "REPORT_EXTRAS", "TimingPlugin", "is_full_collection"]

#: Parts other features add to the ``--slow-report-json`` document: key -> a function giving
#: the value at the end of the session (None leaves the key out).
REPORT_EXTRAS = pytest.StashKey[dict[str, "Callable[[], object]"]]()
#: Parts other features add to the ``--tempo-html`` page: key -> a function giving an HTML
#: fragment at the end of the session ("" leaves it out).
HTML_EXTRAS = pytest.StashKey[dict[str, "Callable[[], str]"]]()
#: Keys of what an xdist worker sends back: what a worker tells the controller about its collection.
WORKER_COLLECTED = "tempo_collected"
WORKER_FILTERED = "tempo_filtered"


def is_full_collection(config: Config, filtered: bool) -> bool:
    """Whether this run collected the whole suite, unfiltered, so absent tests are gone.

    Not when paths or node ids were given, -k, -m, --deselect, --lf, --sw or --shard were
    used, a plugin deselected or dropped tests, or collection failed somewhere (``filtered``:
    seen here, or reported by an xdist worker).
    """
    if filtered or config.args_source == pytest.Config.ArgsSource.ARGS:
        return False
    option = config.option
    narrowed = (
        getattr(option, "keyword", ""),
        getattr(option, "markexpr", ""),
        getattr(option, "deselect", None),
        getattr(option, "lf", False),
        getattr(option, "stepwise", False),
        getattr(option, "ignore", None),
        getattr(option, "ignore_glob", None),
        getattr(option, "tempo_shard", None),
    )
    return not any(narrowed)


def is_load_item(item: pytest.Item) -> bool:
    """A k6 script's item or a test using ``load_test``: its duration is the profile's."""
    from ..load.k6 import K6Item

    return isinstance(item, K6Item) or "load_test" in getattr(item, "fixturenames", ())


#: The name :class:`PhaseHook` is registered under.
PHASE_HOOK = "tempo-timing-reports"
#: The terminal reporter's categories that hold only test reports: passed phases around a
#: call (``""``) and passed calls, almost all of a run's reports.
_TESTS_ONLY = frozenset(("", "passed"))
#: A report's start (epoch seconds): the phase reports of the terminal reporter's
#: categories, merged in the order they were made.
_START = attrgetter("start")


class PhaseHook(HookObject):
    """The timing's one hook per phase report, where no terminal reporter keeps the
    reports (an xdist worker, ``-p no:terminal``)."""

    def __init__(self, timing: TimingPlugin) -> None:
        self._timing = timing

    # tryfirst: on an xdist worker, before xdist serialises the report for the controller.
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: TestReport) -> None:
        self._timing.take(report)


class TimingPlugin(HookObject):
    """Measures where tests run; aggregates, reports and records on the controller.

    ``store``: the durations store the controller records into (None: none, as on an
    xdist worker or with pytest's cache off).
    """

    def __init__(self, config: Config, settings: Settings, store: StoreHandle | None) -> None:
        from ..classify import type_markers

        self._config = config
        self._settings = settings
        self._controller = not is_worker(config)
        self._store = store
        self._recorder: Recorder | None = None
        # Under a load profile a load test lasts as long as the profile: not recorded.
        self._load_profile = settings.load_profile is not None
        self._types = type_markers(settings)
        # The markers recorded per test: smoke and slow, and the test types.
        self._recorded_marks = tuple(dict.fromkeys((*RECORDED_MARKS, *self._types)))
        self._markers = MarkerIndex()
        self._parent_marks: dict[tuple[int, tuple[str, ...]], list[str]] = {}
        self._session_items: list[pytest.Item] = []
        self._items: dict[str, pytest.Item] | None = None
        # where tests run: with the phase hook, the last call's seconds and the fixture
        # set-ups since the last report; reading the terminal's reports, both per test
        self._call = 0.0
        self._pending: list[tuple[str, str, str, float]] = []
        self._in_call = False
        self._calls: dict[str, float] = {}
        self._setups: dict[tuple[str, str], list[tuple[str, str, str, float]]] = {}
        # the terminal reporter's reports by category, and how many of each were taken
        self._reports: dict[str, list[Any]] | None = None
        self._taken: dict[str, int] = {}
        self._loop_done = False
        # on the controller: one tuple per phase report, aggregated when asked (in batches,
        # by the journal's writer thread while tests run), so the queue stays short
        self._phases: deque[Phase] = deque()
        self._lock = threading.Lock()  # the journal's writer thread aggregates too
        self._aggregate: Aggregate | None = None
        self._collection: dict[str, TestTiming] = {}
        self._collected: list[str] | None = None
        self._filtered = False
        self._workers: dict[str, bool] = {}  # xdist node -> reported an unfiltered collection
        self._summary: TimingSummary | None = None
        self._strict_failures: list[TestTiming] = []
        self._errors: list[str] = []
        self._written: list[str] = []  # "what PATH" of each file written
        self._hook = PhaseHook(self)
        self._watchers: list[Callable[[str, BaseException], None]] = []

    # --- where tests run ----------------------------------------------------------------
    # Per test: one wrapper around the call. Each phase report is read off the terminal
    # reporter's list of reports (where pytest's --durations reads them), which costs a
    # test nothing; where there is none (an xdist worker, -p no:terminal), one plain hook per
    # report (:class:`PhaseHook`), and a worker puts plain values on the reports, which
    # xdist serialises (report.__dict__) to the controller.

    def watch(self, raised: Callable[[str, BaseException], None]) -> None:
        """Call ``raised(nodeid, exception)`` when a test's call or a fixture's set-up raises
        (hygiene's bare ``pytest.skip()``): these wrappers run anyway, an exception costs a
        test that passes nothing."""
        self._watchers.append(raised)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None]:
        start = time.perf_counter()
        self._in_call = True
        try:
            return (yield)
        except BaseException as exc:
            for raised in self._watchers:
                raised(item.nodeid, exc)
            raise
        finally:
            seconds = time.perf_counter() - start
            self._in_call = False
            if self._reports is None:
                self._call = seconds
            else:
                self._calls[item.nodeid] = seconds

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> Generator[None, object, object]:
        start = time.perf_counter()
        try:
            return (yield)
        except BaseException as exc:
            for raised in self._watchers:
                raised(request._pyfuncitem.nodeid, exc)
            raise
        finally:
            seconds = time.perf_counter() - start
            setup = (fixturedef.argname, fixturedef.scope, fixturedef.baseid, seconds)
            if self._reports is None:
                self._pending.append(setup)
            else:
                # The test whose phase set it up (a wider scope's request still names it).
                key = (request._pyfuncitem.nodeid, "call" if self._in_call else "setup")
                self._setups.setdefault(key, []).append(setup)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: Session) -> None:
        # The controller reads the reports the terminal reporter keeps; a worker (which puts
        # values on its reports for the controller) and a run without one get the hook.
        terminal = session.config.pluginmanager.get_plugin("terminalreporter")
        reports = getattr(terminal, "stats", None)
        if self._controller and isinstance(reports, dict):
            self._reports = reports
        elif not session.config.pluginmanager.is_registered(self._hook):
            session.config.pluginmanager.register(self._hook, PHASE_HOOK)

    def take(self, report: TestReport) -> None:
        """One phase report, given by the hook as it is logged."""
        data = report.__dict__  # plain reads: this runs three times per test
        if data.get("worker_id") is not None:  # from an xdist worker: its values are on it
            self._phases.append((report, report.nodeid, None, None))
            return
        when = data["when"]
        fixtures: Sequence[Sequence[Any]] | None = self._pending or None
        if fixtures:
            data["tempo_fixtures"] = fixtures  # sent by a worker
            self._pending = []
        call = self._call if when == "call" else None
        if not self._controller:
            self._send(report, data, when, call)
            return
        self._phases.append((report, report.nodeid, call, fixtures))

    def _pull(self) -> None:
        """Queue the phase reports the terminal reporter logged since the last pull, in the
        order they were made (each category keeps its own list). Under the lock."""
        reports = self._reports
        if reports is None:
            return
        taken = self._taken
        new: list[Any] = []
        for category, logged in list(reports.items()):
            start = taken.get(category, 0)
            if len(logged) > start:
                batch = logged[start:]
                taken[category] = start + len(batch)
                if category in _TESTS_ONLY:
                    new.extend(batch)
                else:  # test reports: not warnings, deselected items, collection reports
                    new.extend([r for r in batch if isinstance(r, pytest.TestReport)])
        if not new:
            return
        new.sort(key=_START)  # stable: the phases of one test keep their order on a tie
        calls, setups, append = self._calls, self._setups, self._phases.append
        for report in new:
            data = report.__dict__
            nodeid = report.nodeid
            if data.get("worker_id") is None:  # measured here
                when = data["when"]
                call = calls.pop(nodeid, None) if when == "call" else None
                append((report, nodeid, call, setups.pop((nodeid, when), None) if setups else None))
            else:  # from an xdist worker: its values are on the report
                append((report, nodeid, None, None))

    def _send(
        self, report: TestReport, data: dict[str, Any], when: str, call: float | None
    ) -> None:
        """On an xdist worker: what the controller cannot read from the report itself."""
        if when == "call":
            data["tempo_call"] = call
        elif when == "setup":
            marks, unrecorded = self._local_facts(report.nodeid)
            data["tempo_marks"] = marks
            if unrecorded:
                data["tempo_unrecorded"] = True

    def _local_facts(self, nodeid: str) -> tuple[list[str], bool]:
        """The recorded markers of a test collected here (smoke, slow and its test types),
        and whether the store leaves it out. Tests of one parent with the same markers of
        their own share the answer."""
        if self._items is None:
            self._items = dict(zip(self._collected or (), self._session_items, strict=False))
        item = self._items.get(nodeid)
        if item is None:
            return [], False
        own = item.own_markers
        key = (id(item.parent), tuple(mark.name for mark in own) if own else ())
        marks = self._parent_marks.get(key)
        if marks is None:
            names = self._markers.names(item)
            marks = self._parent_marks[key] = [m for m in self._recorded_marks if m in names]
        return marks, self._load_profile and is_load_item(item)

    # --- the controller: aggregated when asked --------------------------------------------

    def _aggregated(self) -> Aggregate:
        with self._lock:
            self._pull()
            if self._aggregate is None:
                from .aggregate import Aggregate

                self._aggregate = Aggregate(self._types, self._local_facts)
            self._aggregate.advance(self._phases)
            if self._loop_done and self._setups:
                # Fixtures set up in a teardown, after their test's last report: counted.
                for (nodeid, _), setups in self._setups.items():
                    self._aggregate.count_fixtures(nodeid, setups)
                self._setups.clear()
            return self._aggregate

    def _journal_records(self) -> list[Record]:
        """The tests finished since the journal last asked (run by its writer thread)."""
        from .aggregate import record_of

        return [record_of(t) for t in self._aggregated().take_finished()]

    def _measured(self) -> bool:
        """Whether a test report reached the controller (so timings exist)."""
        if self._aggregate is None and not self._phases and self._reports is not None:
            with self._lock:
                self._pull()
        return self._aggregate is not None or bool(self._phases)

    @property
    def timings(self) -> Collection[TestTiming]:
        """The tests seen so far (on the controller: every test of the run)."""
        return self._aggregated().timings.values() if self._measured() else ()

    # --- read by other features (advice, test types) -----------------------------------

    @property
    def threshold(self) -> float:
        return self._settings.slow_threshold

    @property
    def fixtures(self) -> Collection[FixtureTiming]:
        """Every fixture's set-ups so far (on the controller: the whole run)."""
        return self._aggregated().fixtures.values() if self._measured() else ()

    @property
    def session_part(self) -> Mapping[str, float]:
        """Per test, the seconds of the session fixtures its phases set up."""
        return self._aggregated().session_part if self._measured() else {}

    @property
    def reruns(self) -> Mapping[str, int]:
        """Per test, its attempts pytest-rerunfailures ran again in this run."""
        return self._aggregated().reruns if self._measured() else {}

    @property
    def collected(self) -> Sequence[str] | None:
        """The node ids of the collection, in order (None before it is known)."""
        return self._collected

    @property
    def collection_results(self) -> Collection[TestTiming]:
        """Modules (or classes) skipped or in error at collection, as pytest's summary line
        counts them: one entry each, with no seconds."""
        return self._collection.values()

    def pytest_collection_finish(self, session: Session) -> None:
        self._session_items = session.items
        self._collected = [item.nodeid for item in session.items]

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: object, ids: Sequence[str]) -> None:
        self._collected = list(ids)

    # --- was this run filtered? (workers tell the controller when they finish) ------------

    def _filter(self) -> None:
        self._filtered = True
        to_controller(self._config, WORKER_FILTERED, True)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> Generator[None]:
        before = len(items)
        result = yield
        if len(items) < before:  # deselected, or dropped by a plugin without saying so
            self._filter()
        to_controller(self._config, WORKER_COLLECTED, True)
        return result

    def pytest_deselected(self, items: Sequence[pytest.Item]) -> None:
        self._filter()

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self._filter()
        if self._controller and (report.failed or report.skipped):
            # pytest's summary line counts a module skipped or broken at collection once.
            from ..classify import markers_for_path
            from .aggregate import TestTiming

            path = report.nodeid.split("::", 1)[0]
            types = tuple(m for m in markers_for_path(path, self._settings.test_types)
                          if m in self._types)  # fmt: skip
            outcome = "skipped" if report.skipped else "error"
            self._collection[report.nodeid] = TestTiming(report.nodeid, outcome=outcome,
                                                         types=types)  # fmt: skip

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        collected, filtered = (
            from_worker(node, WORKER_COLLECTED),
            from_worker(node, WORKER_FILTERED),
        )
        full = not error and collected and not filtered
        self._workers[str(getattr(getattr(node, "gateway", None), "id", id(node)))] = bool(full)

    def _unfiltered(self) -> bool:
        """Whether the controller knows this run collected everything, unfiltered."""
        if self._collected is None or self._settings.shard is not None:
            return False
        if is_worker(self._config):
            return False
        if self._config.pluginmanager.hasplugin("dsession") and not (
            self._workers and all(self._workers.values())
        ):
            return False  # under xdist: only when every worker said so
        return is_full_collection(self._config, self._filtered)

    def _make_summary(self) -> TimingSummary:
        if self._summary is None:
            from .aggregate import summarize

            recorded = self._store.calls() if self._store is not None else {}
            self._summary = summarize(
                self.timings, self.fixtures, self._settings.slow_threshold, recorded
            )
        return self._summary

    def _shows(self) -> bool:
        """Whether the "slow tests" section and its Markdown have anything to show."""
        if self._settings.slow_report == 0 or not self._measured():
            return False
        from .aggregate import is_empty

        return not is_empty(self._make_summary())

    # --- the end of the run (controller) -------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: Session) -> Generator[None, object, object]:
        if self._controller and self._store is not None and not session.config.option.collectonly:
            self._recording().follow(self._journal_records)
            self._aggregated().track = True
        result = yield
        self._loop_done = True
        # After the loop, before the session ends: the exit code still follows testsfailed
        # (as pytest-cov does for --cov-fail-under).
        if self._controller and self._settings.slow_strict:
            self._strict_failures = self._make_summary().unmarked
            if self._strict_failures:
                session.testsfailed += 1
        return result

    def _recording(self) -> Recorder:
        """The recorder of this run (controller only, with a store), made on first use."""
        if self._recorder is None:
            from ..durations import Parsed
            from ..durations_record import Recorder

            assert self._store is not None
            parsed, key = self._store.opened()
            self._recorder = Recorder(self._store.location, (parsed or Parsed(), key))
        return self._recorder

    def _record(self) -> None:
        """Fold this run into the store (nothing to do: the store is left alone)."""
        if self._store is None:
            return
        records: list[Record] = []
        if self._measured():
            from .aggregate import record_of

            aggregate = self._aggregated()
            records = [record_of(t) for n, t in aggregate.timings.items()
                       if n not in aggregate.unrecorded]  # fmt: skip
        elif (
            self._recorder is None
            and self._store.opened()[0] is None
            and not self._store.location.has_journals()
        ):
            return  # no store, no journal and nothing measured: nothing to write
        existing = self._collected if self._unfiltered() else None
        self._errors.extend(self._recording().finish_records(records, existing))

    def pytest_sessionfinish(self, session: Session) -> None:
        if not self._controller:
            return
        self._record()
        settings = self._settings
        if settings.slow_report_json or settings.html:
            self._write_files()
        if self._shows() and os.environ.get("GITHUB_STEP_SUMMARY"):
            from .outputs import write_step_summary

            problem = write_step_summary(self._make_summary(), settings.slow_report)
            if problem:
                self._errors.append(problem)

    def _write_files(self) -> None:
        from .outputs import write_html, write_json

        summary, timings = self._make_summary(), list(self.timings)
        extras = self._config.stash.get(REPORT_EXTRAS, {})
        written = []
        if self._settings.slow_report_json:
            path = self._settings.slow_report_json
            written.append(write_json(path, summary, timings, extras.items()))
        if self._settings.html:
            parts = [part() for part in self._config.stash.get(HTML_EXTRAS, {}).values()]
            collection = list(self._collection.values())
            written.append(write_html(self._settings.html, summary, timings, parts, collection))
        for what, problem in written:
            if what is not None:
                self._written.append(what)
            if problem is not None:
                self._errors.append(problem)

    def pytest_unconfigure(self) -> None:
        if self._recorder is not None:  # a session that never finished keeps its journal
            self._recorder.close()

    def terminal_section(self, terminalreporter: TerminalReporter) -> None:
        """The "slow tests" section (written in order by ``plugin.Sections``)."""
        if not self._controller:
            return
        if self._shows():
            from .outputs import render_terminal

            terminalreporter.write_sep("=", "slow tests")
            for line in render_terminal(self._make_summary(), self._settings.slow_report):
                terminalreporter.write_line(line)
        if self._store is not None and self._store.problem:
            terminalreporter.write_line(f"tempo: {self._store.problem}", yellow=True)
        # A failed --slow-strict is said in the closing lines (``closing_lines``).
        for error in self._errors:
            terminalreporter.write_line(f"tempo: {error}", red=True, bold=True)

    def _strict_line(self) -> str:
        names = ", ".join(t.nodeid for t in self._strict_failures)
        return (
            f"FAIL --slow-strict: {len(self._strict_failures)} test(s) over "
            f"{self._settings.slow_threshold:.2f}s not marked slow: {names}"
        )

    def closing_lines(self) -> list[tuple[str, bool]]:
        """The files written, and the gate that failed the run (``(line, failed)``), for the
        last lines before pytest's summary line (written by ``plugin.Sections``)."""
        if not self._controller:
            return []
        lines = [(f"tempo: wrote {what}", False) for what in self._written]
        if self._strict_failures:
            lines.append((self._strict_line(), True))
        return lines
