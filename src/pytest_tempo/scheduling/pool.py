"""The units not yet sent to a worker, reachable two ways: in dispatch order, and cheapest first.

Pure bookkeeping for :class:`~pytest_tempo.scheduling.dispatch.DurationScheduling`. The
head (:meth:`Pool.head`) is the next unit of the plan's dispatch order; the cheapest
(:meth:`Pool.cheapest`) is the unit that can best wait behind a test that may run long: a
recorded one, the shortest first, then units with tests never recorded. Both are heaps with
lazy deletion, so taking a unit either way costs O(log n).
"""

from __future__ import annotations

import heapq
from typing import Any

__all__ = ["Pool"]

Key = tuple[Any, ...]


class Pool:
    """Unit ids with an order key and a cheapness key; ``unknown`` counts unrecorded units."""

    def __init__(self) -> None:
        self._order: list[tuple[Key, int]] = []
        self._cheap: list[tuple[Key, int]] = []
        self._members: set[int] = set()
        self._unknown: set[int] = set()

    def __len__(self) -> int:
        return len(self._members)

    def __bool__(self) -> bool:
        return bool(self._members)

    def __contains__(self, uid: object) -> bool:
        return uid in self._members

    @property
    def unknown(self) -> int:
        """How many units in the pool hold a test never recorded."""
        return len(self._unknown)

    def add(self, uid: int, order: Key, cheap: Key, unknown: bool) -> None:
        self._members.add(uid)
        if unknown:
            self._unknown.add(uid)
        heapq.heappush(self._order, (order, uid))
        heapq.heappush(self._cheap, (cheap, uid))

    def _top(self, heap: list[tuple[Key, int]]) -> int | None:
        while heap and heap[0][1] not in self._members:
            heapq.heappop(heap)
        return heap[0][1] if heap else None

    def head(self) -> int | None:
        """The next unit in dispatch order (None when empty)."""
        return self._top(self._order)

    def cheapest(self) -> int | None:
        """The unit that can best wait: recorded and shortest first (None when empty)."""
        return self._top(self._cheap)

    def take(self, uid: int) -> None:
        self._members.discard(uid)
        self._unknown.discard(uid)

    def in_order(self) -> list[int]:
        """Every unit, in dispatch order (for inspection; O(n log n))."""
        return [uid for _, uid in sorted(self._order) if uid in self._members]
