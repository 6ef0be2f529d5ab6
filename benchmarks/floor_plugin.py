"""The floor: the least work pytest-tempo's default contract asks of a plain run, done as
plainly and cheaply as we know how, to measure what any plugin that honours it must add.

``overhead.py --floor`` runs it with pytest-tempo off (``-p no:tempo -p floor_plugin``)
beside plain pytest and pytest-tempo. The ini key ``floor_stage`` picks how much it does,
each stage adding to the one before:

- ``empty``: an option and an ini key registered, no other hook;
- ``wrapper``: the design card's ``pytest_runtest_call`` wrapper, timing each call;
- ``aggregate``: at the end, each test's setup, call and teardown seconds from the phase
  reports pytest's terminal reporter keeps (as ``--durations`` reads them), and a
  test-types table of the tests per type;
- ``store``: the durations store in pytest's cache, read when the collection is ordered
  (the tests slow in the run that wrote it go last: the store lists them, so a run with
  none looks at no item; pytest-tempo takes the median of the recorded runs instead),
  the run folded in (the last 5 values per phase, as fixed decimals, with the run's stamp;
  an entry that is not such a text is replaced, so a corrupt or foreign store breaks
  nothing), written to a temporary file renamed over the store. With ``floor_check =
  false`` an entry is only checked to be a string of four fields: the default run reads no
  value of it (the slow tests are listed apart), so a corrupt series is carried, not read;
  the store's other readers (sharding, scheduling by durations) would have to check it.
- ``contract``: the rest of what a plain run does by default, each in its least form: the
  hygiene report's pass over the collection (a skip or xfail mark without a reason, looked
  for on each item's own marks and once per parent), the smoke and slow marks recorded with
  each test, the run's journal (a file held under ``flock`` while the tests run, so a run
  killed by SIGKILL is told from a live one, removed at the end: a run this short writes no
  line to it) and the lock around the store's update, each test's outcome appended to its
  history of the last 20 (the flaky advice), and the flaky tests listed.

Left out, though the contract asks for them: fixture timings, stale slow marks, the
advice's other findings, the sections' rendering beyond one table, xdist. Nothing here is
part of the plugin.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Generator

STAGES = ("empty", "wrapper", "aggregate", "store", "contract")
#: Outcomes kept per test (the flaky advice's history).
HISTORY = 20
#: The marks recorded with a test.
RECORDED = ("smoke", "slow")
KEEP = 5
#: A test in a folder of this name is of that type; any other is "other".
TYPES = ("unit", "integration", "e2e", "smoke", "load")
_WHEN = {"setup": 0, "call": 1, "teardown": 2}
_SERIES = r"\d+\.\d{6}(?:,\d+\.\d{6}){0,4}"
#: A usable entry: three series of at most KEEP values, and a stamp.
_ENTRY = re.compile(rf"{_SERIES}\|{_SERIES}\|{_SERIES}\|\d+\.\d{{3}}")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("floor_stage", "how much of the contract the floor plugin does", default="store")
    parser.addini("floor_check", "check each store entry's text", type="bool", default=True)
    parser.getgroup("floor").addoption("--floor-threshold", type=float, default=1.0)


def pytest_configure(config: pytest.Config) -> None:
    stage = config.getini("floor_stage")
    if stage not in STAGES:
        raise pytest.UsageError(f"floor_stage: {stage!r} is not one of {', '.join(STAGES)}")
    if stage != "empty":
        config.pluginmanager.register(Floor(config, STAGES.index(stage)), "floor")


class Floor:
    def __init__(self, config: pytest.Config, level: int) -> None:
        self.config = config
        self.aggregate = level >= STAGES.index("aggregate")
        self.store = level >= STAGES.index("store")
        self.contract = level >= STAGES.index("contract")
        self.check: bool = config.getini("floor_check")
        self.marks: dict[str, str] = {}  # node id -> its recorded marks, where it has any
        self.findings: list[str] = []
        self.flaky: list[str] = []
        self.journal: int | None = None
        self.threshold: float = config.getoption("floor_threshold")
        self.calls: dict[str, float] = {}
        self.tests: dict[str, str] = {}
        self.history: dict[str, object] = {}
        self.per: dict[str, list[float]] = {}

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None]:
        start = time.perf_counter()
        try:
            return (yield)
        finally:
            self.calls[item.nodeid] = time.perf_counter() - start

    def _path(self) -> Any:
        cache = self.config.cache
        return None if cache is None else cache.mkdir("floor") / "durations.json"

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        if not self.store or not items:
            return
        path = self._path()
        try:
            data = json.loads(path.read_text()) if path is not None else {}
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        tests, slow, history = data.get("tests"), data.get("slow"), data.get("history")
        self.tests = tests if isinstance(tests, dict) else {}
        self.history = history if isinstance(history, dict) else {}
        slow = {n for n in slow if isinstance(n, str)} if isinstance(slow, list) else set()
        if slow:
            last = [item for item in items if item.nodeid in slow]
            if last:
                items[:] = [item for item in items if item.nodeid not in slow] + last

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not self.contract:
            return
        parents: dict[int, tuple[str, ...]] = {}
        for item in session.items:
            parent = item.parent
            inherited = parents.get(id(parent))
            if inherited is None:
                inherited = parents[id(parent)] = self._marks_above(parent)
            own = item.own_markers
            if own or inherited:
                names = self._judged(own, item.nodeid) + inherited
                recorded = ",".join(name for name in RECORDED if name in names)
                if recorded:
                    self.marks[item.nodeid] = recorded

    def _judged(self, marks: list[pytest.Mark], where: str) -> tuple[str, ...]:
        """The names of ``marks``; a skip or xfail without a reason is a hygiene finding."""
        for mark in marks:
            if mark.name in ("skip", "skipif", "xfail") and not mark.kwargs.get("reason"):
                self.findings.append(f"{where}: {mark.name} without a reason")
        return tuple(mark.name for mark in marks)

    def _marks_above(self, node: Any) -> tuple[str, ...]:
        names: tuple[str, ...] = ()
        while node is not None:
            if node.own_markers:
                names += self._judged(node.own_markers, node.nodeid)
            node = node.parent
        return names

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        path = self._path() if self.contract else None
        if path is not None:
            self.journal = os.open(path.with_name(f"run-{os.getpid()}.journal"),
                                   os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)  # fmt: skip
            fcntl.flock(self.journal, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return (yield)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.aggregate:
            return
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        per = self.per
        report_type, when = pytest.TestReport, _WHEN
        for reports in getattr(terminal, "stats", {}).values():
            for report in reports:
                if type(report) is report_type:
                    t = per.get(report.nodeid)
                    if t is None:
                        t = per[report.nodeid] = [0.0, 0.0, 0.0]
                    t[when[report.when]] = report.duration
        calls = self.calls
        for nodeid, t in per.items():
            t[1] = calls.get(nodeid, t[1])
        if self.store:
            self._fold(terminal)

    def _fold(self, terminal: Any) -> None:
        tests, now = self.tests, "%.3f" % time.time()  # noqa: UP031
        full, usable, check = KEEP - 1, _ENTRY.fullmatch, self.check
        slow = []
        for nodeid, (setup, call, teardown) in self.per.items():
            new = ("%.6f" % setup, "%.6f" % call, "%.6f" % teardown)  # noqa: UP031
            old = tests.get(nodeid)
            if type(old) is not str or not (usable(old) if check else old.count("|") == 3):
                tests[nodeid] = f"{new[0]}|{new[1]}|{new[2]}|{now}"
            else:
                parts = old.split("|")
                for i in 0, 1, 2:
                    series = parts[i]
                    if series.count(",") >= full:
                        series = series[series.index(",") + 1 :]
                    parts[i] = f"{series},{new[i]}"
                parts[3] = now
                tests[nodeid] = "|".join(parts)
            if call > self.threshold:
                slow.append(nodeid)
        path = self._path()
        if path is None:
            return
        document: dict[str, Any] = {"slow": slow, "tests": tests}
        if self.contract:
            document["marks"] = self.marks
            document["history"] = self._history(terminal)
        with self._locked(path):
            temporary = path.with_name(f"durations.{os.getpid()}.tmp")
            temporary.write_text(json.dumps(document, separators=(",", ":")))
            os.replace(temporary, path)
            if self.journal is not None:
                os.unlink(path.with_name(f"run-{os.getpid()}.journal"))
                os.close(self.journal)

    @contextlib.contextmanager
    def _locked(self, path: Any) -> Any:
        if not self.contract:
            yield
            return
        fd = os.open(path.with_name("durations.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _history(self, terminal: Any) -> dict[str, object]:
        """Each test's outcomes, the last HISTORY, this run's appended; flaky: both seen."""
        history = self.history
        stats = getattr(terminal, "stats", {})
        failed = {r.nodeid for c in ("failed", "error") for r in stats.get(c, ())}
        keep = 1 - HISTORY
        for nodeid in self.per:
            old = history.get(nodeid)
            outcome = "f" if nodeid in failed else "p"
            new = outcome if type(old) is not str else old[keep:] + outcome
            history[nodeid] = new
            if "f" in new and "p" in new:
                self.flaky.append(nodeid)
        return history

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.aggregate:
            return
        kinds: dict[str, str] = {}
        rows: dict[str, list[float]] = {}
        for nodeid, (setup, call, teardown) in self.per.items():
            path = nodeid.partition("::")[0]
            kind = kinds.get(path)
            if kind is None:
                folders = path.split("/")
                kind = kinds[path] = next((t for t in TYPES if t in folders), "other")
            row = rows.get(kind)
            if row is None:
                row = rows[kind] = [0, 0.0]
            row[0] += 1
            row[1] += setup + call + teardown
        terminalreporter.write_sep("=", "test types")
        for kind, (count, seconds) in sorted(rows.items()):
            terminalreporter.write_line(f"{kind:<6} {count:6d} {seconds:8.2f}s")
        for line in (*self.findings, *(f"flaky: {nodeid}" for nodeid in self.flaky)):
            terminalreporter.write_line(line)
