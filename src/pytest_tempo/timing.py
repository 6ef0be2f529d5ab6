"""Timing: the Slow Tests Report, unmarked and stale ``slow`` markers, slow fixtures.

Where tests run (the only process without xdist, each worker with it) the plugin measures
the call phase and fixture set-ups and attaches them to the test reports as plain data;
pytest-xdist carries report attributes to the controller. The controller alone aggregates
the reports, prints the report, writes the JSON and the durations store, and fails the run
under ``--slow-strict``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from ._xdist import from_worker, is_worker, to_controller
from .classify import type_markers
from .durations import RECORDED_MARKS, Measured
from .markers import MarkerIndex
from .step_summary import append_step_summary, md_cell

if TYPE_CHECKING:
    from collections.abc import Collection, Generator, Iterable, Mapping, Sequence

    from pytest import Config, Session, TerminalReporter, TestReport

    from .durations_record import Recorder
    from .settings import Settings

__all__ = [
    "FixtureTiming",
    "TestTiming",
    "TimingPlugin",
    "TimingSummary",
    "is_full_collection",
    "render_markdown",
    "render_terminal",
    "summarize",
    "to_json",
]

_CALL_KEY = pytest.StashKey[float]()
#: Parts other features add to the ``--slow-report-json`` document: key -> a function giving
#: the value at the end of the session (None leaves the key out).
REPORT_EXTRAS = pytest.StashKey[dict[str, Callable[[], object]]]()
#: Parts other features add to the ``--tempo-html`` page: key -> a function giving an HTML
#: fragment at the end of the session ("" leaves it out).
HTML_EXTRAS = pytest.StashKey[dict[str, Callable[[], str]]]()
#: Keys of what an xdist worker sends back: what a worker tells the controller about its collection.
WORKER_COLLECTED = "tempo_collected"
WORKER_FILTERED = "tempo_filtered"
SHARED_SCOPES = ("session", "package", "module", "class")


@dataclass(slots=True)
class TestTiming:
    """One test's seconds in this run, as the controller saw them."""

    __test__ = False  # not a test class, for pytest's collector

    nodeid: str
    setup: float = 0.0
    call: float = 0.0
    teardown: float = 0.0
    worker: str = "master"
    marked_slow: bool = False
    ran_call: bool = False
    #: wall-clock start of the setup and end of the teardown (epoch seconds)
    start: float = 0.0
    stop: float = 0.0
    #: as pytest's summary line counts it: passed, failed, error (a failure outside the call
    #: phase), skipped, xfailed or xpassed
    outcome: str = "passed"
    #: the test-type markers the test carries (unit, integration, ... from test_types)
    types: tuple[str, ...] = ()
    #: module/class/package/session fixture set-up its setup triggered (the fixture's cost)
    shared: float = 0.0
    marks: tuple[str, ...] = ()

    @property
    def total(self) -> float:
        return self.setup + self.call + self.teardown


@dataclass
class FixtureTiming:
    """A fixture's set-ups in this run: where it is defined, how often, and how long."""

    name: str
    scope: str
    baseid: str
    count: int = 0
    total: float = 0.0
    longest: float = 0.0


@dataclass
class TimingSummary:
    """Everything the report shows, computed from the timings alone."""

    threshold: float
    slow: list[TestTiming]
    unmarked: list[TestTiming]
    stale: list[TestTiming]
    fixtures: list[FixtureTiming]
    tests: int
    total: float
    workers: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def slow_total(self) -> float:
        return sum(t.total for t in self.slow)


def summarize(
    timings: Iterable[TestTiming],
    fixtures: Iterable[FixtureTiming],
    threshold: float,
    recorded: Mapping[str, float] | None = None,
) -> TimingSummary:
    """Slow tests (call over the threshold, slowest first), unmarked and stale markers.

    A test marked slow is stale when its call, with the module, class or session fixture
    set-up it triggered, took under a tenth of the threshold in this run and, where earlier
    runs were recorded, in those too (``recorded``: median call seconds).
    """
    recorded = recorded or {}
    every = list(timings)
    slow = sorted(
        (t for t in every if t.ran_call and t.call > threshold), key=lambda t: (-t.call, t.nodeid)
    )
    unmarked = [t for t in slow if not t.marked_slow]
    fast = threshold / 10
    stale = sorted(
        (
            t
            for t in every
            if t.marked_slow
            and t.ran_call
            and t.call + t.shared < fast
            and recorded.get(t.nodeid, 0.0) < fast
        ),
        key=lambda t: t.nodeid,
    )
    slow_fixtures = sorted(
        (f for f in fixtures if f.longest > threshold),
        key=lambda f: (-f.longest, f.baseid, f.name),
    )
    workers: dict[str, dict[str, float]] = {}
    for t in every:
        w = workers.setdefault(t.worker, {"tests": 0, "seconds": 0.0})
        w["tests"] += 1
        w["seconds"] += t.total
    return TimingSummary(
        threshold=threshold,
        slow=slow,
        unmarked=unmarked,
        stale=stale,
        fixtures=slow_fixtures,
        tests=len(every),
        total=sum(t.total for t in every),
        workers=dict(sorted(workers.items())),
    )


