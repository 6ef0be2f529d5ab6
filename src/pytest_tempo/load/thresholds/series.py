"""What a load run observed, per (sub)metric, in the shape the thresholds ask of it.

:class:`Histogram`, :class:`Rate`, :class:`Counter` and :class:`Gauge` are built from
Locust's statistics, :class:`Exported` from k6's ``--summary-export``; each answers
``aggregate("p(95)")`` and the like. Pure: plain data in, plain data out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .grammar import MetricKind

__all__ = ["Counter", "Exported", "Gauge", "Histogram", "Rate", "Series", "percentile"]


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """k6's trend percentile: linear interpolation between closest ranks (0 when empty).

    ``pct`` is 0 to 100. Same rule as k6's ``TrendSink.P``: index ``pct/100 * (n - 1)``.
    """
    n = len(sorted_values)
    if n == 0:
        return 0.0
    if n == 1:
        return float(sorted_values[0])
    i = pct / 100.0 * (n - 1)
    lo = math.floor(i)
    hi = math.ceil(i)
    low, high = sorted_values[lo], sorted_values[hi]
    return low + (high - low) * (i - lo)


class Series(Protocol):
    """What is known about one (sub)metric after a run."""

    @property
    def kind(self) -> MetricKind: ...

    @property
    def samples(self) -> int: ...

    def aggregate(self, key: str) -> float | None:
        """The value of ``avg``, ``p(95)``, ``rate``, ... or None if it is not known."""
        ...


@dataclass(frozen=True)
class Histogram:
    """A trend as value -> count (Locust's bucketed response times), in milliseconds.

    ``total`` is the exact sum of the values when known (Locust keeps it), else the sum of
    the bucketed values is used for ``avg``.
    """

    counts: Mapping[float, int]
    total: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    kind: MetricKind = field(default="trend", init=False)

    @property
    def samples(self) -> int:
        return sum(self.counts.values())

    def _at_rank(self, ordered: list[tuple[float, int]], rank: int) -> float:
        seen = 0
        for value, count in ordered:
            seen += count
            if rank < seen:
                return value
        return ordered[-1][0]

    def percentile(self, pct: float) -> float:
        """:func:`percentile` over the values each repeated ``count`` times."""
        ordered = sorted((v, c) for v, c in self.counts.items() if c > 0)
        n = sum(c for _, c in ordered)
        if n == 0:
            return 0.0
        if n == 1:
            return ordered[0][0]
        i = pct / 100.0 * (n - 1)
        lo, hi = math.floor(i), math.ceil(i)
        low, high = self._at_rank(ordered, lo), self._at_rank(ordered, hi)
        return low + (high - low) * (i - lo)

    def aggregate(self, key: str) -> float | None:
        n = self.samples
        if n == 0:
            return 0.0
        if key == "avg":
            total = self.total
            if total is None:
                total = sum(v * c for v, c in self.counts.items())
            return total / n
        if key == "min":
            return self.minimum if self.minimum is not None else self.percentile(0)
        if key == "max":
            return self.maximum if self.maximum is not None else self.percentile(100)
        if key == "med":
            return self.percentile(50)
        if key == "count":
            return float(n)
        if key.startswith("p(") and key.endswith(")"):
            return self.percentile(float(key[2:-1]))
        return None


@dataclass(frozen=True)
class Rate:
    """A rate metric: ``trues`` of ``total`` samples were non-zero."""

    trues: int
    total: int
    kind: MetricKind = field(default="rate", init=False)

    @property
    def samples(self) -> int:
        return self.total

    def aggregate(self, key: str) -> float | None:
        if key == "rate":
            return self.trues / self.total if self.total else 0.0
        return None


@dataclass(frozen=True)
class Counter:
    """A counter: its sum ``count`` over ``seconds`` of run (``rate`` is per second)."""

    count: float
    seconds: float
    events: int = -1
    kind: MetricKind = field(default="counter", init=False)

    @property
    def samples(self) -> int:
        return int(self.count) if self.events < 0 else self.events

    def aggregate(self, key: str) -> float | None:
        if key == "count":
            return self.count
        if key == "rate":
            return self.count / self.seconds if self.seconds > 0 else 0.0
        return None


@dataclass(frozen=True)
class Gauge:
    """A gauge: its last ``value``."""

    value: float
    samples: int = 1
    kind: MetricKind = field(default="gauge", init=False)

    def aggregate(self, key: str) -> float | None:
        return self.value if key == "value" else None


@dataclass(frozen=True)
class Exported:
    """One metric of k6's ``--summary-export`` JSON (rates keep their rate in ``value``)."""

    kind: MetricKind
    values: Mapping[str, float]
    samples: int

    @classmethod
    def from_summary(cls, entry: Mapping[str, object]) -> Exported:
        values = {k: float(v) for k, v in entry.items() if isinstance(v, (int, float))}
        kind: MetricKind
        if "passes" in values or "fails" in values:
            kind = "rate"
            samples = int(values.get("passes", 0) + values.get("fails", 0))
            values["rate"] = values.get("value", 0.0)
        elif "avg" in values or "med" in values:
            kind = "trend"
            samples = int(values.get("count", -1))
        elif "count" in values:
            kind = "counter"
            samples = int(values["count"])
        else:
            kind = "gauge"
            samples = 1
        return cls(kind, values, samples)

    def aggregate(self, key: str) -> float | None:
        return self.values.get(key)
