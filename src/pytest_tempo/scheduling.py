"""Duration-aware distribution: the xdist scheduler (``--tempo-dist=duration``).

The pure part plans: :func:`plan_units` turns a collection and recorded durations into units
(single tests, whole modules whose shared fixtures are too costly to split, or the groups
of ``--dist loadscope``/``loadfile``/``loadgroup``), ordered smoke first, then longest
first, with their estimated seconds from the cost model (:mod:`pytest_tempo.costs`);
:func:`lpt_partition` splits costs into balanced bins.
:class:`DurationScheduling` implements pytest-xdist's scheduler protocol
(``xdist/scheduler/protocol.py``) on top of a plan.

Rule for keeping fixture groups together: a module whose tests recorded module- or
class-scoped fixture set-up (seconds charged to the fixture, not the test) goes to one worker
as a unit when that set-up costs at least a tenth of the module's test time *and* the module's
total is at most half of one worker's fair share (total / workers). Splitting such a module
would pay its set-up again on every worker it touches, while keeping it whole cannot unbalance
the run by more than half a share. Every other test is its own unit. After a worker crash
such a module is broken up: its tests that did not run go back one by one.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from ._xdist import collection_diff, planned_workers
from .classify import markers_for_path
from .costs import CostData
from .costs import estimate as estimate_model
from .durations import median

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping, Sequence

    from .durations import Snapshot
    from .settings import TypeRule

__all__ = [
    "GROUPING_MODES",
    "DurationScheduling",
    "Plan",
    "SchedulingPlugin",
    "best_partition",
    "lpt_partition",
    "plan_units",
    "scope_of",
]

#: xdist's ``--dist`` modes whose groups the duration scheduler keeps together.
GROUPING_MODES = ("loadscope", "loadfile", "loadgroup")


@dataclass(frozen=True)
class Plan:
    """Units of collection indices in dispatch order, with their estimated seconds.

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

    @property
    def total(self) -> float:
        return sum(self.costs)


def estimates(collection: Sequence[str], totals: Mapping[str, float]) -> list[float]:
    """Recorded seconds per test; a test never recorded is estimated as the median known one.

    With nothing recorded every test counts 1 s, so splits fall back to counts.
    """
    known = [totals[n] for n in collection if n in totals]
    default = median(known) if known else 1.0
    return [totals.get(n, default) for n in collection]


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


def _stored_id(nodeid: str) -> str:
    """The node id as recorded: without the ``@group`` suffix ``--dist loadgroup`` adds."""
    at = nodeid.rfind("@")
    return nodeid[:at] if at > nodeid.rfind("]") else nodeid


#: An unrecorded test is dispatched as if it cost at least this many mean recorded tests.
UNRECORDED_RANK = 4.0


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
    """Group and order the collection for dispatch (see the module docstring for the rule).

    ``smoke`` units go first in collection order; the rest longest first, ties by position,
    with unrecorded tests ranked early (see ``UNRECORDED_RANK``).
    ``shared`` maps node ids to the module/class fixture set-up seconds recorded for them.
    ``stamps`` are the store's ``at`` stamps (recency). ``scope`` maps a node id to the
    group the user asked to keep together (``--dist loadscope``, say); with it, those groups
    are the units.
    """
    stored = [_stored_id(n) for n in collection]
    model = estimate_model(stored, CostData(totals, stamps or {}))
    cost = model.costs
    units: list[tuple[int, ...]] = []
    if scope is not None:
        groups: dict[str, list[int]] = {}
        for index, nodeid in enumerate(collection):
            groups.setdefault(scope(nodeid), []).append(index)
        units = [tuple(g) for g in groups.values()]
    else:
        total = sum(cost)
        share = total / max(workers, 1)
        module_tests: dict[str, list[int]] = {}
        for index, nodeid in enumerate(collection):
            module_tests.setdefault(_module(nodeid), []).append(index)
        grouped: dict[int, tuple[int, ...]] = {}
        for indices in module_tests.values():
            if len(indices) < 2 or not shared:
                continue
            setup = max((shared.get(stored[i], 0.0) for i in indices), default=0.0)
            own = sum(cost[i] for i in indices)
            if setup > 0 and setup >= 0.1 * own and own + setup <= share / 2:
                for i in indices:
                    grouped[i] = tuple(indices)
        seen: set[int] = set()
        for index in range(len(collection)):
            if index in seen:
                continue
            unit = grouped.get(index, (index,))
            seen.update(unit)
            units.append(unit)
    smoke_set = set(smoke)

    def is_smoke(unit: tuple[int, ...]) -> bool:
        return any(stored[i] in smoke_set for i in unit)

    # Dispatch rank: the estimate, but an unrecorded test at least UNRECORDED_RANK mean
    # recorded tests. In real suites the mean test is short while one test in a hundred
    # carries most of the time, and an estimate from siblings cannot see such a test: the
    # rank starts unrecorded tests before the bulk of the short recorded ones (a long test
    # found late would end the run alone), yet after the tests recorded as long.
    floor_rank = model.mean * UNRECORDED_RANK if any(model.recorded) else 0.0
    rank = [
        c if known else max(c, floor_rank) for c, known in zip(cost, model.recorded, strict=True)
    ]
    first = [u for u in units if is_smoke(u)]
    rest = sorted(
        (u for u in units if not is_smoke(u)), key=lambda u: (-sum(rank[i] for i in u), u[0])
    )
    ordered = first + rest
    costs = tuple(sum(cost[i] for i in u) for u in ordered)
    return Plan(tuple(ordered), costs, scope is not None, tuple(cost), tuple(model.recorded))