def outcome_of(report: TestReport, before: str) -> str:
    """A test's outcome so far, given one more phase report, in the terms of pytest's summary
    line: passed, failed, error (a failure outside the call), skipped, xfailed, xpassed."""
    if before in ("failed", "error"):
        return before
    if report.failed:
        return "failed" if report.when == "call" else "error"
    expected_failure = hasattr(report, "wasxfail")
    if report.skipped and before == "passed":
        return "xfailed" if expected_failure else "skipped"
    if expected_failure and report.passed and report.when == "call":
        return "xpassed"
    return before


def _seconds(value: float) -> str:
    return f"{value:.2f}s"


def is_empty(summary: TimingSummary) -> bool:
    """Nothing to show: no slow test, no stale marker, no slow fixture."""
    return not (summary.slow or summary.stale or summary.fixtures)


def _capped(lines: list[str], rows: int | None, more: str) -> list[str]:
    if rows is None or len(lines) <= rows:
        return lines
    return [*lines[:rows], f"  ({len(lines) - rows} more; {more})"]


def render_terminal(summary: TimingSummary, rows: int | None) -> list[str]:
    """The lines of the "slow tests" section; ``rows`` limits the table and the lists
    (None: all)."""
    threshold = _seconds(summary.threshold)
    every = "--slow-report=all shows all"
    shown = summary.slow if rows is None else summary.slow[:rows]
    with_worker = any(t.worker != "master" for t in summary.slow)
    lines: list[str] = []
    if shown:
        head = f"{'call':>8} {'setup':>8} {'teardown':>8}"
        head += f"  {'worker':<7}" if with_worker else ""
        lines.append(f"{head}  {'marked slow':<11}  test")
        for t in shown:
            row = f"{_seconds(t.call):>8} {_seconds(t.setup):>8} {_seconds(t.teardown):>8}"
            row += f"  {t.worker:<7}" if with_worker else ""
            lines.append(f"{row}  {'yes' if t.marked_slow else 'no':<11}  {t.nodeid}")
        if len(shown) < len(summary.slow):
            lines.append(f"({len(summary.slow) - len(shown)} more; --slow-report=all shows all)")
    share = 100 * summary.slow_total / summary.total if summary.total else 0.0
    lines.append(
        f"{len(summary.slow)} of {summary.tests} tests slow (call over {threshold}): "
        f"{_seconds(summary.slow_total)}, {share:.0f}% of {_seconds(summary.total)} in all"
    )
    if summary.unmarked:
        lines.append(f"mark these slow (call over {threshold}, not marked slow):")
        unmarked = [f"  {t.nodeid} ({_seconds(t.call)})" for t in summary.unmarked]
        lines.extend(_capped(unmarked, rows, every))
    if summary.stale:
        fast = _seconds(summary.threshold / 10)
        lines.append(f"these may not need the slow marker (call and shared set-up under {fast}):")
        stale = [f"  {t.nodeid} ({_seconds(t.call + t.shared)})" for t in summary.stale]
        lines.extend(_capped(stale, rows, every))
    if summary.fixtures:
        lines.append(fixtures_heading(summary))
        listed = []
        for f in summary.fixtures:
            times = "once" if f.count == 1 else f"{f.count} times"
            where = f" in {f.baseid}" if f.baseid else ""
            listed.append(
                f"  {_seconds(f.longest):>8}  {f.scope:<8} {f.name}{where} (set up {times})"
            )
        lines.extend(_capped(listed, rows, every))
    return lines


def fixtures_heading(summary: TimingSummary) -> str:
    """Where the listed fixtures' set-up time went: a shared (session, package, module,
    class) fixture's to the fixture, a function-scoped one's to each test's setup."""
    threshold = _seconds(summary.threshold)
    scopes = {f.scope in SHARED_SCOPES for f in summary.fixtures}
    if scopes == {True}:
        where = "charged to the fixture"
    elif scopes == {False}:
        where = "function scope: in the setup time of each test that used it"
    else:
        where = "shared ones charged to the fixture, function-scoped ones to each test's setup"
    return f"slow fixtures (set-up over {threshold}, {where}):"


