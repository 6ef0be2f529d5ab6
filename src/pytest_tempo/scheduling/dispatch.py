"""The xdist scheduler of ``--tempo-dist=duration``: sends a plan's units as workers free up.

:class:`DurationScheduling` implements pytest-xdist's scheduler protocol
(``xdist/scheduler/protocol.py``) on top of a :class:`~pytest_tempo.scheduling.plan.Plan`.
A worker fetches its next test before it runs the current one (``xdist/remote.py``,
``run_one_test``), so a worker holds two tests at least, and the second one waits for the
first whatever it costs: the dispatch rules below are about what may wait behind what.
"""

from __future__ import annotations

import contextlib
import math
from typing import TYPE_CHECKING, Any

import pytest

from .._xdist import collection_diff
from .partition import best_partition
from .pool import Pool

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .plan import Plan

__all__ = ["MIN_PENDING", "DurationScheduling"]

#: A worker fetches its next test before it runs the current one (``xdist/remote.py``,
#: ``run_one_test``): it needs two pending tests, or a shutdown, to make progress.
MIN_PENDING = 2
#: Seconds queued behind a worker's current test: this share of its share of what is left,
TARGET_SHARE = 1 / 8
#: ... kept between these bounds.
TARGET_MIN = 0.02
TARGET_MAX = 2.0