def lpt_partition(costs: Sequence[float], bins: int) -> list[list[int]]:
    """Longest processing time first: each item, longest first, to the least loaded bin.

    Deterministic: ties go to the earlier item and the lower bin. Equal costs give bins whose
    counts differ by at most one. The largest bin is at most 4/3 of the optimum.
    """
    result: list[list[int]] = [[] for _ in range(bins)]
    heap = [(0.0, b) for b in range(bins)]
    for index in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        load, b = heapq.heappop(heap)
        result[b].append(index)
        heapq.heappush(heap, (load + costs[index], b))
    for indices in result:
        indices.sort()
    return result


#: Up to this many units, :func:`best_partition` searches every assignment; past it, LPT.
EXACT_UNITS = 12


def best_partition(costs: Sequence[float], bins: int) -> list[list[int]]:
    """The assignment of ``costs`` to ``bins`` with the smallest largest bin.

    Exact for up to :data:`EXACT_UNITS` items (a depth-first search from LPT's answer, longest
    item first, trying each distinct bin load once and cutting branches that cannot do
    better); :func:`lpt_partition` beyond. Deterministic, like LPT.
    """
    lpt = lpt_partition(costs, bins)
    if len(costs) > EXACT_UNITS or bins < 2:
        return lpt
    order = sorted(range(len(costs)), key=lambda i: (-costs[i], i))
    best_span = max(sum(costs[i] for i in b) for b in lpt)
    best: list[int] | None = None  # bin of each item in ``order``
    loads = [0.0] * bins
    chosen: list[int] = []

    def search(k: int) -> None:
        nonlocal best_span, best
        if k == len(order):
            span = max(loads)
            if span < best_span - 1e-12:
                best_span, best = span, list(chosen)
            return
        cost = costs[order[k]]
        tried: set[float] = set()
        for b in range(bins):
            if loads[b] in tried or loads[b] + cost >= best_span - 1e-12:
                continue
            tried.add(loads[b])
            loads[b] += cost
            chosen.append(b)
            search(k + 1)
            chosen.pop()
            loads[b] -= cost

    search(0)
    if best is None:
        return lpt
    result: list[list[int]] = [[] for _ in range(bins)]
    for item, b in zip(order, best, strict=True):
        result[b].append(item)
    for indices in result:
        indices.sort()
    return result


#: A worker fetches its next test before it runs the current one (``xdist/remote.py``,
#: ``run_one_test``): it needs two pending tests, or a shutdown, to make progress.
MIN_PENDING = 2


