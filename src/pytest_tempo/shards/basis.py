"""The split of ``--shard=K/N``: every shard computes the same split from the same basis.

**The basis.** The collected node ids in sorted order and, per test, its recorded seconds
quantised to a log grid (a floor of :data:`FLOOR_US`, then :data:`STEPS_PER_DOUBLING` steps
per doubling), so a measurement that moves a little usually keeps its value. A test without
a record is estimated by the cost model (:func:`pytest_tempo.costs.estimate`): the larger of
its nearest recorded siblings' median and the mean of every recorded test.

**The split.** The few recorded tests that dominate (each over 1/:data:`BIG_SHARE` of a
shard's share) are dealt longest first, each to the least loaded shard. The unrecorded
tests are then shared out evenly: every shard takes the same estimated amount of them (a
shard the big tests leave less room takes only what fits), grouped by the doubling of their
estimate, each group cut, in an order unrelated to their names, into runs as long as each
shard's part, so every shard gets its part of the new tests of every size. An estimate
tells a family's typical cost, not which new test is one of the few long ones, and on the
whole it runs high or low: the shards carry equal parts of that uncertain mass, so none
takes more than its part of the luck and a wrong total moves every shard alike (shared in
proportion to the room, a shard with a big recorded test would take less of it, and
finish late whenever the estimates run high). The many small recorded tests are last
cut, in sorted order, into contiguous runs that fill every shard to one level. A small
change to one test shifts those cut points by about its own size, so it moves a test or two
per boundary, where a longest-first deal of every test can move thousands.

**The batch.** Shards run one after another in one checkout rewrite the store between them:
:func:`choose_basis` keeps the first shard's basis for the later shards of a batch.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..costs import CostData, estimate

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from ..settings import ShardSpec

__all__ = [
    "BIG_SHARE",
    "FLOOR_US",
    "STEPS_PER_DOUBLING",
    "Basis",
    "choose_basis",
    "doubling",
    "estimate_unrecorded",
    "fingerprint",
    "quantise",
    "split",
]

#: Every test costs at least this much (microseconds): pytest's own overhead per test.
FLOOR_US = 1000
#: Steps of the quantisation grid per doubling of the seconds (about 9% apart).
STEPS_PER_DOUBLING = 8
#: A test is dealt on its own when it is larger than a shard's share divided by this.
BIG_SHARE = 16


def quantise(seconds: float) -> int:
    """Microseconds on the grid: at least :data:`FLOOR_US`, then 8 steps per doubling."""
    us = seconds * 1e6
    if not us > FLOOR_US:  # also NaN
        return FLOOR_US
    if math.isinf(us):
        us = 1e15
    step = round(STEPS_PER_DOUBLING * math.log2(us / FLOOR_US))
    return round(FLOOR_US * 2 ** (step / STEPS_PER_DOUBLING))


def fingerprint(parts: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\n")
    return digest.hexdigest()[:16]


def estimate_unrecorded(tests: Sequence[str], recorded: Sequence[int]) -> list[int]:
    """Quantised microseconds per test; an unrecorded test (-1) by the cost model.

    :func:`pytest_tempo.costs.estimate` on the recorded values (its per-test floor left
    out: the grid has its own): the larger of the nearest recorded siblings' median (the
    same function's other parametrizations, else the class, else the module) and the mean
    of every recorded test. With nothing recorded, every test counts the floor: the split
    is by count.
    """
    known = {n: r / 1e6 for n, r in zip(tests, recorded, strict=True) if r >= 0}
    if len(known) == len(recorded):
        return list(recorded)
    if not known:
        return [FLOOR_US] * len(recorded)
    model = estimate(tests, CostData(known))
    return [
        r if r >= 0 else quantise(c - model.floor)
        for r, c in zip(recorded, model.costs, strict=True)
    ]


def split(costs: Sequence[int], count: int, spread: Sequence[int] = ()) -> list[int]:
    """The shard (0-based) of each test, given in canonical (sorted) order with its cost.

    ``spread`` names the unrecorded tests, in an order unrelated to their names. Three
    steps:

    1. Recorded tests over 1/BIG_SHARE of a shard's share are dealt longest first (ties by
       position) to the least loaded shard (ties to the lower number).
    2. The unrecorded tests are shared out by :func:`_even_shares` and
       :func:`_deal_unrecorded`: every shard gets the same estimated amount of them (at
       most the room the first step left it), in count and in size, so no shard holds more
       than its part of what the estimates get wrong.
    3. The other recorded tests, in order, are cut into contiguous runs that raise every
       shard to one level. A test goes where its midpoint falls.

    With more shards than tests, the last shards are empty.
    """
    shard = [0] * len(costs)
    if count <= 1 or not costs:
        return shard
    unrecorded = set(spread)
    limit = sum(costs) / count / BIG_SHARE
    big = sorted(
        (i for i, c in enumerate(costs) if c > limit and i not in unrecorded),
        key=lambda i: (-costs[i], i),
    )
    loads = _deal_big(costs, big, shard, count)
    placed = unrecorded.union(big)
    rest = [i for i in range(len(costs)) if i not in placed]
    if spread:
        level = _water_level(loads, sum(costs[i] for i in (*spread, *rest)))
        rooms = [max(level - load, 0.0) for load in loads]
        shares = _even_shares(rooms, sum(costs[i] for i in spread))
        _deal_unrecorded(costs, spread, shard, shares)
        for index in spread:
            loads[shard[index]] += costs[index]
    amount = sum(costs[i] for i in rest)
    if amount:
        level = _water_level(loads, amount)
        bounds: list[float] = []
        reached = 0.0
        for load in loads:
            reached += max(level - load, 0.0)
            bounds.append(reached)
        _cut(costs, rest, shard, bounds)
    return shard


def _deal_big(
    costs: Sequence[int], big: Sequence[int], shard: list[int], count: int
) -> list[float]:
    """Longest first, each to the least loaded shard; the loads per shard."""
    loads = [0.0] * count
    heap = [(0, b) for b in range(min(count, max(len(big), 1)))]
    for index in big:
        load, b = heapq.heappop(heap)
        shard[index] = b
        loads[b] = load + costs[index]
        heapq.heappush(heap, (load + costs[index], b))
    return loads


def doubling(cost: int) -> int:
    """The band of an estimate: how many doublings over :data:`FLOOR_US` (0 below it)."""
    return (cost // FLOOR_US).bit_length()


def _deal_unrecorded(
    costs: Sequence[int], spread: Sequence[int], shard: list[int], shares: Sequence[float]
) -> None:
    """Unrecorded tests apportioned to the shards by their shares, in count and in size.

    The tests are grouped by :func:`doubling` of their estimate. Each group, in ``spread``
    order, is cut into contiguous runs, one per shard, of as many tests as the shard's part
    of the shares (equal shares: counts within one per group); a group's runs start on the
    shard its doubling names (modulo N), so the roundings of small groups fall on different
    shards. An estimate tells a family's typical cost but not which new test is one of the
    few long ones, so each shard gets its part of every size. The cuts hold still: equal
    shares do not change with the recorded tests' costs, and a test whose estimate changes
    group moves at most a test per boundary of a group. A shard without a share (a big
    recorded test fills it) gets none.
    """
    count = len(shares)
    total = sum(shares)
    if not total:  # only when every cost is zero
        shares, total = [1.0] * count, count
    groups: dict[int, list[int]] = {}
    for index in spread:
        groups.setdefault(doubling(costs[index]), []).append(index)
    for band, members in groups.items():
        order = [(band + k) % count for k in range(count)]
        bounds = list(itertools.accumulate(shares[b] * len(members) / total for b in order))
        run = 0
        for position, index in enumerate(members):
            while run < count - 1 and position + 0.5 >= bounds[run]:
                run += 1
            shard[index] = order[run]


def _cut(
    costs: Sequence[int], indices: Sequence[int], shard: list[int], bounds: Sequence[float]
) -> None:
    """Contiguous runs: each test to the first shard whose bound its midpoint has not reached."""
    b, position, last = 0, 0, len(bounds) - 1
    for index in indices:
        middle = position + costs[index] / 2
        while b < last and middle >= bounds[b]:
            b += 1
        shard[index] = b
        position += costs[index]


def _even_shares(rooms: Sequence[float], amount: float) -> list[float]:
    """Equal shares of ``amount``, each at most its room: ``min(room, x)`` summing to it.

    The rooms sum to at least ``amount`` (the level is computed with the unrecorded tests
    in), so every shard with room enough takes the same ``x``; a shard with less takes its
    room and the others share the rest. ``x`` depends on the rooms only through the shards
    that are full, so a small change of a recorded test's cost leaves the shares as they
    were.
    """
    remaining, left = amount, len(rooms)
    for room in sorted(rooms):
        share = remaining / left
        if share <= room:
            return [min(r, share) for r in rooms]
        remaining -= room
        left -= 1
    return list(rooms)


def _water_level(loads: Sequence[float], amount: float) -> float:
    """The level W with sum(max(W - load, 0)) == amount."""
    ordered = sorted(loads)
    below = 0.0
    for j, load in enumerate(ordered, start=1):
        below += load
        level = (amount + below) / j
        if j == len(ordered) or level <= ordered[j]:
            return level
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class Basis:
    """What a split is computed from: the sorted collection and its quantised records."""

    tests: tuple[str, ...]
    #: quantised microseconds per test, -1 where nothing is recorded
    recorded: tuple[int, ...]

    @classmethod
    def of(cls, nodeids: Iterable[str], totals: Mapping[str, float]) -> Basis:
        tests = tuple(sorted(set(nodeids)))
        recorded = tuple(quantise(totals[n]) if n in totals else -1 for n in tests)
        return cls(tests, recorded)

    @property
    def collection_id(self) -> str:
        return fingerprint(self.tests)

    @property
    def basis_id(self) -> str:
        return fingerprint([*self.tests, *map(str, self.recorded)])

    @property
    def any_recorded(self) -> bool:
        return any(r >= 0 for r in self.recorded)

    def costs(self) -> list[int]:
        return estimate_unrecorded(self.tests, self.recorded)

    def spread(self) -> list[int]:
        """The unrecorded tests (when any test is recorded), ordered by a hash of the id."""
        if not self.any_recorded:
            return []
        unknown = [i for i, r in enumerate(self.recorded) if r < 0]
        return sorted(unknown, key=lambda i: (fingerprint([self.tests[i]]), i))

    def shards(self, count: int) -> list[int]:
        return split(self.costs(), count, self.spread())


def choose_basis(
    fresh: Basis, saved: Mapping[str, Any] | None, spec: ShardSpec
) -> tuple[Basis, dict[str, Any]]:
    """The basis to split from, and the earlier shards of its batch (``{"K": record}``).

    The saved batch is continued when it has the same N and collection, has not run this K
    yet, and the store differs from its basis only in tests its shards ran (which they
    measured again) or in entries it no longer has. Otherwise this shard starts a new batch
    from ``fresh``.
    """
    if saved is None or saved.get("count") != spec.count or str(spec.index) in saved["shards"]:
        return fresh, {}
    old = Basis(tuple(saved["tests"]), tuple(saved["recorded"]))
    if old.tests != fresh.tests:
        return fresh, {}
    ran = {n for shard in saved["shards"].values() for n in shard["ran"]}
    for nodeid, before, now in zip(fresh.tests, old.recorded, fresh.recorded, strict=True):
        # A test the batch ran was measured again; an entry the store lost is no news.
        if before != now and now >= 0 and nodeid not in ran:
            return fresh, {}
    return old, dict(saved["shards"])
