"""The durations store, pure logic: recent setup, call and teardown seconds per test.

The value (in pytest's cache under the key ``tempo/durations``, or in the file of
``durations_path``)::

    {"version": 1, "folded": ["4242-1f0e..."], "tests": {"tests/test_a.py::test_x": {
        "at": [1750000000.0], "setup": [0.01], "call": [1.2, 1.1], "teardown": [0.0],
        "shared": [0.0], "marks": []}}}

``folded`` names the last run journals folded in, so none is ever folded twice; other
top-level keys are kept as they are (:attr:`Parsed.extra`). The
functions here take and return plain data: :func:`parse_document` checks a value read from
disk, :func:`fold` adds a run's measurements, :func:`merge_stores` joins the stores of
shards, :func:`to_record`/:func:`from_record` are the lines of a run's journal. The files,
the lock and the journals are in :mod:`pytest_tempo.durations_io`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .markers import RECORDED_MARKS

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "KEEP",
    "PHASES",
    "STORE_KEY",
    "Measured",
    "Parsed",
    "Record",
    "Snapshot",
    "Store",
    "estimate",
    "fold",
    "fold_records",
    "merge",
    "merge_stores",
    "parse_document",
    "parse_store",
    "prune",
    "recorded_calls",
    "round_seconds",
]

STORE_KEY = "tempo/durations"
VERSION = 1
#: How many recent runs are kept per phase, so one noisy run does not decide.
KEEP = 5
PHASES = ("setup", "call", "teardown")
#: Recorded seconds kept per test: the phases, and the module- or class-scoped fixture
#: set-up its setup triggered (charged to the fixture, kept for scheduling).
SERIES = (*PHASES, "shared")
#: The key of an entry's stamp: ``[epoch seconds]`` of the run that last measured the test.
STAMP = "at"
#: The largest number of seconds a store accepts (11.6 days; a soak test runs 12 hours).
MAX_SECONDS = 1e6
#: The largest stamp a store accepts (epoch seconds, in the year 5138).
MAX_STAMP = 1e11
#: How many folded journals a store remembers, so a journal is never folded twice.
FOLDED_KEEP = 64
#: The top-level keys of a store document that this module reads and writes.
DOCUMENT_KEYS = ("version", "tests", "folded")

#: node id -> phase -> recent seconds, newest last (and "marks" -> recorded markers).
Store = dict[str, dict[str, Any]]
#: One test as a run measured it, a journal line's value: ``(nodeid, at, setup, call,
#: teardown, shared, marks)``, None for a phase that did not run (``shared`` and ``marks``
#: are None without a setup; ``at`` None: when the run records it). Seconds unrounded.
Record = tuple[str, "float | None", "float | None", "float | None", "float | None",
               "float | None", "Sequence[str] | None"]  # fmt: skip


@dataclass
class Measured:
    """What one run measured for one test."""

    setup: float = 0.0
    call: float = 0.0
    teardown: float = 0.0
    phases: set[str] = field(default_factory=set)
    shared: float = 0.0
    marks: tuple[str, ...] = ()
    #: when the test was measured (epoch seconds); None: when the run records it
    at: float | None = None

    def total(self) -> float:
        return self.setup + self.call + self.teardown


def round_seconds(value: float) -> float:
    """Seconds as stored: 4 significant digits, and never finer than a microsecond.

    Enough to order and balance by, and short enough for a store file whose diff is read.
    """
    # Under 10 s by float arithmetic: ``k / 10**d`` is the float nearest that decimal, as
    # ``round`` gives it, without its decimal conversions (it runs for every phase of every
    # test); from 10 s on, ``round`` to 4 significant digits.
    if value < 0.01:
        return int(value * 1e6 + 0.5) / 1e6 if value > 0 else 0.0
    if value < 0.1:
        return int(value * 1e5 + 0.5) / 1e5
    if value < 1:
        return int(value * 1e4 + 0.5) / 1e4
    if value < 10:
        return int(value * 1e3 + 0.5) / 1e3
    return round(value, 3 - math.floor(math.log10(value)))


def _seconds_ok(values: object) -> bool:
    """Whether ``values`` is a list of seconds: numbers from 0 to MAX_SECONDS.

    ``bool`` is not a number here; NaN, infinities and integers too large for a float fail
    the range check (comparisons, not conversions, so nothing can overflow).
    """
    if type(values) is not list:
        return False
    for v in values:
        kind = type(v)
        if (kind is not float and kind is not int) or not 0 <= v <= MAX_SECONDS:
            return False
    return True


def _stamp_ok(value: object) -> bool:
    return type(value) in (int, float) and 0 <= value <= MAX_STAMP  # type: ignore[operator]


def _short(nodeid: str) -> str:
    return repr(nodeid if len(nodeid) <= 80 else nodeid[:77] + "...")


_SERIES = frozenset(SERIES)


def _check_entry(nodeid: str, phases: object) -> tuple[dict[str, Any] | None, str | None]:
    """One entry (the recent values only), or None and why it is unusable.

    Runs once per stored test at every start, so it checks in place and copies nothing
    unless a series is longer than KEEP: a store of 100,000 tests is read in well under a
    second.
    """
    if type(phases) is not dict:
        return None, f"entry for {_short(nodeid)} is not an object"
    trim = False
    for phase, seconds in phases.items():
        if phase in _SERIES:
            if type(seconds) is not list:
                return None, f"entry for {_short(nodeid)} has a bad phase {phase!r}"
            for v in seconds:
                kind = type(v)
                if (kind is not float and kind is not int) or not 0 <= v <= MAX_SECONDS:
                    return None, f"entry for {_short(nodeid)} has values that are not seconds"
            trim = trim or len(seconds) > KEEP
        elif phase == STAMP:
            if type(seconds) is not list or len(seconds) != 1 or not _stamp_ok(seconds[0]):
                return None, f"entry for {_short(nodeid)} has a bad stamp"
        elif phase == "marks":
            if type(seconds) is not list or not all(
                type(m) is str and m in RECORDED_MARKS for m in seconds
            ):
                return None, f"entry for {_short(nodeid)} has bad marks"
        else:
            shown = phase if len(phase) <= 40 else phase[:37] + "..."
            return None, f"entry for {_short(nodeid)} has a bad phase {shown!r}"
    if trim:
        return {p: v[-KEEP:] if p in _SERIES else v for p, v in phases.items()}, None
    return phases, None


@dataclass
class Parsed:
    """A store value read and checked: the usable entries, and what was wrong, if anything.

    ``fresh`` means the value as a whole was unusable (not a store at all), so nothing of it
    was kept; otherwise ``problem`` names the entries that were dropped.
    """

    store: Store = field(default_factory=dict)
    folded: list[str] = field(default_factory=list)
    problem: str | None = None
    fresh: bool = False
    #: the document's other top-level keys, kept as they are through every update
    extra: dict[str, Any] = field(default_factory=dict)


def parse_document(value: object) -> Parsed:
    """Validate a stored value: the good entries are kept, bad ones dropped and counted.

    Never raises, whatever ``value`` holds (any JSON value).
    """
    if value is None:
        return Parsed()
    if type(value) is not dict:
        return Parsed(problem=f"expected an object, found {type(value).__name__}", fresh=True)
    version = value.get("version")
    if version != VERSION:
        shown = repr(version) if type(version) in (int, str, type(None)) else type(version).__name__
        return Parsed(problem=f"unknown version {shown[:40]}", fresh=True)
    tests = value.get("tests")
    if type(tests) is not dict:
        return Parsed(problem="'tests' is not an object", fresh=True)
    folded = value.get("folded", [])
    if type(folded) is not list or not all(type(f) is str for f in folded):
        folded = []
    store: Store = {}
    bad, first = 0, None
    for nodeid, phases in tests.items():
        entry, reason = _check_entry(nodeid, phases)
        if entry is None:
            bad += 1
            first = first or reason
        else:
            store[nodeid] = entry
    problem = None
    if bad == 1:
        problem = first
    elif bad:
        problem = f"{bad} bad entries, the first: {first}"
    extra = {k: v for k, v in value.items() if k not in DOCUMENT_KEYS}
    return Parsed(store, folded[-FOLDED_KEEP:], problem, extra=extra)


def parse_store(value: object) -> tuple[Store, str | None]:
    """Validate a stored value; return the usable store and, when something was not, why."""
    parsed = parse_document(value)
    return parsed.store, parsed.problem


def fold(
    store: Store,
    measured: Iterable[tuple[str, Measured]],
    now: float | None = None,
) -> Store:
    """Add one run's seconds to ``store`` in place (see :func:`fold_records`)."""
    from .durations_journal import to_raw  # which imports this module

    return fold_records(store, (to_raw(nodeid, m) for nodeid, m in measured), now)