class DurationScheduling:
    """pytest-xdist scheduler: the plan's units, refilled as workers free up.

    ``plan_for(collection, workers)`` returns the :class:`Plan` once the collection is known.

    - Fewer than two units per worker: every unit is assigned at once, in the assignment
      with the shortest makespan (:func:`best_partition`), and every worker is told to shut
      down after its share.
    - Otherwise each worker starts with one unit from the head of the plan's order.
    - *Risky* tests are those that may keep a worker busy for long: estimated at or over the
      refill target, or never recorded (when others are). Behind a risky test a worker gets
      a trivial recorded test (at most the plan's ``filler_limit``) while there is one, and
      never the next long recorded test from the head (the cheapest unit left instead):
      what waits behind a long test should cost little, and no worker starts with two long
      tests.
    - Refills keep a worker's queue (behind the test it runs) at a target of estimated
      seconds that shrinks with the work left, bounded by a count too, so tests estimated at
      nothing cannot pile up on one worker; while tests never recorded are left to send,
      a worker holds one test behind its current one, no more, so none waits behind a test
      that turns out long.
    - End-game: with nothing left to send, a worker that runs dry takes back half of the
      not-yet-started tests of the worker with the most queued seconds (``steal``, as
      ``--dist worksteal`` does); with nothing to take, it is told to shut down.
    - A crashed worker's tests that did not run go back to the pool; the crashing test is
      returned to xdist, which reports it, and never sent again. A module kept together for
      its fixtures is broken up; a group the user asked for stays together.
    """

    def __init__(
        self, config: Any, log: Any, plan_for: Callable[[list[str], int], Plan], numnodes: int
    ) -> None:
        self.config = config
        self.log = log
        self._plan_for = plan_for
        self.numnodes = numnodes
        self.node2collection: dict[Any, list[str]] = {}
        self.node2pending: dict[Any, list[int]] = {}
        self.collection: list[str] | None = None
        self.pool = Pool()  # units not yet sent (ids into self._units)
        self._units: list[tuple[int, ...]] = []
        self._unit_cost: list[float] = []
        self._unit_order: list[tuple[int, int]] = []  # a unit's place in the dispatch order
        self._unit_of: dict[int, int] = {}  # collection index -> unit id
        self._cost: dict[int, float] = {}  # collection index -> estimated seconds
        self._unrecorded: set[int] = set()  # collection indices without a record
        self._keep_together = False
        self._filler_limit = 0.0
        self._unit_known: list[bool] = []  # whether every test of a unit is recorded
        self._hedge = False  # some tests recorded, some not
        self._remaining = 0.0  # estimated seconds not yet sent
        self._remaining_tests = 0
        self._retries = 0
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
        if not self.collection_is_completed or self.pool or self._steal_from is not None:
            return False
        return all(len(p) < MIN_PENDING for p in self.node2pending.values())

    @property
    def has_pending(self) -> bool:
        return bool(self.pool) or any(self.node2pending.values())

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
        self._retries += 1
        self._add_unit((self.collection.index(item),), (-1, self._retries))
        self._refill_all()

    def remove_pending_tests_from_node(self, node: Any, indices: Sequence[int]) -> None:
        """The answer to a steal request: ``indices`` left ``node``'s queue (or none did)."""
        if node is self._steal_from:
            self._steal_from = None
        if indices and node in self.node2pending:
            taken = set(indices)
            self.node2pending[node] = [i for i in self.node2pending[node] if i not in taken]
            self._return(indices)
        self._refill_all()

    def remove_node(self, node: Any) -> str | None:
        pending = self.node2pending.pop(node)
        if self._steal_from is node:
            self._steal_from = None
        crashed = None
        if pending:
            assert self.collection is not None
            crashed = self.collection[pending[0]]  # a worker runs its tests in sent order
            self._return(pending[1:])
        self._refill_all()
        return crashed

    def schedule(self) -> None:
        assert self.collection_is_completed
        if self.collection is not None:
            self._refill_all()
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
        self._load(self._plan_for(first, len(self.nodes)))
        if not self.collection:
            return
        nodes = self.nodes
        if len(self.pool) < MIN_PENDING * len(nodes):
            self._assign_all(nodes)
            return
        # Each worker starts with the next unit from the head; then each gets its second
        # test (from the head, or the cheapest behind a risky first one); then refills.
        for node in nodes:
            self._send(node, self._pick(node))
        for node in nodes:
            if self.pool:
                self._send(node, self._pick(node))
        self._refill_all()

    # --- helpers ------------------------------------------------------------------------

    def _load(self, plan: Plan) -> None:
        self._keep_together = plan.keep_together
        self._filler_limit = plan.filler_limit
        self._hedge = any(plan.test_recorded) and not all(plan.test_recorded)
        if plan.test_recorded:
            self._unrecorded = {i for i, known in enumerate(plan.test_recorded) if not known}
        for unit, cost in zip(plan.units, plan.costs, strict=True):
            for index in unit:
                self._cost[index] = plan.test_costs[index] if plan.test_costs else cost / len(unit)
        for position, unit in enumerate(plan.units):
            self._add_unit(unit, (0, position))

    def _assign_all(self, nodes: list[Any]) -> None:
        """Fewer than two units per worker: one assignment of everything, then shutdown."""
        units = self.pool.in_order()
        bins = best_partition([self._unit_cost[u] for u in units], len(nodes))
        for node, share in zip(nodes, bins, strict=True):
            for position in sorted(share):  # dispatch order: smoke first, then longest
                self._send(node, units[position])
        for node in nodes:
            node.shutdown()

    def _target(self) -> float:
        """Seconds of work to keep queued behind a worker's current test."""
        workers = max(len(self.node2pending), 1)
        return min(max(self._remaining / workers * TARGET_SHARE, TARGET_MIN), TARGET_MAX)

    def _count_cap(self) -> int:
        """Tests to keep queued at most: an eighth of a worker's share of what is left, or
        one while tests never recorded are left to send."""
        if self._hedge and self.pool.unknown:
            return MIN_PENDING - 1
        workers = max(len(self.node2pending), 1)
        return max(math.ceil(self._remaining_tests / workers * TARGET_SHARE), 1)

    def _queued_seconds(self, node: Any) -> float:
        return sum(self._cost.get(i, 0.0) for i in self.node2pending[node][1:])

    def _risky(self, index: int, target: float) -> bool:
        """Whether a test may keep its worker busy for long: long, or never recorded (when
        others are: with nothing recorded, every test counts alike)."""
        if self._hedge and index in self._unrecorded:
            return True
        return self._cost.get(index, 0.0) >= target

    def _pick(self, node: Any) -> int:
        """The unit to send ``node`` next: the head, or the cheapest behind a risky test."""
        pending = self.node2pending[node]
        head = self.pool.head()
        assert head is not None
        target = self._target()
        if pending and self._risky(pending[-1], target):
            cheapest = self.pool.cheapest()
            assert cheapest is not None
            filler = self._unit_known[cheapest] and self._unit_cost[cheapest] <= self._filler_limit
            long_head = self._unit_known[head] and self._unit_cost[head] >= target
            if filler or long_head:
                return cheapest
        return head

    def _refill_all(self) -> None:
        for node in self.nodes:
            self._refill(node)

    def _refill(self, node: Any) -> None:
        if node.shutting_down or node not in self.node2pending:
            return
        pending = self.node2pending[node]
        if not self.pool:
            if len(pending) < MIN_PENDING:
                self._end_game(node)
            return
        target, cap = self._target(), self._count_cap()
        # Behind a test that may run long, the next test is queue enough.
        want = 0.0 if pending and self._risky(pending[0], target) else target
        queued = self._queued_seconds(node)
        if len(pending) >= MIN_PENDING and (queued >= want / 2 or len(pending) > cap):
            return
        while self.pool and (len(pending) < MIN_PENDING or (queued < want and len(pending) <= cap)):
            unit = self._pick(node)
            queued += self._unit_cost[unit]
            self._send(node, unit)
        if not self.pool:
            for other in self.nodes:
                if len(self.node2pending[other]) < MIN_PENDING:
                    self._end_game(other)

    def _end_game(self, node: Any) -> None:
        """Nothing left to send and ``node`` runs dry: take work back, or shut it down."""
        if node.shutting_down or self._steal_from is not None:
            return
        victim, units = self._stealable()
        if victim is None:
            node.shutdown()
            return
        self._steal_from = victim
        _deliver(victim.send_steal, [i for u in units for i in self._units[u]])

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
        taken: list[int] = []
        half = 0.0
        for unit in reversed(units):  # from the tail: sent last
            if half + self._unit_cost[unit] > seconds / 2 and taken:
                break
            taken.append(unit)
            half += self._unit_cost[unit]
        return victim, taken

    def _send(self, node: Any, unit: int) -> None:
        self.pool.take(unit)
        indices = list(self._units[unit])
        self._remaining -= self._unit_cost[unit]
        self._remaining_tests -= len(indices)
        self.node2pending[node].extend(indices)
        _deliver(node.send_runtest_some, indices)

    def _add_unit(self, unit: tuple[int, ...], order: tuple[int, int]) -> None:
        """A unit into the pool, at ``order`` in the dispatch order."""
        uid = len(self._units)
        self._units.append(unit)
        cost = sum(self._cost.get(i, 0.0) for i in unit)
        self._unit_cost.append(cost)
        self._unit_order.append(order)
        for index in unit:
            self._unit_of[index] = uid
        self._remaining += cost
        self._remaining_tests += len(unit)
        unknown = any(i in self._unrecorded for i in unit)
        self._unit_known.append(not unknown)
        self.pool.add(uid, order, (unknown, cost, order), unknown)

    def _return(self, indices: Sequence[int]) -> None:
        """Tests that did not run back into the pool, where their units were in the plan.

        Groups the user asked for stay together (what is left of them); a module kept
        together for its fixtures goes back one test at a time.
        """
        pieces: dict[int, list[int]] = {}
        for index in indices:
            pieces.setdefault(self._unit_of[index], []).append(index)
        for unit, rest in pieces.items():
            whole = len(rest) == len(self._units[unit])
            parts = [tuple(rest)] if whole or self._keep_together else [(i,) for i in rest]
            for part in parts:
                self._add_unit(part, self._unit_order[unit])

    def _log_difference(
        self, first: Sequence[str], other: Sequence[str], node: Any, first_node: Any = None
    ) -> None:
        base = first_node if first_node is not None else next(iter(self.node2collection))
        msg = collection_diff(first, other, base.gateway.id, node.gateway.id)
        if msg:
            self.log(msg)
            report = pytest.CollectReport(
                nodeid=node.gateway.id, outcome="failed", longrepr=msg, result=[]
            )
            self.config.hook.pytest_collectreport(report=report)


def _deliver(send: Callable[[list[int]], None], indices: list[int]) -> None:
    """Send to a worker that may have crashed a moment ago: its channel is closed before
    xdist reports it down. What was sent stays in its queue as if delivered, and
    :meth:`DurationScheduling.remove_node` puts it back (and forgets a steal it was asked
    for) when the crash is reported."""
    with contextlib.suppress(OSError):
        send(indices)
