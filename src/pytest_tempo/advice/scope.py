"""Fixture scope: fixtures set up many times at a narrow scope, and what a wider one would pay.

Pure: from each set-up of a fixture (the test that triggered it, the worker, the seconds),
the number of set-ups each wider scope would need is the number of distinct places (per
worker) its users live in: a class (or, outside a class, the test itself, as pytest does), a
module, a package (the module's folder), the session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ["SCOPES", "FixtureUse", "ScopeAdvice", "judge_scopes", "scope_group"]

#: pytest's scopes, narrowest first.
SCOPES = ("function", "class", "module", "package", "session")


@dataclass
class FixtureUse:
    """Every set-up of one fixture in this run."""

    name: str
    scope: str
    baseid: str
    #: ``path:line`` of the fixture function, where known
    location: str = ""
    #: the widest scope its own dependencies allow (pytest refuses a wider one)
    widest: str = "session"
    #: (node id of the test whose set-up triggered it, worker, seconds)
    setups: list[tuple[str, str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class ScopeAdvice:
    """A fixture worth a wider scope: its cost now and at each wider scope allowed."""

    name: str
    scope: str
    location: str
    count: int
    each: float
    total: float
    #: (scope, set-ups it would need, seconds it would pay), narrowest first
    wider: tuple[tuple[str, int, float], ...]

    @property
    def best(self) -> tuple[str, int, float]:
        return min(self.wider, key=lambda w: (w[2], SCOPES.index(w[0])))

    @property
    def saving(self) -> float:
        return self.total - self.best[2]


def scope_group(nodeid: str, scope: str) -> str:
    """The place one set-up serves at ``scope``: class, module, package (folder), session."""
    if scope == "function":
        return nodeid
    path, _, rest = nodeid.partition("::")
    if scope == "class":
        parts = rest.split("::")
        # A test outside a class gets a class-scoped fixture for itself (pytest's fallback).
        return f"{path}::{parts[0]}" if len(parts) > 1 else nodeid
    if scope == "module":
        return path
    if scope == "package":
        return path.rpartition("/")[0]
    return ""


def judge_scopes(
    uses: Iterable[FixtureUse], threshold: float, min_saving: float | None = None
) -> list[ScopeAdvice]:
    """Fixtures whose set-ups cost at least ``threshold`` in all, set up at least twice, that
    a wider scope allowed by their dependencies would make cheaper by at least
    ``min_saving`` (default: a tenth of the threshold, and a quarter of their cost).

    Biggest saving first.
    """
    floor = threshold / 10 if min_saving is None else min_saving
    found: list[ScopeAdvice] = []
    for use in uses:
        count = len(use.setups)
        total = sum(s for _, _, s in use.setups)
        if count < 2 or total < threshold or use.scope not in SCOPES:
            continue
        here, widest = SCOPES.index(use.scope), SCOPES.index(use.widest)
        each = total / count
        wider = []
        fewest = count
        for scope in SCOPES[here + 1 : widest + 1]:
            places = {(worker, scope_group(nodeid, scope)) for nodeid, worker, _ in use.setups}
            if len(places) < fewest:  # a scope that sets it up no less often says nothing new
                fewest = len(places)
                wider.append((scope, fewest, each * fewest))
        if not wider:
            continue
        advice = ScopeAdvice(use.name, use.scope, use.location, count, each, total, tuple(wider))
        if advice.saving > 0 and advice.saving >= max(floor, total / 4):
            found.append(advice)
    return sorted(found, key=lambda a: (-a.saving, a.name))


def widest_scope(dependency_scopes: Sequence[str]) -> str:
    """The widest scope a fixture may have given its dependencies' scopes."""
    known = [SCOPES.index(s) for s in dependency_scopes if s in SCOPES]
    return SCOPES[min(known)] if known else "session"
