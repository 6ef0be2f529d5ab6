"""The durations store, pure logic: recent setup, call and teardown seconds per test.

The value (in pytest's cache under the key ``tempo/durations``, or in the file of
``durations_path``), one string per test (:mod:`pytest_tempo.durations_entry`)::

    {"version": 2, "folded": ["4242-1f0e..."], "tests": {
        "tests/test_a.py::test_x": "1750000000.0|0.01|1.2,1.1|0|0|"}}

Version 1 documents (an object of lists per test) are still read, and written as version
2 by the next update. ``folded`` names the last run journals folded in, so none is ever
folded twice; other top-level keys are kept as they are (:attr:`Parsed.extra`). The
functions here take and return plain data: :func:`parse_document` checks a value read from
disk, :func:`fold` adds a run's measurements, :func:`merge_stores` joins the stores of
shards, :func:`to_record`/:func:`from_record` are the lines of a run's journal. The files,
the lock and the journals are in :mod:`pytest_tempo.durations_io`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from .durations_entry import (
    KEEP,
    MAX_SECONDS,
    MAX_STAMP,
    PHASES,
    SERIES,
    STAMP,
    Store,
    check_text,
    decode_entry,
    entry_text,
    median,
    median_text,
    round_seconds,
    stamp_of,
    texts_of,
)
from .durations_fold import fold_texts
from .markers import RECORDED_MARKS

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, MutableMapping, Sequence

__all__ = [
    "KEEP",
    "MAX_SECONDS",
    "MAX_STAMP",
    "PHASES",
    "SERIES",
    "STAMP",
    "STORE_KEY",
    "Entries",
    "Measured",
    "Parsed",
    "Record",
    "Snapshot",
    "Store",
    "estimate",
    "fold",
    "fold_records",
    "median",
    "merge",
    "merge_stores",
    "parse_document",
    "parse_store",
    "prune",
    "recorded_calls",
    "round_seconds",
]

STORE_KEY = "tempo/durations"
#: The version written; version 1 (an object of lists per test) is read too.
VERSION = 2
VERSIONS = (1, 2)
#: How many folded journals a store remembers, so a journal is never folded twice.
FOLDED_KEEP = 64
#: The top-level keys of a store document that this module reads and writes.
DOCUMENT_KEYS = ("version", "tests", "folded")
_M = TypeVar("_M", bound="MutableMapping[str, Any]")
#: A store as plain data: node id -> phase -> recent seconds, newest last (and ``at``,
#: ``marks``), as :class:`Store` shows its entries and version 1 documents hold them.
Entries = dict[str, dict[str, Any]]
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

    store: Store = field(default_factory=Store)
    folded: list[str] = field(default_factory=list)
    problem: str | None = None
    fresh: bool = False
    #: the document's other top-level keys, kept as they are through every update
    extra: dict[str, Any] = field(default_factory=dict)


def parse_document(value: object) -> Parsed:
    """Validate a stored value: the good entries are kept, bad ones dropped and counted.

    Never raises, whatever ``value`` holds (any JSON value). A version 1 document is
    checked as it was and its entries turned into text.
    """
    if value is None:
        return Parsed()
    if type(value) is not dict:
        return Parsed(problem=f"expected an object, found {type(value).__name__}", fresh=True)
    version = value.get("version")
    if version not in VERSIONS:
        shown = repr(version) if type(version) in (int, str, type(None)) else type(version).__name__
        return Parsed(problem=f"unknown version {shown[:40]}", fresh=True)
    tests = value.get("tests")
    if type(tests) is not dict:
        return Parsed(problem="'tests' is not an object", fresh=True)
    folded = value.get("folded", [])
    if type(folded) is not list or not all(type(f) is str for f in folded):
        folded = []
    store = Store(*(_check_texts if version == VERSION else _check_entries)(tests))
    extra = {k: v for k, v in value.items() if k not in DOCUMENT_KEYS}
    return Parsed(store, folded[-FOLDED_KEEP:], store.problem(), extra=extra)


def _check_texts(tests: dict[str, Any]) -> tuple[dict[str, str], int, str | None]:
    """The usable entries of a version 2 document (``tests`` itself when all are), the
    number of bad ones and why the first is bad."""
    bad: dict[str, str] = {}
    for nodeid, text in tests.items():
        reason = check_text(nodeid, text)
        if reason is not None:
            bad[nodeid] = reason
    if not bad:
        return tests, 0, None
    good = {nodeid: text for nodeid, text in tests.items() if nodeid not in bad}
    return good, len(bad), next(iter(bad.values()))


def _check_entries(tests: dict[str, Any]) -> tuple[dict[str, str], int, str | None]:
    """The usable entries of a version 1 document as text, the number of bad ones and why
    the first is bad."""
    texts: dict[str, str] = {}
    bad, first = 0, None
    for nodeid, phases in tests.items():
        entry, reason = _check_entry(nodeid, phases)
        if entry is None:
            bad += 1
            first = first or reason
        else:
            texts[nodeid] = entry_text(entry)
    return texts, bad, first


def parse_store(value: object) -> tuple[Mapping[str, dict[str, Any]], str | None]:
    """Validate a stored value; return the usable store and, when something was not, why."""
    parsed = parse_document(value)
    return parsed.store, parsed.problem


def fold(
    store: _M,
    measured: Iterable[tuple[str, Measured]],
    now: float | None = None,
) -> _M:
    """Add one run's seconds to ``store`` in place (see :func:`fold_records`)."""
    from .durations_journal import to_raw  # which imports this module

    return fold_records(store, (to_raw(nodeid, m) for nodeid, m in measured), now)


