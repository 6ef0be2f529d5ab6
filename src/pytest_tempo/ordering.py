"""Smoke first, slow last: the order of a run.

The pure functions :func:`tier_order` and :func:`duration_order` decide;
:class:`OrderingPlugin` feeds them the markers of the collected items and the durations
recorded in earlier runs. The result depends only on the items' order, their markers and a
snapshot of the durations store that the controller ships to every pytest-xdist worker, so
every worker computes the same order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ._hooks import HookObject
from .markers import RECORDED_MARKS, MarkerIndex

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

__all__ = [
    "FIRST",
    "LAST",
    "MIDDLE",
    "OrderingPlugin",
    "duration_order",
    "tier_of",
    "tier_order",
]

FIRST, MIDDLE, LAST = 0, 1, 2
_TIER_MARKERS = frozenset(RECORDED_MARKS)  # the markers that decide a tier


def tier_of(
    markers: frozenset[str] | set[str], recorded: float | None = None, threshold: float = 1.0
) -> int:
    """Smoke tests run first, slow ones last; a test marked both counts as smoke.

    A test whose recorded call time (``recorded``) exceeds the threshold is slow too.
    """
    if "smoke" in markers:
        return FIRST
    if "slow" in markers or (recorded is not None and recorded > threshold):
        return LAST
    return MIDDLE


def _parent(nodeid: str) -> str:
    """``path::Class`` for a method, ``path`` for a function (parametrisation ignored)."""
    base = nodeid.split("[", 1)[0]
    head, sep, _ = base.rpartition("::")
    return head if sep else base


def tier_order(tiers: Sequence[int], nodeids: Sequence[str]) -> list[int]:
    """The new order, as indices into the input.

    Tests stay in their input order inside the middle tier. The tests moved to the first
    or last tier are grouped by module, then by class, in order of first appearance, so a
    module- or class-scoped fixture is set up once per tier at most.
    """
    if FIRST not in tiers and LAST not in tiers:
        return list(range(len(tiers)))
    first = [i for i, t in enumerate(tiers) if t == FIRST]
    middle = [i for i, t in enumerate(tiers) if t == MIDDLE]
    last = [i for i, t in enumerate(tiers) if t == LAST]
    return _grouped(first, nodeids) + middle + _grouped(last, nodeids)


def _grouped(indices: list[int], nodeids: Sequence[str]) -> list[int]:
    """``indices`` grouped by module, then by parent, in order of first appearance."""
    groups: dict[str, dict[str, list[int]]] = {}
    for index in indices:
        parent = _parent(nodeids[index])
        groups.setdefault(parent.split("::", 1)[0], {}).setdefault(parent, []).append(index)
    return [i for parents in groups.values() for run in parents.values() for i in run]


def duration_order(
    tiers: Sequence[int], nodeids: Sequence[str], seconds: Sequence[float | None]
) -> list[int]:
    """Tiers, and inside each tier the fastest first, keeping modules and classes together.

    Inside a tier, modules run fastest first by the total of their tests' recorded seconds;
    inside a module, its classes (and its module-level functions, as one group) the same way;
    inside those, the tests fastest first. Tests never recorded count as 0 seconds, so new
    tests run early. Ties keep their input order.
    """
    modules: dict[tuple[int, str], float] = {}
    parents: dict[tuple[int, str], float] = {}
    keys = []
    for index, nodeid in enumerate(nodeids):
        parent = _parent(nodeid)
        module = parent.split("::", 1)[0]
        cost = seconds[index] or 0.0
        modules[tiers[index], module] = modules.get((tiers[index], module), 0.0) + cost
        parents[tiers[index], parent] = parents.get((tiers[index], parent), 0.0) + cost
        keys.append((module, parent, cost))
    first_seen: dict[tuple[int, str], int] = {}
    for index, (module, parent, _) in enumerate(keys):
        first_seen.setdefault((tiers[index], module), index)
        first_seen.setdefault((tiers[index], parent), index)

    def key(index: int) -> tuple[int, float, int, float, int, float, int]:
        tier = tiers[index]
        module, parent, cost = keys[index]
        return (
            tier,
            modules[tier, module],
            first_seen[tier, module],
            parents[tier, parent],
            first_seen[tier, parent],
            cost,
            index,
        )

    return sorted(range(len(nodeids)), key=key)


class OrderingPlugin(HookObject):
    """Reorders the collected items into tiers (``--tempo-order``).

    ``recorded`` maps node ids to the call seconds recorded in earlier runs (the median of
    the recent ones); ``totals`` to the recorded setup + call + teardown seconds. Or
    ``source`` gives both when the plugin first orders a non-empty collection, so a run that
    collects nothing never reads the durations store.
    """

    def __init__(
        self,
        mode: str = "tiers",
        recorded: Mapping[str, float] | None = None,
        totals: Mapping[str, float] | None = None,
        threshold: float = 1.0,
        source: Callable[[], tuple[Mapping[str, float], Mapping[str, float]]] | None = None,
    ) -> None:
        self._mode = mode
        self._recorded = recorded or {}
        self._totals = totals or {}
        self._threshold = threshold
        self._source = source

    # tryfirst: before pytest's stepwise and pytest-order (trylast), which must see the final
    # order; after pytest-randomly, whose shuffle runs in a wrapper before every plain
    # implementation, so its shuffle survives among ties. pytest's --failed-first and
    # --new-first reorder in wrappers after all plain implementations, so they still win.
    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        if not items:
            return
        if self._source is not None:
            self._recorded, self._totals = self._source()
            self._source = None
        index = MarkerIndex()
        nodeids = [item.nodeid for item in items]
        recorded, threshold = self._recorded, self._threshold
        marked: dict[int, bool] = {}  # per parent: whether it or one above has a tier marker
        tiers = []
        for item, nodeid in zip(items, nodeids, strict=True):
            parent = id(item.parent)
            inherited = marked.get(parent)
            if inherited is None:
                inherited = marked[parent] = index.parent_has(item, _TIER_MARKERS)
            seconds = recorded.get(nodeid)
            if item.own_markers or inherited:
                tiers.append(tier_of(index.names(item), seconds, threshold))
            else:  # no tier marker (most tests): by the recorded call alone
                tiers.append(LAST if seconds is not None and seconds > threshold else MIDDLE)
        if self._mode == "durations":
            order = duration_order(tiers, nodeids, [self._totals.get(n) for n in nodeids])
        elif FIRST in tiers or LAST in tiers:
            order = tier_order(tiers, nodeids)
        else:
            return  # every test in the middle tier: the order stays
        items[:] = [items[i] for i in order]
