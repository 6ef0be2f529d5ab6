"""The per-test cost model: how many seconds a test is expected to take, recorded or not.

Used to plan xdist dispatch (``--tempo-dist=duration``) and reusable for any split of a
collection. The model, for each collected node id:

1. **Recorded tests** cost their recorded seconds (the median setup + call + teardown of
   their recent runs) plus the *per-test floor*.
2. **The per-test floor** stands for the work every test costs beyond what the store sees
   (pytest's own protocol, reporting, xdist's round trip): the typical cost of a trivial
   test, the 10th percentile of the recorded totals, kept between 1 ms and 10 ms. Many
   suites record 20-65% of their tests at zero or a few microseconds; without a floor such
   tests weigh nothing and any number of them fits in "no time".
3. **Unrecorded tests** cost the larger of two figures: what their nearest recorded
   siblings typically cost (the median of the other parametrizations of the same function,
   else of the same class, else of the same module, i.e. file) and the suite's *prior*, the
   mean of all recorded tests (as pytest-split counts every unrecorded test). The median
   keeps one slow sibling from making a whole family look slow; the prior keeps a test
   whose siblings record about zero from counting as nothing: in real suites a few tests in
   a hundred carry most of the time, and a new test among trivial siblings may be one of
   them (a single slow parametrization, say). With nothing recorded at all, every test
   counts one second, so splits fall back to test counts.
4. **Recency.** Each store entry carries the time of the run that last measured it. The
   test's own record is always its estimate (its own history predicts it best, however old),
   but in the averages that stand in for other tests (siblings, the mean, the floor) an
   entry weighs ``0.5 ** (age / 7 days)``, its age counted from the newest entry of the
   store: the estimate for a new test follows what the suite costs now. Entries without a
   stamp count as new.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ._tuples import NamedTuple

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "FLOOR_MAX",
    "FLOOR_MIN",
    "HALF_LIFE",
    "CostData",
    "Estimate",
    "estimate",
    "estimate_costs",
    "function_key",
    "overhead_floor",
    "recency_weights",
    "sibling_keys",
    "stamps_of",
    "weighted_median",
]

#: The least and the most the per-test floor can be, in seconds.
FLOOR_MIN = 0.001
FLOOR_MAX = 0.010
#: The percentile of recorded totals taken as the cost of a trivial test.
FLOOR_PERCENTILE = 10
#: Seconds after which an entry weighs half as much in the averages.
HALF_LIFE = 7 * 24 * 3600.0
#: What a test costs when nothing at all is recorded (counts, not seconds).
UNKNOWN_ALONE = 1.0


#: An empty mapping that cannot be changed: the default of the mappings below.
_NONE: Mapping[str, float] = MappingProxyType({})


class CostData(NamedTuple):
    """What the model reads from a durations snapshot: recorded totals and their stamps.
    (Values as named tuples: a frozen dataclass compiles six methods when it is defined.)"""

    totals: Mapping[str, float] = _NONE
    #: epoch seconds of the run that last measured each test (the store's ``at``)
    stamps: Mapping[str, float] = _NONE


class Estimate(NamedTuple):
    """Estimated seconds per collected test, and which of them were recorded."""

    costs: list[float]
    recorded: list[bool]
    floor: float
    #: the recency-weighted mean of the recorded tests (``UNKNOWN_ALONE`` without any)
    mean: float
    #: per test: its own cost if recorded, else its nearest siblings' median (else the mean),
    #: before the prior: what the siblings alone say
    nearest: list[float]


def function_key(nodeid: str) -> str:
    """The node id without its parametrization: ``m.py::test_f[1]`` -> ``m.py::test_f``."""
    start = nodeid.find("::")
    bracket = nodeid.find("[", max(start, 0))
    if nodeid.endswith("]") and start >= 0 and bracket > start:
        return nodeid[:bracket]
    return nodeid


def sibling_keys(nodeid: str) -> list[str]:
    """Keys of the test's sibling groups, nearest first: function, class(es), module."""
    function = function_key(nodeid)
    parts = function.split("::")
    keys = [function] if function != nodeid else []
    for cut in range(len(parts) - 1, 0, -1):  # classes (innermost first), then the module
        keys.append("::".join(parts[:cut]))
    return keys


def recency_weights(stamps: Mapping[str, float], nodeids: Sequence[str]) -> dict[str, float]:
    """``0.5 ** (age / HALF_LIFE)`` per node id, the age counted from the newest stamp."""
    newest = max((stamps[n] for n in nodeids if n in stamps), default=0.0)
    return {
        n: 0.5 ** (max(newest - stamps[n], 0.0) / HALF_LIFE) if n in stamps else 1.0
        for n in nodeids
    }


