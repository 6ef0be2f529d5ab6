"""The durations store: recent setup, call and teardown seconds per test, in pytest's cache.

The value lives under the cache key ``tempo/durations``::

    {"version": 1, "tests": {"tests/test_a.py::test_x": {"setup": [0.01], "call": [1.2, 1.1],
                                                           "teardown": [0.0]}}}

Only the controller process writes it, once, at the end of a session. The pure functions
here (:func:`parse_store`, :func:`merge`, :func:`estimate`) hold the logic; :func:`read_store`
and :func:`write_store` do the I/O.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from pytest import Cache

__all__ = [
    "KEEP",
    "PHASES",
    "STORE_KEY",
    "Measured",
    "Store",
    "estimate",
    "merge",
    "parse_store",
    "read_store",
    "write_store",
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
#: Markers recorded per test, so the controller knows them without collecting.
RECORDED_MARKS = ("smoke", "slow")

#: node id -> phase -> recent seconds, newest last (and "marks" -> recorded markers).
Store = dict[str, dict[str, Any]]


@dataclass
class Measured:
    """What one run measured for one test."""

    setup: float = 0.0
    call: float = 0.0
    teardown: float = 0.0
    phases: set[str] = field(default_factory=set)
    shared: float = 0.0
    marks: tuple[str, ...] = ()

    def total(self) -> float:
        return self.setup + self.call + self.teardown


def _is_seconds(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


def _all_seconds(values: list[Any]) -> bool:
    """Whether every value is a number of seconds (0 or more; NaN is not)."""
    if not {type(v) for v in values} <= {int, float}:  # bool is not int here
        return False
    return all(v >= 0 for v in values)


def parse_store(value: object) -> tuple[Store, str | None]:
    """Validate a stored value; return the store and, when it was unusable, why.

    Anything not of the expected shape gives an empty store and a reason; a single bad entry
    makes the whole value suspect, since a foreign writer may have produced it.
    """
    if value is None:
        return {}, None
    if not isinstance(value, dict):
        return {}, f"expected an object, found {type(value).__name__}"
    if value.get("version") != VERSION:
        return {}, f"unknown version {value.get('version')!r}"
    tests = value.get("tests")
    if not isinstance(tests, dict):
        return {}, "'tests' is not an object"
    store: Store = {}
    for nodeid, phases in tests.items():
        if not isinstance(phases, dict):
            return {}, f"entry for {nodeid!r} is not an object"
        entry: dict[str, Any] = {}
        for phase, seconds in phases.items():
            if phase == STAMP:
                stamped = isinstance(seconds, list) and len(seconds) == 1
                if not stamped or not _is_seconds(seconds[0]):
                    return {}, f"entry for {nodeid!r} has a bad stamp"
                entry[phase] = [float(seconds[0])]
                continue
            if phase == "marks":
                if not isinstance(seconds, list) or not all(m in RECORDED_MARKS for m in seconds):
                    return {}, f"entry for {nodeid!r} has bad marks"
                entry[phase] = list(seconds)
                continue
            if phase not in SERIES or not isinstance(seconds, list):
                return {}, f"entry for {nodeid!r} has a bad phase {phase!r}"
            if not _all_seconds(seconds):
                return {}, f"entry for {nodeid!r} has values that are not seconds"
            entry[phase] = [float(s) for s in seconds[-KEEP:]]
        store[nodeid] = entry
    return store, None


def merge(
    old: Mapping[str, Mapping[str, list[float]]],
    measured: Mapping[str, Measured],
    existing: Iterable[str] | None = None,
    now: float | None = None,
) -> Store:
    """The store after this run: this run's seconds appended, the oldest dropped past KEEP.

    Tests not run this time keep their entries. When ``existing`` (the node ids of a full,
    unfiltered collection) is given, entries for tests that no longer exist are pruned. Each
    measured test's entry is stamped with ``now`` (default: the current time).
    """
    stamp = [round(time.time() if now is None else now, 3)]
    store: Store = {n: {p: list(v[-KEEP:]) for p, v in phases.items()} for n, phases in old.items()}
    for nodeid, m in measured.items():
        entry = store.setdefault(nodeid, {})
        entry[STAMP] = stamp
        for phase in PHASES:
            if phase in m.phases:
                entry[phase] = [*entry.get(phase, []), round(getattr(m, phase), 6)][-KEEP:]
        if "setup" in m.phases:
            entry["shared"] = [*entry.get("shared", []), round(m.shared, 6)][-KEEP:]
            entry["marks"] = list(m.marks)
    if existing is not None:
        keep = set(existing) | set(measured)
        store = {nodeid: phases for nodeid, phases in store.items() if nodeid in keep}
    return store


def median(values: Sequence[float]) -> float:
    """The median of a non-empty sequence (``statistics.median``, without importing it)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def estimate(entry: Mapping[str, list[float]], phase: str = "call") -> float | None:
    """The median of the recent seconds of one phase, or None when never recorded."""
    values = entry.get(phase)
    return median(values) if values else None


