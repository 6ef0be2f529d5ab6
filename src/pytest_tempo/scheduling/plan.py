"""Planning for ``--tempo-dist=duration``: units, their estimated seconds, the dispatch order.

Pure: :func:`plan_units` turns a collection and recorded durations into units (single tests,
whole modules whose shared fixtures are too costly to split, or the groups of
``--dist loadscope``/``loadfile``/``loadgroup``) with their estimated seconds from the cost
model (:mod:`pytest_tempo.costs`), in the order they are to be sent.

**Keeping fixture groups together.** A module whose tests recorded module- or class-scoped
fixture set-up (seconds charged to the fixture, not the test) goes to one worker as a unit
when that set-up costs at least a tenth of the module's test time *and* the module's total is
at most half of one worker's fair share (total / workers). Splitting such a module would pay
its set-up again on every worker it touches, while keeping it whole cannot unbalance the run
by more than half a share. Every other test is its own unit.

**The dispatch order** (:func:`dispatch_order`): smoke units first, in collection order; then
every unit by the latest time it can start, earliest first. A recorded unit of ``c``
estimated seconds can start as late as ``span - c``, where ``span`` is the expected makespan
max(longest unit, total / workers): so recorded units go longest first, the classic
longest-processing-time rule. A unit with a test never recorded may be one of the few long
tests of the suite, and no estimate can tell (a single slow parametrization among trivial
siblings, say): it should start as early as it can. Such units are *probes*: their latest
start is the time all of them take on all workers (their estimated seconds / workers), or
``span - c`` when that is earlier; among themselves the ones whose siblings look shortest go
first, so the many quick ones are found out first and a long one among them starts early.
Recorded units that cannot wait that long (the longest ones) go before the probes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._tuples import NamedTuple
from ..costs import CostData
from ..costs import estimate as estimate_model

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterator, Mapping, Sequence

__all__ = [
    "GROUPING_MODES",
    "Plan",
    "dispatch_order",
    "may_keep_together",
    "plan_units",
    "scope_of",
    "stored_id",
]

#: xdist's ``--dist`` modes whose groups the duration scheduler keeps together.
GROUPING_MODES = ("loadscope", "loadfile", "loadgroup")

#: A module is kept together when its shared set-up is at least this share of its tests' time
SHARED_SHARE = 0.1
#: ... and it is at most this share of one worker's fair share.
MODULE_SHARE = 0.5
#: A recorded test estimated at most this many per-test floors is trivial: it may wait
#: behind a test that may run long (the dispatch's filler).
FILLER_FLOORS = 2.0


class Plan(NamedTuple):
    """Units of collection indices in dispatch order, with their estimated seconds (a named
    tuple: a frozen dataclass compiles six methods when it is defined).

    ``keep_together``: the units are groups the user asked for (``--dist loadscope`` and
    the like), which stay together even after a crash; otherwise a unit of several tests is
    a module kept together for its fixtures, broken up after a crash.
    """

    units: tuple[tuple[int, ...], ...]
    costs: tuple[float, ...]
    keep_together: bool = False
    #: estimated seconds per collection index (the sum over a unit is the unit's cost)
    test_costs: tuple[float, ...] = ()
    #: per collection index: whether the estimate is the test's own record
    test_recorded: tuple[bool, ...] = ()
    #: recorded tests estimated at most this many seconds may wait behind a risky test
    filler_limit: float = 0.0

    @property
    def total(self) -> float:
        return sum(self.costs)


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def scope_of(mode: str, nodeid: str) -> str:
    """The group of a node id under xdist's ``--dist`` ``mode``, as xdist computes it.

    From ``_split_scope`` in ``xdist/scheduler/loadscope.py``, ``loadfile.py`` and
    ``loadgroup.py``: the class or module; the file; the ``xdist_group`` name, which xdist
    appends to the node id after an ``@`` (a test without a group is a group of its own).
    """
    if mode == "loadfile":
        return nodeid.split("::", 1)[0]
    if mode == "loadgroup":
        if nodeid.rfind("@") > nodeid.rfind("]"):
            return nodeid.split("@")[-1]
        return nodeid
    return nodeid.rsplit("::", 1)[0]


def stored_id(nodeid: str) -> str:
    """The node id as recorded: without the ``@group`` suffix ``--dist loadgroup`` adds."""
    at = nodeid.rfind("@")
    return nodeid[:at] if at > nodeid.rfind("]") else nodeid


def _scope_units(collection: Sequence[str], scope: Callable[[str], str]) -> list[tuple[int, ...]]:
    groups: dict[str, list[int]] = {}
    for index, nodeid in enumerate(collection):
        groups.setdefault(scope(nodeid), []).append(index)
    return [tuple(g) for g in groups.values()]


def _shared_modules(
    stored: Sequence[str], cost: Sequence[float], shared: Mapping[str, float]
) -> Iterator[tuple[list[int], float, float]]:
    """The modules of two tests or more whose shared set-up is worth keeping them together
    for (at least SHARED_SHARE of their tests' seconds): indices, set-up and tests' seconds."""
    module_tests: dict[str, list[int]] = {}
    for index, nodeid in enumerate(stored):
        module_tests.setdefault(_module(nodeid), []).append(index)
    for indices in module_tests.values():
        if len(indices) < 2:
            continue
        setup = max(shared.get(stored[i], 0.0) for i in indices)
        own = sum(cost[i] for i in indices)
        if setup > 0 and setup >= SHARED_SHARE * own:
            yield indices, setup, own


def may_keep_together(
    collection: Sequence[str], seconds: Sequence[float], shared: Mapping[str, float]
) -> bool:
    """Whether :func:`plan_units` may keep some module together for its shared fixtures at
    some number of workers, given the tests' recorded ``seconds`` (its estimates only add a
    per-test floor to them, which makes a set-up a smaller share)."""
    if not shared:
        return False
    stored = [stored_id(n) for n in collection]
    return next(_shared_modules(stored, seconds, shared), None) is not None


def _fixture_units(
    stored: Sequence[str], cost: Sequence[float], shared: Mapping[str, float], workers: int
) -> list[tuple[int, ...]]:
    """Single tests, and the modules worth keeping together for their shared set-up."""
    share = sum(cost) / max(workers, 1)
    grouped: dict[int, tuple[int, ...]] = {}
    for indices, setup, own in _shared_modules(stored, cost, shared):
        if own + setup <= share * MODULE_SHARE:
            for i in indices:
                grouped[i] = tuple(indices)
    units: list[tuple[int, ...]] = []
    seen: set[int] = set()
    for index in range(len(stored)):
        if index not in seen:
            unit = grouped.get(index, (index,))
            seen.update(unit)
            units.append(unit)
    return units


def dispatch_order(
    costs: Sequence[float], known: Sequence[bool], hints: Sequence[float], workers: int
) -> list[int]:
    """Positions of units in dispatch order, earliest latest start first (module docstring).

    ``costs`` are the units' estimated seconds, ``known`` whether every test of a unit is
    recorded, ``hints`` what the nearest siblings of its tests cost (the probes' order).
    """
    n = max(workers, 1)
    span = max(max(costs, default=0.0), sum(costs) / n)
    probe_by = sum(c for c, k in zip(costs, known, strict=True) if not k) / n

    def key(u: int) -> tuple[float, float, int]:
        latest = span - costs[u]
        if known[u] or latest < probe_by:
            return (latest, -costs[u], u)
        return (probe_by, hints[u], u)

    return sorted(range(len(costs)), key=key)


def plan_units(
    collection: Sequence[str],
    totals: Mapping[str, float],
    smoke: Collection[str] = (),
    shared: Mapping[str, float] | None = None,
    workers: int = 1,
    *,
    stamps: Mapping[str, float] | None = None,
    scope: Callable[[str], str] | None = None,
) -> Plan:
    """Group and order the collection for dispatch (see the module docstring for the rules).

    ``smoke`` units go first in collection order; the rest by :func:`dispatch_order`.
    ``shared`` maps node ids to the module/class fixture set-up seconds recorded for them.
    ``stamps`` are the store's ``at`` stamps (recency). ``scope`` maps a node id to the
    group the user asked to keep together (``--dist loadscope``, say); with it, those groups
    are the units.
    """
    stored = [stored_id(n) for n in collection]
    model = estimate_model(stored, CostData(totals, stamps or {}))
    cost = model.costs
    if scope is not None:
        units = _scope_units(collection, scope)
    elif shared:
        units = _fixture_units(stored, cost, shared, workers)
    else:
        units = [(i,) for i in range(len(collection))]
    smoke_set = set(smoke)
    first = [u for u in units if any(stored[i] in smoke_set for i in u)]
    rest = [u for u in units if not any(stored[i] in smoke_set for i in u)]
    order = dispatch_order(
        [sum(cost[i] for i in u) for u in rest],
        [all(model.recorded[i] for i in u) for u in rest],
        [sum(model.nearest[i] for i in u) for u in rest],
        workers,
    )
    ordered = first + [rest[p] for p in order]
    costs = tuple(sum(cost[i] for i in u) for u in ordered)
    limit = FILLER_FLOORS * model.floor
    return Plan(tuple(ordered), costs, scope is not None, tuple(cost), tuple(model.recorded), limit)
