"""Smoke first, slow last: the order of a run.

The pure function :func:`tier_order` decides; :class:`OrderingPlugin` feeds it the
markers of the collected items. The result depends only on the items' order and markers,
so every pytest-xdist worker computes the same order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from .markers import MarkerIndex

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["FIRST", "LAST", "MIDDLE", "OrderingPlugin", "tier_of", "tier_order"]

FIRST, MIDDLE, LAST = 0, 1, 2


def tier_of(markers: frozenset[str] | set[str]) -> int:
    """Smoke tests run first, slow ones last; a test marked both counts as smoke."""
    if "smoke" in markers:
        return FIRST
    if "slow" in markers:
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
    if all(t == MIDDLE for t in tiers):
        return list(range(len(tiers)))
    moved: dict[int, dict[str, dict[str, list[int]]]] = {FIRST: {}, LAST: {}}
    middle: list[int] = []
    for index, tier in enumerate(tiers):
        if tier == MIDDLE:
            middle.append(index)
            continue
        parent = _parent(nodeids[index])
        module = parent.split("::", 1)[0]
        moved[tier].setdefault(module, {}).setdefault(parent, []).append(index)

    def flatten(groups: dict[str, dict[str, list[int]]]) -> list[int]:
        return [i for classes in groups.values() for run in classes.values() for i in run]

    return flatten(moved[FIRST]) + middle + flatten(moved[LAST])


class OrderingPlugin:
    """Reorders the collected items into tiers (``--tempo-order``)."""

    # tryfirst: before pytest's stepwise and pytest-order (trylast), which must see the final
    # order; after pytest-randomly, whose shuffle runs in a wrapper before every plain
    # implementation, so its shuffle survives among ties. pytest's --failed-first and
    # --new-first reorder in wrappers after all plain implementations, so they still win.
    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        index = MarkerIndex()
        tiers = [tier_of(index.names(item)) for item in items]
        order = tier_order(tiers, [item.nodeid for item in items])
        items[:] = [items[i] for i in order]