class DurationScheduling:
    """pytest-xdist scheduler: smoke first, then longest first, refilled as workers free up.

    ``plan_for(collection, workers)`` returns the :class:`Plan` once the collection is known.

    - Fewer than two units per worker: every unit is assigned at once, in the assignment
      with the shortest makespan (:func:`best_partition`), and every worker is told to shut
      down after its share.
    - Otherwise each worker starts with one unit from the head, then a second one: the
      shortest unit for a worker already holding one at least as long as the next at the
      head, the next long unit for the others; so no worker starts with two of the longest.
    - Refills keep a worker's queue (behind the test it runs) at two tests at least and at
      a target of estimated seconds that shrinks with the work left, bounded by a count too,
      so tests estimated at nothing cannot pile up on one worker.
    - End-game: with nothing left to send, a worker that runs dry takes back half of the
      not-yet-started tests of the worker with the most queued seconds (``steal``, as
      ``--dist worksteal`` does); with nothing to take, it is told to shut down.
    - A crashed worker's tests that did not run go back to the queue; the crashing test is
      returned to xdist, which reports it, and never sent again. A module kept together for
      its fixtures is broken up; a group the user asked for stays together.
    """

    def __init__(self, config: Any, log: Any, plan_for: Any, numnodes: int) -> None:
        self.config = config
        self.log = log
        self._plan_for = plan_for
        self.numnodes = numnodes
        self.node2collection: dict[Any, list[str]] = {}
        self.node2pending: dict[Any, list[int]] = {}
        self.collection: list[str] | None = None
        self.pending: deque[int] = deque()  # units not yet sent (ids into self._units)
        self._units: list[tuple[int, ...]] = []
        self._unit_cost: list[float] = []
        self._unit_key: list[tuple[int, int]] = []  # the dispatch order of a unit
        self._unit_of: dict[int, int] = {}  # collection index -> unit id
        self._cost: dict[int, float] = {}  # collection index -> estimated seconds
        self._unrecorded: set[int] = set()  # collection indices without a record
        self._keep_together = False
        self._remaining = 0.0  # estimated seconds not yet sent
        self._remaining_tests = 0
        self._steal_from: Any = None  # the worker a steal request is out to

    # --- the protocol -------------------------------------------------------------------

    @property
    def nodes(self) -> list[Any]:
        return list(self.node2pending)

    @property
    def collection_is_completed(self) -> bool:
        return len(self.node2collection) >= self.numnodes

    @property
    def tests_finished(self) -> bool:
        if not self.collection_is_completed or self.pending or self._steal_from is not None:
            return False
        return all(len(p) < MIN_PENDING for p in self.node2pending.values())

    @property
    def has_pending(self) -> bool:
        return bool(self.pending) or any(self.node2pending.values())

    def add_node(self, node: Any) -> None:
        assert node not in self.node2pending
        self.node2pending[node] = []

    def add_node_collection(self, node: Any, collection: Sequence[str]) -> None:
        assert node in self.node2pending
        if self.collection is not None and list(collection) != self.collection:
            self._log_difference(self.collection, collection, node)
            return
        self.node2collection[node] = list(collection)

    def mark_test_complete(self, node: Any, item_index: int, duration: float = 0) -> None:
        self.node2pending[node].remove(item_index)
        self._refill(node)

    def mark_test_pending(self, item: str) -> None:
        """Run ``item`` again (a ``pytest_handlecrashitem`` plugin asks for it): next."""
        assert self.collection is not None
        index = self.collection.index(item)
        self._add_units([(index,)], first=True)
        for node in self.nodes:
            self._refill(node)

    def remove_pending_tests_from_node(self, node: Any, indices: Sequence[int]) -> None:
        """The answer to a steal request: ``indices`` left ``node``'s queue (or none did)."""
        if node is self._steal_from:
            self._steal_from = None
        if indices and node in self.node2pending:
            taken = set(indices)
            self.node2pending[node] = [i for i in self.node2pending[node] if i not in taken]
            self._return(indices)
        for other in self.nodes:
            self._refill(other)

    def remove_node(self, node: Any) -> str | None:
        pending = self.node2pending.pop(node)
        if self._steal_from is node:
            self._steal_from = None
        if not pending:
            for other in self.nodes:
                self._refill(other)
            return None
        assert self.collection is not None
        crashed = pending[0]  # a worker runs its tests in the order they were sent
        self._return(pending[1:])
        for other in self.nodes:
            self._refill(other)
        return self.collection[crashed]

    def schedule(self) -> None:
        assert self.collection_is_completed
        if self.collection is not None:
            for node in self.nodes:
                self._refill(node)
            return
        collections = list(self.node2collection.items())
        first_node, first = collections[0]
        different = False
        for node, collection in collections[1:]:
            if collection != first:
                self._log_difference(first, collection, node, first_node)
                different = True
        if different:
            self.log("**Different tests collected, aborting run**")
            return
        self.collection = first
        plan: Plan = self._plan_for(first, len(self.nodes))
        self._keep_together = plan.keep_together
        if plan.test_recorded:
            self._unrecorded = {i for i, known in enumerate(plan.test_recorded) if not known}
        for unit, cost in zip(plan.units, plan.costs, strict=True):
            for index in unit:
                self._cost[index] = plan.test_costs[index] if plan.test_costs else cost / len(unit)
        self._add_units(list(plan.units))
        if not self.collection:
            return
        nodes = self.nodes
        if len(self.pending) < MIN_PENDING * len(nodes):
            self._assign_all(nodes)
            return
        # Each worker starts with the next unit from the head (smoke, then the longest).
        # A worker needs a second test queued before it starts the first: a worker whose
        # first unit is at least as long as what is left at the head takes the shortest
        # unit from the tail, so no worker is committed to two long tests; the others
        # (a quick smoke test first, say) take the next long unit from the head.
        started: dict[Any, float] = {}
        for node in nodes:
            started[node] = self._unit_cost[self.pending[0]]
            self._send(node)
        for node in nodes:
            if self.pending:
                head = self._unit_cost[self.pending[0]]
                self._send(node, from_tail=started[node] >= head)
        for node in nodes:
            self._refill(node)

    # --- helpers ------------------------------------------------------------------------

    def _assign_all(self, nodes: list[Any]) -> None:
        """Fewer than two units per worker: one assignment of everything, then shutdown."""
        units = list(self.pending)
        bins = best_partition([self._unit_cost[u] for u in units], len(nodes))
        for node, share in zip(nodes, bins, strict=True):
            for position in sorted(share):  # dispatch order: smoke first, then longest
                self.pending.remove(units[position])
                self._dispatch(node, units[position])
        for node in nodes:
            node.shutdown()

    def _target(self) -> float:
        """Seconds of work to keep queued behind a worker's current test."""
        workers = max(len(self.node2pending), 1)
        return min(max(self._remaining / workers / 8, 0.02), 2.0)

    def _count_cap(self) -> int:
        """Tests to keep queued at most: an eighth of a worker's share of what is left."""
        workers = max(len(self.node2pending), 1)
        return max(math.ceil(self._remaining_tests / workers / 8), 1)

    def _queued_seconds(self, node: Any) -> float:
        return sum(self._cost.get(i, 0.0) for i in self.node2pending[node][1:])

    def _refill(self, node: Any) -> None:
        if node.shutting_down or node not in self.node2pending:
            return
        pending = self.node2pending[node]
        if not self.pending:
            if len(pending) < MIN_PENDING:
                self._end_game(node)
            return
        target, cap = self._target(), self._count_cap()
        # Behind a test that may run longer than the target (one estimated so, or one never
        # recorded), the next test is queue enough: queueing more would commit tests to a
        # worker that may be busy for a while. And that next test is the shortest recorded
        # one left, not the next long one: it is committed to wait.
        want = 0.0 if pending and self._risky(pending[0], target) else target
        queued = self._queued_seconds(node)
        if len(pending) >= MIN_PENDING and (queued >= want / 2 or len(pending) > cap):
            return
        while self.pending and (
            len(pending) < MIN_PENDING or (queued < want and len(pending) <= cap)
        ):
            tail = bool(pending) and self._risky(pending[-1], target) and self._safe_tail(target)
            queued += self._unit_cost[self.pending[-1 if tail else 0]]
            self._send(node, from_tail=tail)
        if not self.pending:
            for other in self.nodes:
                if len(self.node2pending[other]) < MIN_PENDING:
                    self._end_game(other)

    def _risky(self, index: int, target: float) -> bool:
        """Whether a test may keep its worker busy for long: long, or never recorded."""
        return index in self._unrecorded or self._cost.get(index, 0.0) >= target

    def _safe_tail(self, target: float) -> bool:
        """Whether the last unit of the queue is short and recorded."""
        unit = self._units[self.pending[-1]]
        return not any(self._risky(i, target) for i in unit)

    def _end_game(self, node: Any) -> None:
        """Nothing left to send and ``node`` runs dry: take work back, or shut it down."""
        if node.shutting_down or self._steal_from is not None:
            return
        victim, units = self._stealable()
        if victim is None:
            node.shutdown()
            return
        self._steal_from = victim
        victim.send_steal([i for u in units for i in self._units[u]])

    def _stealable(self) -> tuple[Any, list[int]]:
        """The worker with the most queued seconds not yet started, and half of them.

        A worker has taken its next test off its queue already (to know ``nextitem``), so
        only what is behind its first two tests can be taken back, whole units only.
        """
        best: tuple[float, Any, list[int]] = (0.0, None, [])
        for node, pending in self.node2pending.items():
            if node.shutting_down or len(pending) <= MIN_PENDING:
                continue
            started = set(pending[:MIN_PENDING])
            units: list[int] = []
            for index in pending[MIN_PENDING:]:
                unit = self._unit_of[index]
                if unit not in units and not started.intersection(self._units[unit]):
                    units.append(unit)
            seconds = sum(self._unit_cost[u] for u in units)
            if units and seconds > best[0]:
                best = (seconds, node, units)
        seconds, victim, units = best
        if victim is None:
            return None, []
        taken: list[int] = []
        half = 0.0
        for unit in reversed(units):  # from the tail: the shortest, sent last
            if half + self._unit_cost[unit] > seconds / 2 and taken:
                break
            taken.append(unit)
            half += self._unit_cost[unit]
        return victim, taken

    def _send(self, node: Any, from_tail: bool = False) -> None:
        unit = self.pending.pop() if from_tail else self.pending.popleft()
        self._dispatch(node, unit)

    def _dispatch(self, node: Any, unit: int) -> None:
        indices = list(self._units[unit])
        self._remaining -= self._unit_cost[unit]
        self._remaining_tests -= len(indices)
        self.node2pending[node].extend(indices)
        node.send_runtest_some(indices)

    def _add_units(self, units: Sequence[tuple[int, ...]], first: bool = False) -> None:
        """New units into the queue, in plan order (or at its head with ``first``)."""
        new = []
        for unit in units:
            uid = len(self._units)
            self._units.append(unit)
            cost = sum(self._cost.get(i, 0.0) for i in unit)
            self._unit_cost.append(cost)
            self._unit_key.append((-1 if first else 0, len(self._units)))
            for index in unit:
                self._unit_of[index] = uid
            self._remaining += cost
            self._remaining_tests += len(unit)
            new.append(uid)
        if first:
            self.pending.extendleft(reversed(new))
        else:
            self.pending.extend(new)

    def _return(self, indices: Sequence[int]) -> None:
        """Tests that did not run back into the queue, where their units were in the plan.

        Groups the user asked for stay together (what is left of them); a module kept
        together for its fixtures goes back one test at a time.
        """
        if not indices:
            return
        back: list[int] = []
        pieces: dict[int, list[int]] = {}
        for index in indices:
            pieces.setdefault(self._unit_of[index], []).append(index)
        for unit, rest in pieces.items():
            if len(rest) == len(self._units[unit]):
                back.append(unit)  # the whole unit, untouched
                self._remaining += self._unit_cost[unit]
                self._remaining_tests += len(rest)
                continue
            parts = [tuple(rest)] if self._keep_together else [(i,) for i in rest]
            for part in parts:
                uid = len(self._units)
                self._units.append(part)
                self._unit_cost.append(sum(self._cost.get(i, 0.0) for i in part))
                self._unit_key.append(self._unit_key[unit])
                for index in part:
                    self._unit_of[index] = uid
                self._remaining += self._unit_cost[uid]
                self._remaining_tests += len(part)
                back.append(uid)
        merged = sorted([*self.pending, *back], key=lambda u: self._unit_key[u])
        self.pending = deque(merged)

    def _log_difference(
        self, first: Sequence[str], other: Sequence[str], node: Any, first_node: Any = None
    ) -> None:
        base = first_node if first_node is not None else next(iter(self.node2collection))
        msg = collection_diff(first, other, base.gateway.id, node.gateway.id)
        if msg:
            self.log(msg)
            report = _collect_report(node.gateway.id, msg)
            self.config.hook.pytest_collectreport(report=report)