def render_markdown(summary: TimingSummary, rows: int | None) -> str:
    """The slow tests and unmarked lists as Markdown tables, for GitHub's step summary."""
    shown = summary.slow if rows is None else summary.slow[:rows]
    out = [f"### Slow tests (call over {_seconds(summary.threshold)})", ""]
    if shown:
        out += [
            "| test | call | setup | teardown | worker | marked slow |",
            "|---|---|---|---|---|---|",
        ]
        out += [
            f"| {md_cell(t.nodeid, code=True)} | {_seconds(t.call)} | {_seconds(t.setup)} | "
            f"{_seconds(t.teardown)} | {md_cell(t.worker)} | "
            f"{'yes' if t.marked_slow else 'no'} |"
            for t in shown
        ]
    else:
        out.append("No slow tests.")
    if summary.unmarked:
        out += ["", "#### Mark these slow", "", "| test | call |", "|---|---|"]
        out += [
            f"| {md_cell(t.nodeid, code=True)} | {_seconds(t.call)} |" for t in summary.unmarked
        ]
    return "\n".join(out) + "\n\n"


def to_json(summary: TimingSummary, timings: Sequence[TestTiming]) -> dict[str, Any]:
    """The JSON document of ``--slow-report-json`` (schema: ``schemas/slow-report.json``)."""

    def test(t: TestTiming) -> dict[str, Any]:
        return {
            "nodeid": t.nodeid,
            "setup": round(t.setup, 6),
            "call": round(t.call, 6),
            "teardown": round(t.teardown, 6),
            "total": round(t.total, 6),
            "marked_slow": t.marked_slow,
            "worker": t.worker,
            "start": t.start,
            "stop": t.stop,
        }

    return {
        "threshold": summary.threshold,
        "tests": [test(t) for t in summary.slow],
        "unmarked_slow": [t.nodeid for t in summary.unmarked],
        "stale_slow": [t.nodeid for t in summary.stale],
        "fixtures": [
            {
                "name": f.name,
                "scope": f.scope,
                "baseid": f.baseid,
                "count": f.count,
                "longest": round(f.longest, 6),
                "total": round(f.total, 6),
            }
            for f in summary.fixtures
        ],
        "workers": {
            name: {"tests": int(w["tests"]), "seconds": round(w["seconds"], 6)}
            for name, w in summary.workers.items()
        },
        "all_tests": [test(t) for t in sorted(timings, key=lambda t: (-t.total, t.nodeid))],
        "total": round(summary.total, 6),
    }


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


def measured_of(t: TestTiming) -> Measured:
    """What the store records of one test."""
    phases = {"setup", "teardown", "call"} if t.ran_call else {"setup", "teardown"}
    at = round(t.stop, 3) if t.stop else None
    return Measured(t.setup, t.call, t.teardown, phases, t.shared, t.marks, at)


def is_load_item(item: pytest.Item) -> bool:
    """A k6 script's item or a test using ``load_test``: its duration is the profile's."""
    from .load.k6 import K6Item

    return isinstance(item, K6Item) or "load_test" in getattr(item, "fixturenames", ())