def stamps_of(store: Mapping[str, Mapping[str, Any]] | None) -> dict[str, float]:
    """The ``at`` stamp of every store entry that has one."""
    read = getattr(store, "stamps", None)
    if read is not None:  # a durations Store: read from the entries' text
        return dict(read())
    stamps: dict[str, float] = {}
    for nodeid, entry in (store or {}).items():
        at = entry.get("at")
        if isinstance(at, list) and at and isinstance(at[0], (int, float)):
            stamps[nodeid] = float(at[0])
    return stamps


def _weighted_percentile(pairs: Sequence[tuple[float, float]], percent: float) -> float:
    ordered = sorted(pairs)
    total = sum(w for _, w in ordered)
    if total <= 0:
        return ordered[0][0]
    reach = total * percent / 100
    running = 0.0
    for value, weight in ordered:
        running += weight
        if running >= reach:
            return value
    return ordered[-1][0]


def weighted_median(pairs: Sequence[tuple[float, float]]) -> float:
    """The median of ``(value, weight)`` pairs: midway between the lower and upper medians."""
    ordered = sorted(pairs)
    half = sum(w for _, w in ordered) / 2
    running = 0.0
    lower: float | None = None
    for value, weight in ordered:
        running += weight
        if lower is None and running >= half:
            lower = value
        if running > half:
            return (lower + value) / 2 if lower is not None else value
    return ordered[-1][0]


def overhead_floor(
    totals: Mapping[str, float], weights: Mapping[str, float] | None = None
) -> float:
    """The per-test floor: the 10th percentile of recorded totals, within 1 to 10 ms."""
    if not totals:
        return FLOOR_MIN
    pairs = [(v, (weights or {}).get(n, 1.0)) for n, v in totals.items()]
    return min(max(_weighted_percentile(pairs, FLOOR_PERCENTILE), FLOOR_MIN), FLOOR_MAX)


class _Siblings:
    """Recorded values (floor included) and their weights per sibling group, and the mean.

    The groups are built when a test that was never recorded first asks for its nearest
    siblings: a collection whose tests are all recorded (the usual run, and every replay of
    the advice's forecast) does not build them."""

    def __init__(self, known: Mapping[str, float], weights: Mapping[str, float], floor: float):
        self._known, self._weights, self._floor = known, weights, floor
        self._groups: dict[str, list[tuple[float, float]]] | None = None
        all_weight = all_sum = 0.0
        for nodeid, seconds in known.items():
            weight = weights[nodeid]
            all_weight += weight
            all_sum += weight * (seconds + floor)
        self.mean = all_sum / all_weight if all_weight > 0 else floor
        self._medians: dict[str, float] = {}

    @property
    def groups(self) -> dict[str, list[tuple[float, float]]]:
        """Sibling group key -> the recorded values (floor included) and weights in it."""
        if self._groups is None:
            groups: dict[str, list[tuple[float, float]]] = {}
            weights, floor = self._weights, self._floor
            for nodeid, seconds in self._known.items():
                entry = (seconds + floor, weights[nodeid])
                for key in sibling_keys(nodeid):
                    groups.setdefault(key, []).append(entry)
            self._groups = groups
        return self._groups

    def nearest(self, nodeid: str) -> float:
        """The weighted median of the nearest recorded group, else the mean."""
        groups = self.groups
        for key in sibling_keys(nodeid):
            if key in self._medians:
                return self._medians[key]
            found = groups.get(key)
            if found:
                self._medians[key] = weighted_median(found)
                return self._medians[key]
        return self.mean


def estimate(collection: Sequence[str], data: CostData) -> Estimate:
    """The model of the module docstring, for every test of ``collection`` in order."""
    # The averages read every recorded test, collected this time or not (a run with -k still
    # knows what the rest of the suite costs).
    recorded_ids = [n for n, v in data.totals.items() if math.isfinite(v)]
    if not recorded_ids:
        alone = [UNKNOWN_ALONE] * len(collection)
        return Estimate(alone, [False] * len(collection), FLOOR_MIN, UNKNOWN_ALONE, alone)
    weights = recency_weights(data.stamps, recorded_ids)
    known = {n: data.totals[n] for n in recorded_ids}
    floor = overhead_floor(known, weights)
    siblings = _Siblings(known, weights, floor)
    flags = [n in known for n in collection]
    nearest = [
        known[n] + floor if recorded else siblings.nearest(n)
        for n, recorded in zip(collection, flags, strict=True)
    ]
    costs = [
        value if recorded else max(value, siblings.mean)
        for value, recorded in zip(nearest, flags, strict=True)
    ]
    return Estimate(costs, flags, floor, siblings.mean, nearest)


def estimate_costs(collection: Sequence[str], data: CostData) -> list[float]:
    """Estimated seconds per test of ``collection``, in order (see the module docstring)."""
    return estimate(collection, data).costs