def _collect_report(nodeid: str, message: str) -> Any:
    return pytest.CollectReport(nodeid=nodeid, outcome="failed", longrepr=message, result=[])


class SchedulingPlugin:
    """``--tempo-dist=duration``: pytest-xdist hands out tests by recorded durations.

    ``dist`` is xdist's ``--dist`` mode: ``load`` (the default with ``-n``) is replaced
    outright; with ``loadscope``, ``loadfile`` or ``loadgroup`` the groups xdist would form
    are kept together and sent longest first. Under other modes the plugin is not registered.
    """

    def __init__(
        self,
        snapshot: Snapshot,
        rules: Sequence[TypeRule],
        dist: str = "load",
        stamps: Mapping[str, float] | None = None,
    ) -> None:
        self._snapshot = snapshot
        self._rules = rules
        self._dist = dist
        self._stamps = dict(stamps or {})

    def plan(self, collection: Sequence[str], workers: int) -> Plan:
        smoke = set(self._snapshot.smoke)
        for nodeid in collection:  # typed smoke by path: known without collecting
            if "smoke" in markers_for_path(nodeid.split("::", 1)[0], self._rules):
                smoke.add(_stored_id(nodeid))
        mode = self._dist
        scope = (lambda nodeid: scope_of(mode, nodeid)) if mode in GROUPING_MODES else None
        return plan_units(
            collection,
            self._snapshot.totals,
            smoke,
            self._snapshot.shared,
            workers,
            stamps=self._stamps,
            scope=scope,
        )

    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> DurationScheduling:
        # xdist's own implementation is trylast and the hook is firstresult, so this wins.
        return DurationScheduling(config, log, self.plan, planned_workers(config))
