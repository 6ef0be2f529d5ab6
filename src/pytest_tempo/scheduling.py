"""Duration-aware distribution: the xdist scheduler (``--tempo-dist=duration``).

The pure part plans: :func:`plan_units` turns a collection and recorded durations into units
(single tests, or whole modules whose shared fixtures are too costly to split), ordered smoke
first, then longest first; :func:`lpt_partition` splits costs into balanced bins.
:class:`DurationScheduling` implements pytest-xdist's scheduler protocol
(``xdist/scheduler/protocol.py``) on top of a plan.

Rule for keeping fixture groups together: a module whose tests recorded module- or
class-scoped fixture set-up (seconds charged to the fixture, not the test) goes to one worker
as a unit when that set-up costs at least a tenth of the module's test time *and* the module's
total is at most half of one worker's fair share (total / workers). Splitting such a module
would pay its set-up again on every worker it touches, while keeping it whole cannot unbalance
the run by more than half a share. Every other test is its own unit.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from .classify import markers_for_path
from .durations import median

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping, Sequence

    from .durations import Snapshot
    from .settings import TypeRule

__all__ = [
    "DurationScheduling",
    "Plan",
    "SchedulingPlugin",
    "lpt_partition",
    "plan_units",
]


@dataclass(frozen=True)
class Plan:
    """Units of collection indices in dispatch order, with their estimated seconds."""

    units: tuple[tuple[int, ...], ...]
    costs: tuple[float, ...]

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


def plan_units(
    collection: Sequence[str],
    totals: Mapping[str, float],
    smoke: Collection[str] = (),
    shared: Mapping[str, float] | None = None,
    workers: int = 1,
) -> Plan:
    """Group and order the collection for dispatch (see the module docstring for the rule).

    ``smoke`` units go first in collection order; the rest longest first, ties by position.
    ``shared`` maps node ids to the module/class fixture set-up seconds recorded for them.
    """
    cost = estimates(collection, totals)
    total = sum(cost)
    share = total / max(workers, 1)
    module_tests: dict[str, list[int]] = {}
    for index, nodeid in enumerate(collection):
        module_tests.setdefault(_module(nodeid), []).append(index)
    grouped: dict[int, tuple[int, ...]] = {}
    for indices in module_tests.values():
        if len(indices) < 2 or not shared:
            continue
        setup = max((shared.get(collection[i], 0.0) for i in indices), default=0.0)
        own = sum(cost[i] for i in indices)
        if setup > 0 and setup >= 0.1 * own and own + setup <= share / 2:
            for i in indices:
                grouped[i] = tuple(indices)
    units: list[tuple[int, ...]] = []
    seen: set[int] = set()
    for index in range(len(collection)):
        if index in seen:
            continue
        unit = grouped.get(index, (index,))
        seen.update(unit)
        units.append(unit)
    smoke_set = set(smoke)

    def is_smoke(unit: tuple[int, ...]) -> bool:
        return any(collection[i] in smoke_set for i in unit)

    def unit_cost(unit: tuple[int, ...]) -> float:
        return sum(cost[i] for i in unit)

    first = [u for u in units if is_smoke(u)]
    rest = sorted((u for u in units if not is_smoke(u)), key=lambda u: (-unit_cost(u), u[0]))
    ordered = first + rest
    return Plan(tuple(ordered), tuple(unit_cost(u) for u in ordered))


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


class DurationScheduling:
    """pytest-xdist scheduler: smoke first, then longest first, refilled as workers free up.

    ``plan_for(collection, workers)`` returns the :class:`Plan` once the collection is known.
    Each worker keeps at least two tests pending (a worker starts a test only once it knows the
    next one), and, for short tests, enough queued seconds that it never waits on the
    controller; queues stay short enough that the end of the run balances. The initial
    dispatch gives each worker one unit from the head, then a second one: the shortest unit
    for a worker already holding one at least as long as the next at the head, the next long
    unit for the others; so no worker starts with two of the longest tests.
    """

    def __init__(self, config: Any, log: Any, plan_for: Any, numnodes: int) -> None:
        self.config = config
        self.log = log
        self._plan_for = plan_for
        self.numnodes = numnodes
        self.node2collection: dict[Any, list[str]] = {}
        self.node2pending: dict[Any, list[int]] = {}
        self.collection: list[str] | None = None
        self.pending: list[int] = []  # units not yet sent, as positions in the plan
        self._plan: Plan | None = None
        self._remaining = 0.0
        self._index_cost: dict[int, float] = {}

    # --- the protocol -------------------------------------------------------------------

    @property
    def nodes(self) -> list[Any]:
        return list(self.node2pending)

    @property
    def collection_is_completed(self) -> bool:
        return len(self.node2collection) >= self.numnodes

    @property
    def tests_finished(self) -> bool:
        if not self.collection_is_completed or self.pending:
            return False
        return all(len(p) < 2 for p in self.node2pending.values())

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
        assert self.collection is not None
        assert self._plan is not None
        index = self.collection.index(item)
        position = next(p for p, u in enumerate(self._plan.units) if index in u)
        self._return_units([position])
        for node in self.nodes:
            self._refill(node)

    def remove_pending_tests_from_node(self, node: Any, indices: Sequence[int]) -> None:
        raise NotImplementedError()

    def remove_node(self, node: Any) -> str | None:
        pending = self.node2pending.pop(node)
        if not pending:
            return None
        assert self.collection is not None
        crashed = pending.pop(0)
        if pending:
            self._return_units(self._positions_of(pending))
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
        self._plan = self._plan_for(first, len(self.nodes))
        self.pending = list(range(len(self._plan.units)))
        self._remaining = self._plan.total
        for unit, cost in zip(self._plan.units, self._plan.costs, strict=True):
            for index in unit:
                self._index_cost[index] = cost / len(unit)
        if not self.collection:
            return
        nodes = self.nodes
        if len(self.pending) < 2 * len(nodes):
            for position, _ in enumerate(list(self.pending)):
                self._send(nodes[position % len(nodes)], 1)
        else:
            # Each worker starts with the next unit from the head (smoke, then the longest).
            # A worker needs a second test queued before it starts the first: a worker whose
            # first unit is at least as long as what is left at the head takes the shortest
            # unit from the tail, so no worker is committed to two long tests; the others
            # (a quick smoke test first, say) take the next long unit from the head.
            started: dict[Any, float] = {}
            for node in nodes:
                started[node] = self._plan.costs[self.pending[0]]
                self._send(node, 1)
            for node in nodes:
                head = self._plan.costs[self.pending[0]]
                self._send(node, 1, from_tail=started[node] >= head)
            for node in nodes:
                self._refill(node)
        if not self.pending:
            for node in nodes:
                node.shutdown()

    # --- helpers ------------------------------------------------------------------------

    def _target(self) -> float:
        """Seconds of work to keep queued behind a worker's current test."""
        workers = max(len(self.node2pending), 1)
        return min(max(self._remaining / workers / 8, 0.02), 2.0)

    def _queued_seconds(self, node: Any) -> float:
        return sum(self._index_cost.get(i, 0.0) for i in self.node2pending[node][1:])

    def _refill(self, node: Any) -> None:
        if node.shutting_down or node not in self.node2pending:
            return
        if not self.pending:
            node.shutdown()
            return
        pending = self.node2pending[node]
        target = self._target()
        # Behind a test that runs longer than the target, the next test is queue enough:
        # queueing more would commit short tests to a worker that is busy for a while.
        running = self._index_cost.get(pending[0], 0.0) if pending else 0.0
        want = target if running < target else 0.0
        if len(pending) >= 2 and self._queued_seconds(node) >= want / 2:
            return
        while self.pending and (len(pending) < 2 or self._queued_seconds(node) < want):
            self._send(node, 1)

    def _send(self, node: Any, units: int, from_tail: bool = False) -> None:
        assert self._plan is not None
        indices: list[int] = []
        for _ in range(units):
            if not self.pending:
                break
            position = self.pending.pop() if from_tail else self.pending.pop(0)
            indices.extend(self._plan.units[position])
            self._remaining -= self._plan.costs[position]
        if indices:
            self.node2pending[node].extend(indices)
            node.send_runtest_some(indices)

    def _positions_of(self, indices: Sequence[int]) -> list[int]:
        assert self._plan is not None
        wanted = set(indices)
        return [p for p, unit in enumerate(self._plan.units) if wanted.intersection(unit)]

    def _return_units(self, positions: Sequence[int]) -> None:
        """Put units back in plan order (crashed worker, or a test to retry)."""
        assert self._plan is not None
        for position in positions:
            if position not in self.pending:
                self.pending.append(position)
                self._remaining += self._plan.costs[position]
        self.pending.sort()

    def _log_difference(
        self, first: Sequence[str], other: Sequence[str], node: Any, first_node: Any = None
    ) -> None:
        from xdist.report import report_collection_diff

        base = first_node if first_node is not None else next(iter(self.node2collection))
        msg = report_collection_diff(first, other, base.gateway.id, node.gateway.id)
        if msg:
            self.log(msg)
            report = _collect_report(node.gateway.id, msg)
            self.config.hook.pytest_collectreport(report=report)


def _collect_report(nodeid: str, message: str) -> Any:
    return pytest.CollectReport(nodeid=nodeid, outcome="failed", longrepr=message, result=[])


class SchedulingPlugin:
    """``--tempo-dist=duration``: pytest-xdist hands out tests by recorded durations."""

    def __init__(self, snapshot: Snapshot, rules: Sequence[TypeRule]) -> None:
        self._snapshot = snapshot
        self._rules = rules

    def plan(self, collection: Sequence[str], workers: int) -> Plan:
        smoke = set(self._snapshot.smoke)
        for nodeid in collection:  # typed smoke by path: known without collecting
            if "smoke" in markers_for_path(nodeid.split("::", 1)[0], self._rules):
                smoke.add(nodeid)
        return plan_units(collection, self._snapshot.totals, smoke, self._snapshot.shared, workers)

    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> DurationScheduling:
        # xdist's own implementation is trylast and the hook is firstresult, so this wins.
        from xdist.workermanage import parse_tx_spec_config

        numnodes = len(parse_tx_spec_config(config))
        return DurationScheduling(config, log, self.plan, numnodes)