def _push(entry: dict[str, Any], phase: str, seconds: float) -> None:
    """Append ``seconds`` (rounded) to one series of an entry, keeping the last KEEP."""
    series = entry.get(phase)
    value = round_seconds(seconds)
    entry[phase] = [*series[1 - KEEP :], value] if series else [value]


def fold_records(store: Store, records: Iterable[Record], now: float | None = None) -> Store:
    """Add one run's seconds to ``store`` in place: appended, the oldest dropped past KEEP.

    Each measured test's entry is stamped with when it was measured (the record's ``at``,
    else ``now``, else the current time), keeping the newest stamp it already had.
    """
    default = round(time.time() if now is None else now, 3)
    for nodeid, at, setup, call, teardown, shared, marks in records:
        entry = store.get(nodeid)
        if entry is None:
            entry = store[nodeid] = {}
        if at is None:
            at = default
        before = entry.get(STAMP)
        entry[STAMP] = [at if not before or at > before[0] else before[0]]
        if setup is not None:
            _push(entry, "setup", setup)
        if call is not None:
            _push(entry, "call", call)
        if teardown is not None:
            _push(entry, "teardown", teardown)
        if setup is not None:
            _push(entry, "shared", shared or 0.0)
            entry["marks"] = list(marks or ())
    return store


