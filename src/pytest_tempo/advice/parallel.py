"""What parallelism buys: the expected wall time at ``-n 2, 4, 8, 16``.

The run is replayed on :func:`pytest_tempo.forecast.makespan` (virtual workers, a virtual
clock) with the real schedulers: pytest-tempo's ``--tempo-dist=duration`` and, when
pytest-xdist is installed, its default ``load``. Each worker first pays the start-up and
collection measured in this run, and the session-scoped fixture set-ups.

A row whose tests are all small (none over a quarter of a worker's share at that many
workers) is not replayed on xdist's ``load``: it hands out tests one by one, whatever
fixtures they share, and keeps the workers busy to within a test or two of the even split,
so the row is the start-up and an even share of the tests' seconds. The same holds for
``--tempo-dist=duration`` unless its plan keeps a module together for its fixtures there. A
scheduler that no row needs is not even imported; a suite of many small tests and no
fixture groups is not replayed at all.
"""

from __future__ import annotations

import itertools
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

__all__ = ["WORKERS", "Forecast", "Row", "bundle", "even_rows", "judge_parallel", "replay_rows"]

WORKERS = (2, 4, 8, 16)
#: Past this many tests, the smallest are replayed in bundles (in collection order), so a
#: forecast of a large suite stays a fraction of a second.
MAX_UNITS = 100
#: A row is worth showing when it saves this share of the wall time, and the threshold.
GAIN = 0.2
#: No replay when every test is at most a quarter of a worker's share at the most workers
#: (and no fixture groups): any scheduler then ends within a unit or two of the even split.
EVEN = 4
#: Doubling the workers "stops paying" when it saves less than this share.
DIMINISHING = 0.1


class _Value:
    """A plain immutable value: equal by its fields (a class, not a dataclass, so that the
    module costs next to nothing to import)."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _Value)
            and type(other) is type(self)
            and self._values() == other._values()
        )

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        values = ", ".join(f"{n}={v!r}" for n, v in zip(self._fields, self._values(), strict=True))
        return f"{type(self).__name__}({values})"


class Row(_Value):
    __slots__ = ("duration", "load", "workers")
    _fields = ("workers", "duration", "load")

    def __init__(self, workers: int, duration: float, load: float | None) -> None:
        self.workers = workers
        self.duration = duration
        self.load = load  # None: pytest-xdist is not installed


class Forecast(_Value):
    """What parallelism buys: ``now`` the wall seconds this run took (start-up, collection
    and tests) with ``now_workers`` (1: without xdist); ``start_up`` per worker (start,
    collection, session fixtures); ``stops_at`` the number of workers past which doubling
    saves under DIMINISHING, or None; ``bound`` what bounds the run past ``stops_at``:
    "start-up and collection" (at least half of the next row), "fixture groups" (modules
    kept whole for their shared fixtures), else "the longest test" (and the tests that
    share its worker)."""

    __slots__ = ("bound", "longest", "now", "now_workers", "rows", "start_up", "stops_at")
    _fields = ("now", "now_workers", "start_up", "rows", "stops_at", "bound", "longest")

    def __init__(
        self,
        now: float,
        now_workers: int,
        start_up: float,
        rows: tuple[Row, ...],
        stops_at: int | None,
        bound: str,
        longest: tuple[str, float],
    ) -> None:
        self.now = now
        self.now_workers = now_workers
        self.start_up = start_up
        self.rows = rows
        self.stops_at = stops_at
        self.bound = bound
        self.longest = longest


def bundle(
    nodeids: Sequence[str], durations: Sequence[float], limit: int = MAX_UNITS
) -> tuple[list[str], list[float]]:
    """Tests joined in collection order into at most about ``limit`` units: a test of at least
    total/limit seconds stays alone, smaller neighbours share a unit up to that size."""
    if len(nodeids) <= limit:
        return list(nodeids), list(durations)
    size = sum(durations) / limit
    ids: list[str] = []
    seconds: list[float] = []
    current: float | None = None  # the open bundle's seconds
    for nodeid, d in zip(nodeids, durations, strict=True):
        if current is not None and (d >= size or current + d > size):
            seconds.append(current)
            current = None
        if d >= size:
            ids.append(nodeid)
            seconds.append(d)
        elif current is None:
            ids.append(nodeid)  # a bundle is named by its first test
            current = d
        else:
            current += d
    if current is not None:
        seconds.append(current)
    return ids, seconds


class _Ours:
    """pytest-tempo's scheduler for the replay, and the plans it is handed: the plan
    SchedulingPlugin.plan makes without smoke tests, grouped by shared fixtures, longest
    first (without shared fixtures nothing is grouped and the plan is the same for every
    number of workers: made once). The scheduler's module is imported when first made."""

    def __init__(self, totals: Mapping[str, float], shared: Mapping[str, float]) -> None:
        self._totals, self._shared = totals, shared
        self._plans: dict[tuple[tuple[str, ...], int], Any] = {}
        self._may_group: bool | None = None

    def plan(self, collection: Sequence[str], workers: int) -> Any:
        from ..scheduling.plan import plan_units

        key = (tuple(collection), workers if self._shared else 0)
        made = self._plans.get(key)
        if made is None:
            made = self._plans[key] = plan_units(
                collection, self._totals, (), self._shared, workers
            )
        return made

    def grouped(self, collection: Sequence[str], workers: int) -> bool:
        """Whether the plan keeps a module together for its fixtures at ``workers`` (not
        planned where no module's shared set-up is worth it at any number of workers)."""
        if self._may_group is None:  # the same for every collection of the replay's units
            from ..scheduling.plan import may_keep_together

            totals = self._totals
            self._may_group = may_keep_together(list(totals), list(totals.values()), self._shared)
        if not self._may_group:
            return False
        return any(len(u) > 1 for u in self.plan(collection, workers).units)

    def __call__(self, config: Any, workers: int) -> Any:
        from ..forecast import QUIET
        from ..scheduling.dispatch import DurationScheduling

        return DurationScheduling(config, QUIET, self.plan, workers)