def estimate_total(entry: Mapping[str, list[float]]) -> float | None:
    """Median setup + call + teardown; None when the call was never recorded."""
    call = estimate(entry, "call")
    if call is None:
        return None
    return call + (estimate(entry, "setup") or 0.0) + (estimate(entry, "teardown") or 0.0)


def _value_path(cache: Cache, key: str = STORE_KEY) -> Path | None:
    # pytest's Cache.set writes in place (src/_pytest/cacheprovider.py, Cache.set:
    # path.write_text), so an interrupted write leaves half a file. The store is set under a
    # temporary key and renamed over the real one instead. _getvaluepath is private; when it
    # is missing, the store falls back to plain Cache.get/Cache.set.
    getter = getattr(cache, "_getvaluepath", None)
    if getter is None:
        return None
    path = getter(key)
    return path if isinstance(path, Path) else None


def read_store(cache: Cache) -> tuple[Store, str | None]:
    """Read the store; a missing one is empty, a corrupt one is empty with a reason."""
    path = _value_path(cache)
    if path is None:
        return parse_store(cache.get(STORE_KEY, None))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, None
    except OSError as exc:
        return {}, f"could not read it: {exc.strerror or exc}"
    try:
        value: Any = json.loads(text)
    except ValueError:
        return {}, "it is not valid JSON"
    return parse_store(value)


def _dumps(value: object) -> str:
    """Compact JSON, written by json's C encoder (which an indent would turn off)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def write_store(cache: Cache, store: Store) -> str | None:
    """Write the store atomically; return an error message instead of raising."""
    value = {"version": VERSION, "tests": store}
    temporary_key = f"{STORE_KEY}.{os.getpid()}.tmp"
    path, temporary = _value_path(cache), _value_path(cache, temporary_key)
    if path is None or temporary is None:
        cache.set(STORE_KEY, value)
        return None
    # Cache.set creates the cache folder with its README and .gitignore, but writes indented
    # JSON through the pure-Python encoder; the store is written compactly (the C encoder,
    # a tenth of the time for thousands of tests) over the small value set first.
    cache.set(temporary_key, None)
    try:
        temporary.write_text(_dumps(value), encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        return f"could not write {path}: {exc.strerror or exc}"
    return None


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
            call, total = estimate(entry), estimate_total(entry)
            if call is not None and total is not None:
                calls[nodeid], totals[nodeid] = call, total
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


def store_path(path: Path) -> Path:
    """A store file given itself or the cache folder (``.pytest_cache``) that holds it."""
    if path.is_dir():
        return path.joinpath("v", *STORE_KEY.split("/"))
    return path


def load_file(path: Path) -> Store:
    """Read a store file; raise ValueError with a one-line reason."""
    try:
        text = store_path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        value = json.loads(text)
    except ValueError:
        raise ValueError(f"{path} is not valid JSON") from None
    store, problem = parse_store(value)
    if problem:
        raise ValueError(f"{path} is not a durations store: {problem}")
    return store


def save_file(path: Path, store: Store) -> None:
    """Write a store file atomically (a temporary file renamed over the target)."""
    target = store_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    temporary.write_text(_dumps({"version": VERSION, "tests": store}), encoding="utf-8")
    os.replace(temporary, target)