class TimingPlugin:
    """Measures where tests run; aggregates, reports and records on the controller."""

    def __init__(
        self,
        config: Config,
        settings: Settings,
        recorder: Recorder | None,
        store_problem: str | None,
        recorded: Mapping[str, float] | None = None,
    ) -> None:
        self._config = config
        self._recorded = recorded or {}  # median call seconds of earlier runs, per test
        self._settings = settings
        self._controller = not is_worker(config)
        self._recorder = recorder  # None: no store (cacheprovider off), nothing is recorded
        self._store_problem = store_problem
        # Under a load profile a load test lasts as long as the profile: not recorded.
        self._load_profile = settings.load_profile is not None
        self._unrecorded: set[str] = set()
        self._workers: dict[str, bool] = {}  # xdist node -> reported an unfiltered collection
        self._markers = MarkerIndex()
        # The markers read per test: smoke and slow, and the test types.
        self._types = type_markers(settings)
        self._recorded_marks = tuple(dict.fromkeys((*RECORDED_MARKS, *self._types)))
        self._items: dict[str, pytest.Item] = {}
        self._parent_marks: dict[tuple[int, tuple[str, ...]], list[str]] = {}
        self._splits: dict[tuple[str, ...], tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self._call = 0.0
        self._pending: list[list[Any]] = []
        self._timings: dict[str, TestTiming] = {}
        self._collection: dict[str, TestTiming] = {}
        self._fixtures: dict[tuple[str, str, str], FixtureTiming] = {}
        self._collected: list[str] | None = None
        self._filtered = False
        self._strict_failures: list[TestTiming] = []
        self._errors: list[str] = []
        self._written: list[str] = []  # "what PATH" of each file written
        self._summary: TimingSummary | None = None

    # --- where tests run ----------------------------------------------------------------
    # Per test: one wrapper around the call and one plain hook per report; the marks are read
    # once per test, at its setup report. Data travels on the reports as plain values, which
    # xdist serialises (report.__dict__) to the controller.

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None]:
        start = time.perf_counter()
        try:
            return (yield)
        finally:
            self._call = time.perf_counter() - start

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> Generator[None, object, object]:
        start = time.perf_counter()
        try:
            return (yield)
        finally:
            seconds = time.perf_counter() - start
            self._pending.append([fixturedef.argname, fixturedef.scope, fixturedef.baseid, seconds])

    # tryfirst: on an xdist worker, before xdist serialises the report for the controller.
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: TestReport) -> None:
        # Plain attribute reads, each once: this runs three times per test.
        nodeid = report.nodeid  # a property
        data = report.__dict__
        when = data["when"]
        if "worker_id" not in data:  # measured here, not by a worker
            self._attach(report, nodeid, when)
        if self._controller:
            self._aggregate(report, nodeid, data, when)

    def _attach(self, report: TestReport, nodeid: str, when: str) -> None:
        if self._pending:
            report.tempo_fixtures = self._pending  # type: ignore[attr-defined]
            self._pending = []
        if when == "call":
            report.tempo_call = self._call  # type: ignore[attr-defined]
        elif when == "setup":
            item = self._items.get(nodeid)
            report.tempo_marks = self._marks_of(item)  # type: ignore[attr-defined]
            if self._load_profile and item is not None and is_load_item(item):
                report.tempo_unrecorded = True  # type: ignore[attr-defined]

    def _marks_of(self, item: pytest.Item | None) -> list[str]:
        """The recorded markers of a test: smoke, slow and its test types.

        Tests of one parent with the same markers of their own share the answer.
        """
        if item is None:
            return []
        key = (id(item.parent), tuple(mark.name for mark in item.own_markers))
        cached = self._parent_marks.get(key)
        if cached is None:
            names = self._markers.names(item)
            cached = self._parent_marks[key] = [m for m in self._recorded_marks if m in names]
        return cached

    def _split(self, marks: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(recorded smoke/slow marks, test types) of a marks list, computed once per kind."""
        key = tuple(marks)
        split = self._splits.get(key)
        if split is None:
            recorded = tuple(m for m in key if m in RECORDED_MARKS)
            types = tuple(m for m in key if m in self._types)
            split = self._splits[key] = (recorded, types)
        return split

    def _aggregate(self, report: TestReport, nodeid: str, data: dict[str, Any], when: str) -> None:
        timing = self._timings.get(nodeid)
        if timing is None:
            worker = data.get("worker_id") or "master"
            timing = self._timings[nodeid] = TestTiming(nodeid, worker=worker)
        shared = 0.0
        for name, scope, baseid, seconds in data.get("tempo_fixtures") or ():
            fixture = self._fixtures.get((baseid, name, scope))
            if fixture is None:
                fixture = self._fixtures[baseid, name, scope] = FixtureTiming(name, scope, baseid)
            fixture.count += 1
            fixture.total += seconds
            fixture.longest = max(fixture.longest, seconds)
            if scope in SHARED_SCOPES:
                shared += seconds
        if when == "call":
            timing.call = float(data.get("tempo_call", data["duration"]))
            timing.ran_call = True
        elif when == "setup":
            # A session fixture's set-up is the fixture's cost, not the first test's.
            timing.setup = max(0.0, report.duration - shared)
            timing.shared = shared
            timing.marks, timing.types = self._split(data.get("tempo_marks", ()))
            timing.marked_slow = "slow" in timing.marks
            timing.start = report.start
            if data.get("tempo_unrecorded"):
                self._unrecorded.add(nodeid)
        else:
            timing.teardown = report.duration
            timing.stop = report.stop
            if self._recorder is not None and nodeid not in self._unrecorded:
                self._recorder.add_later(nodeid, timing, measured_of)
        if (data["outcome"] != "passed" or "wasxfail" in data) and timing.outcome == "passed":
            timing.outcome = outcome_of(report, timing.outcome)

    @property
    def timings(self) -> Collection[TestTiming]:
        """The tests seen so far (on the controller: every test of the run); a live view."""
        return self._timings.values()

    # --- read by other features (advice) ----------------------------------------------

    @property
    def threshold(self) -> float:
        return self._settings.slow_threshold

    @property
    def fixtures(self) -> Collection[FixtureTiming]:
        """Every fixture's set-ups so far (on the controller: the whole run); a live view."""
        return self._fixtures.values()

    @property
    def collected(self) -> Sequence[str] | None:
        """The node ids of the collection, in order (None before it is known)."""
        return self._collected

    def pytest_collection_finish(self, session: Session) -> None:
        self._collected = [item.nodeid for item in session.items]
        self._items = {item.nodeid: item for item in session.items}

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
            from .classify import markers_for_path

            path = report.nodeid.split("::", 1)[0]
            types = tuple(m for m in markers_for_path(path, self._settings.test_types)
                          if m in self._types)  # fmt: skip
            outcome = "skipped" if report.skipped else "error"
            self._collection[report.nodeid] = TestTiming(report.nodeid, outcome=outcome,
                                                         types=types)  # fmt: skip

    @property
    def collection_results(self) -> Collection[TestTiming]:
        """Modules (or classes) skipped or in error at collection, as pytest's summary line
        counts them: one entry each, with no seconds."""
        return self._collection.values()

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
            self._summary = summarize(
                self._timings.values(),
                self._fixtures.values(),
                self._settings.slow_threshold,
                self._recorded,
            )
        return self._summary

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: Session) -> Generator[None, object, object]:
        result = yield
        # After the loop, before the session ends: the exit code still follows testsfailed
        # (as pytest-cov does for --cov-fail-under).
        if self._controller and self._settings.slow_strict:
            self._strict_failures = self._make_summary().unmarked
            if self._strict_failures:
                session.testsfailed += 1
        return result

    def pytest_sessionfinish(self, session: Session) -> None:
        if not self._controller:
            return
        summary = self._make_summary()
        if self._recorder is not None:
            measured = {
                t.nodeid: measured_of(t)
                for t in self._timings.values()
                if t.nodeid not in self._unrecorded
            }
            existing = self._collected if self._unfiltered() else None
            self._errors.extend(self._recorder.finish(measured, existing))
        path = self._settings.slow_report_json
        if path:
            from .json_report import encode_report

            parts = self._config.stash.get(REPORT_EXTRAS, {}).items()
            values = ((key, part()) for key, part in parts)
            try:
                with open(path, "w", encoding="utf-8") as f:
                    # One line (jq shows it indented), made fast for 100,000 tests.
                    f.write(encode_report(summary, self._timings.values(), values))
                self._written.append(f"the JSON report {path}")
            except OSError as exc:
                self._errors.append(
                    f"--slow-report-json: could not write {path}: {exc.strerror or exc}"
                )
        html_path = self._settings.html
        if html_path:
            from .report.html import render_html

            extras = [part() for part in self._config.stash.get(HTML_EXTRAS, {}).values()]
            page = render_html(
                summary,
                list(self._timings.values()),
                extras=extras,
                collection=list(self._collection.values()),
            )
            try:
                with open(html_path, "w", encoding="utf-8") as f:
                    f.write(page)
                self._written.append(f"the HTML page {html_path}")
            except OSError as exc:
                self._errors.append(
                    f"--tempo-html: could not write {html_path}: {exc.strerror or exc}"
                )
        if self._settings.slow_report != 0 and not is_empty(summary):
            problem = append_step_summary(render_markdown(summary, self._settings.slow_report))
            if problem:
                self._errors.append(problem)

    def pytest_unconfigure(self) -> None:
        if self._recorder is not None:  # a session that never finished keeps its journal
            self._recorder.close()

    def terminal_section(self, terminalreporter: TerminalReporter) -> None:
        """The "slow tests" section (written in order by ``plugin.Sections``)."""
        if not self._controller:
            return
        summary = self._make_summary()
        if self._settings.slow_report != 0 and not is_empty(summary):  # nothing to show
            terminalreporter.write_sep("=", "slow tests")
            for line in render_terminal(summary, self._settings.slow_report):
                terminalreporter.write_line(line)
        if self._store_problem:
            terminalreporter.write_line(f"tempo: {self._store_problem}", yellow=True)
        # A failed --slow-strict is said in the closing lines (``closing_lines``).
        for error in self._errors:
            terminalreporter.write_line(f"tempo: {error}", red=True, bold=True)

    def _strict_line(self) -> str:
        names = ", ".join(t.nodeid for t in self._strict_failures)
        return (
            f"FAIL --slow-strict: {len(self._strict_failures)} test(s) over "
            f"{_seconds(self._settings.slow_threshold)} not marked slow: {names}"
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
