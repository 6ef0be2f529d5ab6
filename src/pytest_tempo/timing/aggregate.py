"""The timing feature's engine: per-test timings from the phase records, and the summary.

The timing feature (:mod:`.plugin`) queues one tuple per phase report (:data:`Phase`): the
report and what this process measured of it. :class:`Aggregate` takes those tuples and keeps
one :class:`TestTiming` per test and one :class:`FixtureTiming` per fixture when something
asks for them (the journal's writer, the report, the store at the end of the run), and
:func:`summarize` finds what the report shows. Of pytest's objects, only the plain values
of a report (its ``__dict__``, what pytest-xdist sends) are read here.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from .._tuples import NamedTuple, Slotted
from ..markers import RECORDED_MARKS

if TYPE_CHECKING:
    from collections import deque
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from pytest import TestReport

__all__ = [
    "SHARED_SCOPES",
    "Aggregate",
    "FixtureTiming",
    "Phase",
    "TestTiming",
    "TimingSummary",
    "is_empty",
    "outcome_of",
    "phase_outcome",
    "record_of",
    "summarize",
]

SHARED_SCOPES = ("session", "package", "module", "class")

#: One phase report as the controller keeps it: the report (only its ``__dict__`` is read:
#: ``when``, ``duration``, ``start``, ``stop``, ``outcome``, ``wasxfail``, and, from an xdist
#: worker, ``worker_id`` and the worker's ``tempo_*`` values), its node id, and what this
#: process measured of it: the call's own seconds (None: the report's duration) and the
#: fixture set-ups ``(name, scope, baseid, seconds)`` of the phase.
Phase = tuple[Any, str, "float | None", "Sequence[Sequence[Any]] | None"]

#: What the store records of one test: node id, when (epoch seconds), setup, call (None: no
#: call phase), teardown, shared fixture set-up, markers (the journal's line, unrounded).
Record = tuple[str, "float | None", "float | None", "float | None", "float | None",
               "float | None", "Sequence[str] | None"]  # fmt: skip


class TestTiming(NamedTuple):
    """One test's seconds in this run, as the controller saw them.

    ``start``/``stop``: wall-clock start of the setup and end of the teardown (epoch
    seconds); ``outcome``: as pytest's summary line counts it (passed, failed, error: a
    failure outside the call phase, skipped, xfailed or xpassed); ``types``: the test-type
    markers the test carries (unit, integration, ... from test_types); ``shared``: the
    module/class/package/session fixture set-up its setup triggered (the fixture's cost).

    A tuple: :class:`Aggregate` fills a list of these fields while the test runs and keeps
    a plain tuple once it finished, which becomes a ``TestTiming`` without copying when read.
    """

    nodeid: str
    setup: float = 0.0
    call: float = 0.0
    teardown: float = 0.0
    worker: str = "master"
    marked_slow: bool = False
    ran_call: bool = False
    start: float = 0.0
    stop: float = 0.0
    outcome: str = "passed"
    types: tuple[str, ...] = ()
    shared: float = 0.0
    marks: tuple[str, ...] = ()

    @property
    def total(self) -> float:
        return self.setup + self.call + self.teardown


TestTiming.__test__ = False  # type: ignore[attr-defined]  # not a test class, for pytest

#: A plain tuple (or list) of a TestTiming's fields, in order, as a TestTiming (no copy of
#: a tuple's items, no Python frame).
_as_timing = partial(tuple.__new__, TestTiming)
#: The indexes of a running test's list of fields.
_SETUP, _CALL, _TEARDOWN, _SLOW, _RAN, _START, _STOP, _OUTCOME, _TYPES, _SHARED, _MARKS = (
    1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12)  # fmt: skip


class FixtureTiming(Slotted):
    """A fixture's set-ups in this run: where it is defined, how often, and how long."""

    _fields = ("name", "scope", "baseid", "count", "total", "longest", "users")
    __slots__ = _fields

    def __init__(
        self,
        name: str,
        scope: str,
        baseid: str,
        count: int = 0,
        total: float = 0.0,
        longest: float = 0.0,
        users: list[str] | None = None,
    ) -> None:
        self.name = name
        self.scope = scope
        self.baseid = baseid
        self.count = count
        self.total = total
        self.longest = longest
        #: the node id of the test whose phase set it up, per set-up (the strings of the
        #: reports)
        self.users: list[str] = [] if users is None else users


class TimingSummary(Slotted):
    """Everything the report shows, computed from the timings alone."""

    _fields = ("threshold", "slow", "unmarked", "stale", "fixtures", "tests", "total",
                 "workers")  # fmt: skip
    __slots__ = _fields

    def __init__(
        self,
        threshold: float,
        slow: list[TestTiming],
        unmarked: list[TestTiming],
        stale: list[TestTiming],
        fixtures: list[FixtureTiming],
        tests: int,
        total: float,
        workers: dict[str, dict[str, float]] | None = None,
    ) -> None:
        self.threshold = threshold
        self.slow = slow
        self.unmarked = unmarked
        self.stale = stale
        self.fixtures = fixtures
        self.tests = tests
        self.total = total
        self.workers = {} if workers is None else workers

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
    fast = threshold / 10
    slow, stale = [], []
    # One pass: most tests are neither slow nor marked slow, and only add to their worker.
    workers: dict[str, list[float]] = {}
    tests, total = 0, 0.0
    for t in timings:
        tests += 1
        seconds = t.setup + t.call + t.teardown
        total += seconds
        w = workers.get(t.worker)
        if w is None:
            w = workers[t.worker] = [0, 0.0]
        w[0] += 1
        w[1] += seconds
        if t.ran_call:
            if t.call > threshold:
                slow.append(t)
            elif t.marked_slow and t.call + t.shared < fast and recorded.get(t.nodeid, 0.0) < fast:
                stale.append(t)
    slow.sort(key=lambda t: (-t.call, t.nodeid))
    unmarked = [t for t in slow if not t.marked_slow]
    stale.sort(key=lambda t: t.nodeid)
    slow_fixtures = sorted(
        (f for f in fixtures if f.longest > threshold),
        key=lambda f: (-f.longest, f.baseid, f.name),
    )
    per_worker = {w: {"tests": n, "seconds": seconds} for w, (n, seconds) in workers.items()}
    return TimingSummary(
        threshold=threshold,
        slow=slow,
        unmarked=unmarked,
        stale=stale,
        fixtures=slow_fixtures,
        tests=tests,
        total=total,
        workers=dict(sorted(per_worker.items())),
    )


def is_empty(summary: TimingSummary) -> bool:
    """Nothing to show: no slow test, no stale marker, no slow fixture."""
    return not (summary.slow or summary.stale or summary.fixtures)


def phase_outcome(outcome: str, when: str, xfail: bool, before: str) -> str:
    """A test's outcome so far, given one more phase (its report's outcome, when, and
    whether it carries ``wasxfail``), in the terms of pytest's summary line: passed, failed,
    error (a failure outside the call), skipped, xfailed, xpassed."""
    if before in ("failed", "error"):
        return before
    if outcome == "failed":
        return "failed" if when == "call" else "error"
    if outcome == "skipped" and before == "passed":
        return "xfailed" if xfail else "skipped"
    if xfail and outcome == "passed" and when == "call":
        return "xpassed"
    return before


def outcome_of(report: TestReport, before: str) -> str:
    """:func:`phase_outcome` of a report."""
    return phase_outcome(report.outcome, report.when, hasattr(report, "wasxfail"), before)


def record_of(t: TestTiming) -> Record:
    """What the store records of one test (the journal's line, unrounded)."""
    return (
        t.nodeid,
        round(t.stop, 3) if t.stop else None,
        t.setup,
        t.call if t.ran_call else None,
        t.teardown,
        t.shared,
        t.marks,
    )


class Aggregate:
    """The per-test timings and fixture set-ups of the phase records seen so far.

    ``local_facts(nodeid)`` gives the recorded markers of a test measured in this process
    and whether the store leaves it out; an xdist worker sends both on its setup report.
    ``types`` are the markers that name a test type.
    """

    def __init__(
        self,
        types: Sequence[str],
        local_facts: Callable[[str], tuple[Sequence[str], bool]],
    ) -> None:
        #: per test, in the order first seen: the list of its fields while it runs, their
        #: plain tuple once it finished, its TestTiming once read (see :attr:`timings`)
        self._timings: dict[str, list[Any] | tuple[Any, ...]] = {}
        self.fixtures: dict[tuple[str, str, str], FixtureTiming] = {}
        #: tests the store leaves out (load tests under a load profile)
        self.unrecorded: set[str] = set()
        #: per test, the seconds of the session fixtures its phases set up
        self.session_part: dict[str, float] = {}
        #: per test, the failed attempts pytest-rerunfailures ran again (outcome "rerun")
        self.reruns: dict[str, int] = {}
        #: keep the tests finished since :meth:`take_finished` (for the journal)
        self.track = False
        self._finished: list[tuple[Any, ...]] = []
        self._unread = False  # a test's fields are not a TestTiming yet
        self._types = frozenset(types)
        self._local_facts = local_facts
        self._splits: dict[tuple[str, ...], tuple[tuple[str, ...], tuple[str, ...]]] = {}

    @property
    def timings(self) -> dict[str, TestTiming]:
        """Every test's timing, in the order first seen.

        A finished test is kept as the plain tuple of its fields, which the garbage
        collector stops tracking (a tuple of strings and numbers holds no reference cycle):
        a full collection during the run, in a test that calls ``gc.collect()`` or one of
        Python's own, does not walk a record per finished test. They become records here,
        when something reads them (the end of the run, in practice)."""
        timings = self._timings
        if self._unread:
            for nodeid, timing in timings.items():
                if type(timing) is not TestTiming:
                    timings[nodeid] = _as_timing(timing)
            self._unread = False
        return timings  # type: ignore[return-value]  # every value is a TestTiming now

    def advance(self, phases: deque[Phase]) -> None:
        """Fold in the phases waiting in ``phases``, taking them out (the hooks append to it
        meanwhile, from another thread: both ends of a deque are safe for that).

        A running test is a list of its fields (in :class:`TestTiming`'s order), made a
        tuple at its teardown: this runs three times per test."""
        timings, track, finished = self._timings, self.track, self._finished
        take = phases.popleft
        if phases:
            self._unread = True
        while phases:
            report, nodeid, call, fixtures = take()
            data = report.__dict__
            when = data["when"]
            worker = data.get("worker_id")
            if worker is not None:  # measured by an xdist worker, which put its values on it
                call = data.get("tempo_call")
                fixtures = data.get("tempo_fixtures")
            t = timings.get(nodeid)
            if t is None:
                t = timings[nodeid] = [nodeid, 0.0, 0.0, 0.0, worker or "master", False,
                                       False, 0.0, 0.0, "passed", (), 0.0, ()]  # fmt: skip
            elif type(t) is not list:  # finished, and run again (pytest-rerunfailures)
                t = timings[nodeid] = list(t)
            if when == "setup":
                self._setup(t, data, fixtures, worker)
            elif fixtures:  # set up later: by the test itself (request.getfixturevalue)
                self._shared(nodeid, fixtures)
            if when == "call":
                t[_CALL] = float(data["duration"] if call is None else call)
                t[_RAN] = True
            elif when == "teardown":
                t[_TEARDOWN] = data["duration"]
                t[_STOP] = data["stop"]
            outcome = data["outcome"]
            if outcome != "passed" or "wasxfail" in data:
                if outcome == "rerun":  # outside TestReport's declared outcomes
                    self.reruns[nodeid] = self.reruns.get(nodeid, 0) + 1
                if t[_OUTCOME] == "passed":
                    t[_OUTCOME] = phase_outcome(outcome, when, "wasxfail" in data, "passed")
            if when == "teardown":
                done = timings[nodeid] = tuple(t)
                if track:
                    finished.append(done)

    def take_finished(self) -> list[TestTiming]:
        """The tests finished (teardown seen) since the last call, that the store records."""
        finished, self._finished = self._finished, []
        unrecorded = self.unrecorded
        return [_as_timing(t) for t in finished if t[0] not in unrecorded]

    def _split(self, marks: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(recorded smoke/slow marks, test types) of a marks list, computed once per kind."""
        key = tuple(marks)
        split = self._splits.get(key)
        if split is None:
            recorded = tuple(m for m in key if m in RECORDED_MARKS)
            types = tuple(m for m in key if m in self._types)
            split = self._splits[key] = (recorded, types)
        return split

    def count_fixtures(self, nodeid: str, fixtures: Sequence[Sequence[Any]]) -> None:
        """Count fixture set-ups of test ``nodeid`` that no phase report carried (set up
        in a teardown, after the test's last report was read)."""
        self._shared(nodeid, fixtures)

    def _shared(self, nodeid: str, fixtures: Sequence[Sequence[Any]]) -> float:
        """Count the fixture set-ups a test's phase triggered; the seconds of the shared ones
        (charged to them)."""
        shared = 0.0
        for name, scope, baseid, seconds in fixtures:
            fixture = self.fixtures.get((baseid, name, scope))
            if fixture is None:
                fixture = self.fixtures[baseid, name, scope] = FixtureTiming(name, scope, baseid)
            fixture.count += 1
            fixture.total += seconds
            fixture.users.append(nodeid)
            if seconds > fixture.longest:
                fixture.longest = seconds
            if scope in SHARED_SCOPES:
                shared += seconds
                if scope == "session":
                    self.session_part[nodeid] = self.session_part.get(nodeid, 0.0) + seconds
        return shared

    def _setup(
        self,
        t: list[Any],
        data: dict[str, Any],
        fixtures: Sequence[Sequence[Any]] | None,
        worker: str | None,
    ) -> None:
        """A test's setup report: its seconds, its fixtures' and its markers."""
        nodeid = t[0]
        shared = self._shared(nodeid, fixtures) if fixtures else 0.0
        # A session fixture's set-up is the fixture's cost, not the first test's.
        t[_SETUP] = max(0.0, data["duration"] - shared)
        t[_SHARED] = shared
        unrecorded: object
        marks = data.get("tempo_marks") if worker is not None else None
        if marks is None:  # measured here: the markers are read off the item
            marks, unrecorded = self._local_facts(nodeid)
        else:
            unrecorded = data.get("tempo_unrecorded")
        recorded, t[_TYPES] = self._split(marks)
        t[_MARKS] = recorded
        t[_SLOW] = "slow" in recorded
        t[_START] = data["start"]
        if unrecorded:
            self.unrecorded.add(nodeid)
