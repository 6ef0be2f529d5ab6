"""Splitting costs into balanced bins: longest-first (LPT) and, for a few items, exact.

Pure functions on lists of numbers; the scheduler uses :func:`best_partition` when a run
has fewer than two units per worker and everything is assigned at once.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["EXACT_UNITS", "best_partition", "lpt_partition"]

#: Up to this many units, :func:`best_partition` searches every assignment; past it, LPT.
EXACT_UNITS = 12


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


class _Search:
    """Depth-first search for the assignment with the smallest largest bin."""

    def __init__(self, costs: Sequence[float], bins: int, bound: float) -> None:
        self.costs = costs
        self.order = sorted(range(len(costs)), key=lambda i: (-costs[i], i))
        self.loads = [0.0] * bins
        self.chosen: list[int] = []
        self.best_span = bound
        self.best: list[int] | None = None  # bin of each item in ``order``

    def run(self, k: int = 0) -> None:
        if k == len(self.order):
            span = max(self.loads)
            if span < self.best_span - 1e-12:
                self.best_span, self.best = span, list(self.chosen)
            return
        cost = self.costs[self.order[k]]
        tried: set[float] = set()
        for b, load in enumerate(self.loads):
            # A bin load tried once is tried for all equal loads; a branch that cannot beat
            # the best span so far is cut.
            if load in tried or load + cost >= self.best_span - 1e-12:
                continue
            tried.add(load)
            self.loads[b] += cost
            self.chosen.append(b)
            self.run(k + 1)
            self.chosen.pop()
            self.loads[b] -= cost


def best_partition(costs: Sequence[float], bins: int) -> list[list[int]]:
    """The assignment of ``costs`` to ``bins`` with the smallest largest bin.

    Exact for up to :data:`EXACT_UNITS` items (a depth-first search from LPT's answer, longest
    item first, trying each distinct bin load once and cutting branches that cannot do
    better); :func:`lpt_partition` beyond. Deterministic, like LPT.
    """
    lpt = lpt_partition(costs, bins)
    if len(costs) > EXACT_UNITS or bins < 2:
        return lpt
    search = _Search(costs, bins, max(sum(costs[i] for i in b) for b in lpt))
    search.run()
    if search.best is None:
        return lpt
    result: list[list[int]] = [[] for _ in range(bins)]
    for item, b in zip(search.order, search.best, strict=True):
        result[b].append(item)
    for indices in result:
        indices.sort()
    return result