def prune(store: Store, existing: Iterable[str]) -> Store:
    """Only the entries of tests that exist (the node ids of a full, unfiltered collection)."""
    keep = set(existing)
    return {nodeid: entry for nodeid, entry in store.items() if nodeid in keep}


def merge(
    old: Mapping[str, Mapping[str, list[float]]],
    measured: Mapping[str, Measured],
    existing: Iterable[str] | None = None,
    now: float | None = None,
) -> Store:
    """The store after this run, ``old`` unchanged (see :func:`fold` and :func:`prune`).

    Tests not run this time keep their entries. When ``existing`` (the node ids of a full,
    unfiltered collection) is given, entries for tests that no longer exist are pruned.
    """
    store: Store = {n: {p: list(v[-KEEP:]) for p, v in phases.items()} for n, phases in old.items()}
    fold(store, measured.items(), now)
    if existing is not None:
        store = prune(store, {*existing, *measured})
    return store


def median(values: Sequence[float]) -> float:
    """The median of a non-empty sequence (``statistics.median``, without importing it)."""
    if len(values) == 1:  # most entries of a young store: no sort
        return values[0]
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def estimate(entry: Mapping[str, list[float]], phase: str = "call") -> float | None:
    """The median of the recent seconds of one phase, or None when never recorded."""
    values = entry.get(phase)
    return median(values) if values else None


def recorded_calls(store: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """Median call seconds per test recorded with a call: what the ``tiers`` order and the
    stale ``slow`` markers need of the store (the rest of :class:`Snapshot`, not)."""
    calls = {}
    for nodeid, entry in store.items():
        values = entry.get("call")
        if values:
            calls[nodeid] = values[0] if len(values) == 1 else median(values)
    return calls


def estimate_total(entry: Mapping[str, list[float]]) -> float | None:
    """Median setup + call + teardown; None when the call was never recorded."""
    call = estimate(entry, "call")
    if call is None:
        return None
    return call + (estimate(entry, "setup") or 0.0) + (estimate(entry, "teardown") or 0.0)


@dataclass(frozen=True)
class Snapshot:
    """What ordering needs from the store, frozen once per run: median call and total seconds.

    The controller builds it and ships it to xdist workers as plain data, so every worker
    orders alike whatever the cache holds by the time it starts.
    """

    calls: dict[str, float] = field(default_factory=dict)
    totals: dict[str, float] = field(default_factory=dict)
    #: module/class fixture set-up seconds recorded per test (the median), where non-zero
    shared: dict[str, float] = field(default_factory=dict)
    #: tests recorded as marked smoke in their last run
    smoke: frozenset[str] = frozenset()

    @classmethod
    def of(cls, store: Mapping[str, Mapping[str, Any]]) -> Snapshot:
        calls, totals, shared, smoke = {}, {}, {}, set()
        for nodeid, entry in store.items():
            call = estimate(entry)
            if call is not None:  # estimate_total, without a second median of the call
                setup, teardown = entry.get("setup"), entry.get("teardown")
                calls[nodeid] = call
                total = call + (median(setup) if setup else 0.0)
                totals[nodeid] = total + (median(teardown) if teardown else 0.0)
            fixtures = estimate(entry, "shared")
            if fixtures:
                shared[nodeid] = fixtures
            if "smoke" in entry.get("marks", ()):
                smoke.add(nodeid)
        return cls(calls, totals, shared, frozenset(smoke))

    def to_plain(self) -> dict[str, Any]:
        return {"calls": self.calls, "totals": self.totals}

    @classmethod
    def from_plain(cls, value: object) -> Snapshot:
        """What a worker needs (ordering), as shipped by the controller."""
        if not isinstance(value, dict):
            return cls()
        return cls(dict(value.get("calls", {})), dict(value.get("totals", {})))


def merge_stores(stores: Iterable[Mapping[str, Mapping[str, Any]]]) -> Store:
    """One store from several (the shards of a CI matrix).

    Shards restored from one cache each carry the earlier entries of the tests they did not
    run, so per test the entry measured last (by its stamp) wins; a copy of the same entry
    changes nothing. Entries without stamps (stores of older versions) are joined: their
    series concatenated in the order given and cut to the last KEEP, marks from the last.
    """
    merged: Store = {}
    for store in stores:
        for nodeid, entry in store.items():
            target = merged.get(nodeid)
            at, target_at = _stamp(entry), _stamp(target)
            if target is None or (at is not None and (target_at is None or at > target_at)):
                merged[nodeid] = {key: list(values) for key, values in entry.items()}
            elif at is None and target_at is None:
                for key, values in entry.items():
                    if key == "marks":
                        target[key] = list(values)
                    else:
                        target[key] = [*target.get(key, []), *values][-KEEP:]
    return merged


def _stamp(entry: Mapping[str, Any] | None) -> float | None:
    values = entry.get(STAMP) if entry is not None else None
    return float(values[0]) if values else None
