"""Got slower: tests whose call this run is well above their own recorded history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..durations import median

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ["FACTOR", "MIN_RUNS", "Slower", "judge_slower"]

#: A test got slower when its call took over FACTOR times the median of at least MIN_RUNS
#: recorded calls, and over the slow threshold.
FACTOR = 3.0
MIN_RUNS = 3


@dataclass(frozen=True)
class Slower:
    nodeid: str
    before: float  # the median of the recorded calls
    now: float
    runs: int

    @property
    def factor(self) -> float:
        return self.now / self.before if self.before else float("inf")


def judge_slower(
    tests: Iterable[tuple[str, float, Sequence[float]]], threshold: float
) -> list[Slower]:
    """Of ``(node id, call seconds now, recorded call seconds)``, the tests that got slower;
    biggest growth in seconds first. Milliseconds tests never qualify: ``now`` must exceed
    the threshold."""
    found = []
    for nodeid, now, history in tests:
        if now <= threshold or len(history) < MIN_RUNS:
            continue
        before = median(history)
        if now > FACTOR * before:
            found.append(Slower(nodeid, before, now, len(history)))
    return sorted(found, key=lambda s: (-(s.now - s.before), s.nodeid))