def fold_records(store: _M, records: Iterable[Record], now: float | None = None) -> _M:
    """Add one run's seconds to ``store`` in place: appended, the oldest dropped past KEEP.

    Each measured test's entry is stamped with when it was measured (the record's ``at``,
    else ``now``, else the current time), keeping the newest stamp it already had. Only
    the measured tests' entries are rewritten (:func:`~.durations_fold.fold_texts`).
    ``store``: a :class:`Store`, or a dict of decoded entries (rewritten as such).
    """
    target = store if isinstance(store, Store) else Store.of(store)
    fold_texts(target.texts, records, round(time.time() if now is None else now, 3))
    if target is not store:
        decoded = dict(target.items())
        store.clear()
        store.update(decoded)
    return store


def prune(store: Mapping[str, Mapping[str, Any]], existing: Iterable[str]) -> Store:
    """Only the entries of tests that exist (the node ids of a full, unfiltered collection)."""
    keep = set(existing)
    return Store({nodeid: text for nodeid, text in texts_of(store).items() if nodeid in keep})


def merge(
    old: Mapping[str, Mapping[str, Any]],
    measured: Mapping[str, Measured],
    existing: Iterable[str] | None = None,
    now: float | None = None,
) -> Store:
    """The store after this run, ``old`` unchanged (see :func:`fold` and :func:`prune`).

    Tests not run this time keep their entries. When ``existing`` (the node ids of a full,
    unfiltered collection) is given, entries for tests that no longer exist are pruned.
    """
    store = Store.of(old)
    fold(store, measured.items(), now)
    if existing is not None:
        store = prune(store, {*existing, *measured})
    return store


def estimate(entry: Mapping[str, list[float]], phase: str = "call") -> float | None:
    """The median of the recent seconds of one phase, or None when never recorded."""
    values = entry.get(phase)
    return median(values) if values else None


def recorded_calls(store: Mapping[str, Mapping[str, Any]], floor: float = 0.0) -> dict[str, float]:
    """Median call seconds per test recorded with a call: what the ``tiers`` order and the
    stale ``slow`` markers need of the store (the rest of :class:`Snapshot`, not).

    ``floor``: tests whose every recent call took less may be left out (read as never
    recorded, as both readers may: the order compares with the slow threshold, the stale
    markers with a tenth of it). Such calls are told from their text, unread.
    """
    fast = _fast_prefix(floor)
    each = "," + fast
    calls, bad = {}, []
    for nodeid, text in texts_of(store).items():
        call = text.split("|", 3)[2]
        if not call or (fast and call.startswith(fast) and call.count(each) == call.count(",")):
            continue
        try:
            calls[nodeid] = median_text(call)
        except ValueError:
            bad.append(nodeid)
    if bad and isinstance(store, Store):
        store.drop(bad)
    return calls


def _fast_prefix(floor: float) -> str:
    """How every value under ``floor`` is written: ``0.0`` under 0.1 s, and so on (empty:
    no such prefix)."""
    for prefix, bound in (("0.0", 0.1), ("0.00", 0.01), ("0.000", 0.001)):
        if floor >= bound:
            return prefix
    return ""


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
        calls, totals, shared, smoke, bad = {}, {}, {}, set(), []
        for nodeid, text in texts_of(store).items():
            fields = text.split("|")
            try:
                setup = median_text(fields[1]) if fields[1] else 0.0
                teardown = median_text(fields[3]) if fields[3] else 0.0
                fixtures = median_text(fields[4]) if fields[4] else 0.0
                call = median_text(fields[2]) if fields[2] else None
            except ValueError:
                bad.append(nodeid)
                continue
            if call is not None:
                calls[nodeid] = call
                totals[nodeid] = call + setup + teardown
            if fixtures:
                shared[nodeid] = fixtures
            if len(fields) > 5 and "smoke" in fields[5].split(","):
                smoke.add(nodeid)
        if bad and isinstance(store, Store):
            store.drop(bad)
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
    run, so per test the entry measured last (by its stamp) wins, its text copied as it is;
    a copy of the same entry changes nothing. Entries without stamps (stores of older
    versions) are joined: their series concatenated in the order given and cut to the last
    KEEP, marks from the last.
    """
    merged: dict[str, str] = {}
    for store in stores:
        texts = store.checked().texts if isinstance(store, Store) else texts_of(store)
        for nodeid, text in texts.items():
            target = merged.get(nodeid)
            if target is None:
                merged[nodeid] = text
                continue
            at, target_at = stamp_of(text), stamp_of(target)
            if at is not None and (target_at is None or at > target_at):
                merged[nodeid] = text
            elif at is None and target_at is None:
                merged[nodeid] = _joined(target, text)
    return Store(merged)


def _joined(first: str, then: str) -> str:
    """Two unstamped entries as one: series concatenated, cut to KEEP; the later marks."""
    entry, later = decode_entry(first), decode_entry(then)
    for key, values in later.items():
        entry[key] = values if key == "marks" else [*entry.get(key, []), *values][-KEEP:]
    return entry_text(entry)
