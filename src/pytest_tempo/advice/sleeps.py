"""Sleeping tests: tests whose call spent a large share of its time in ``sleep``.

Pure: from each test's call seconds and the seconds it spent inside ``time.sleep`` and
``asyncio.sleep`` (measured where it ran, see :mod:`pytest_tempo.advice.hooks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["SHARE", "Sleeper", "judge_sleeps"]

#: The share of its call a test must spend sleeping to be listed.
SHARE = 0.5


@dataclass(frozen=True)
class Sleeper:
    nodeid: str
    slept: float
    call: float

    @property
    def share(self) -> float:
        return self.slept / self.call if self.call else 1.0


def judge_sleeps(tests: Iterable[tuple[str, float, float]], threshold: float) -> list[Sleeper]:
    """Of ``(node id, call seconds, slept seconds)``, the tests that slept over a tenth of the
    threshold and at least :data:`SHARE` of their call; most sleep first.

    Sleeps that overlap (threads, ``asyncio.gather``) can add up to more than the call took:
    the seconds slept are capped at the call's.
    """
    found = []
    for nodeid, call, slept in tests:
        slept = min(slept, call)
        if slept > threshold / 10 and call > 0 and slept >= SHARE * call:
            found.append(Sleeper(nodeid, slept, call))
    return sorted(found, key=lambda s: (-s.slept, s.nodeid))