def _load_maker() -> Callable[[Any, int], Any] | None:
    from .. import _import_plainly

    try:
        # Its modules hold no assert a test report shows: pytest's rewriting loader would
        # cost the forecast three times what importing them does.
        load_scheduling = _import_plainly("xdist.scheduler").LoadScheduling
    except ImportError:
        return None
    from ..forecast import QUIET

    return lambda config, n: load_scheduling(config, QUIET)


def even_rows(total: float, start_up: float, workers: Sequence[int], with_load: bool) -> list[Row]:
    """The rows of a suite of many small tests: each worker's start-up and an even share of
    the tests' seconds, for both schedulers (the replay's rows are within a unit of it)."""
    return [Row(n, start_up + total / n, start_up + total / n if with_load else None)
            for n in workers]  # fmt: skip


def replay_rows(
    nodeids: Sequence[str],
    durations: Sequence[float],
    shared: Mapping[str, float],
    start_up: float,
    workers: Sequence[int],
    with_load: bool,
    shortcut: bool = False,
) -> list[Row] | None:
    """The rows of the run replayed on the schedulers (the smallest tests in bundles); None
    when a scheduler never finished.

    With ``shortcut``, a row is replayed only where the even split (see :func:`even_rows`)
    cannot stand in for it: where some unit is over a quarter of a worker's share at that
    many workers; for ``--tempo-dist=duration`` also where its plan keeps a module together
    for its fixtures. A scheduler no row replays is not imported. ``with_load``: pytest-xdist
    is installed.
    """
    from ..forecast import makespan

    ids, seconds = bundle(nodeids, durations)
    totals = dict(zip(ids, seconds, strict=True))
    ours = _Ours(totals, {n: s for n, s in shared.items() if n in totals})
    load_make: Callable[[Any, int], Any] | None = None
    total, largest = sum(seconds), max(seconds, default=0.0)
    rows = []
    try:
        for n in workers:
            even = start_up + total / n
            small = shortcut and largest * EVEN * n <= total
            if small and not ours.grouped(ids, n):
                duration = even
            else:
                duration = makespan(ours, ids, seconds, n, start_up)
            load: float | None = None
            if with_load and small:
                load = even
            elif with_load:
                load_make = load_make or _load_maker()
                load = makespan(load_make, ids, seconds, n, start_up) if load_make else None
            rows.append(Row(n, duration, load))
    except RuntimeError:  # a scheduler that never finished: no forecast, rather than a hang
        return None
    return rows


def _has_xdist() -> bool:
    """Whether pytest-xdist is installed (its plugin is loaded by then, when it is)."""
    if "xdist" in sys.modules:
        return True
    from importlib.util import find_spec

    return find_spec("xdist") is not None


def judge_parallel(
    nodeids: Sequence[str],
    durations: Sequence[float],
    shared: Mapping[str, float],
    start_up: float,
    now: float,
    now_workers: int,
    threshold: float,
    workers: Sequence[int] = WORKERS,
    with_load: bool = True,
) -> Forecast | None:
    """The forecast, or None when no row would save GAIN of ``now`` and ``threshold``.

    ``durations`` are the tests' seconds (set-up, call, teardown and the module or class
    fixtures they triggered) in collection order; ``shared`` the last per test.
    """
    if not nodeids:
        return None
    total = sum(durations)
    most = max(durations)
    longest = (nodeids[durations.index(most)], most)  # the first of the longest
    # Nothing can beat the longest test plus a worker's start-up: no replay needed.
    floor = start_up + max(longest[1], total / max(workers))
    if now - floor < max(GAIN * now, threshold):
        return None
    with_load = with_load and _has_xdist()
    small = most * EVEN * max(workers) <= total
    if small and not shared:
        rows = even_rows(total, start_up, workers, with_load)
    else:
        replayed = replay_rows(nodeids, durations, shared, start_up, workers, with_load, True)
        if replayed is None:
            return None
        rows = replayed
    best = min(r.duration for r in rows)
    if now - best < max(GAIN * now, threshold):
        return None
    stops_at = None
    for before, after in itertools.pairwise(rows):
        if before.duration - after.duration < DIMINISHING * before.duration:
            stops_at = before.workers
            break
    # What the row past the last one that paid is made of.
    after = next((r for r in rows if r.workers > (stops_at or 0)), rows[-1])
    if start_up >= 0.5 * after.duration:
        bound = "start-up and collection"
    elif shared:
        bound = "fixture groups"
    else:
        bound = "the longest test"
    return Forecast(now, now_workers, start_up, tuple(rows), stops_at, bound, longest)
