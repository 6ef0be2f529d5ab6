"""How far a load test may fall behind its baseline: ``load_regression`` and its limits.

Apart from :mod:`pytest_tempo.load.baseline` so that reading the setting at start-up
imports nothing else of the load feature.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ..settings import shown
from .options import DEFAULT_REGRESSION

__all__ = [
    "DEFAULT_REGRESSION",
    "METRICS",
    "NOISE_FLOOR_MS",
    "Limit",
    "RegressionSpecError",
    "Unit",
    "parse_regression",
]

#: Under a relative limit, a latency change smaller than this never counts: on a loaded CI
#: machine scheduling alone moves a fast endpoint's p95 by a few milliseconds (+60% on 2 ms).
NOISE_FLOOR_MS = 5.0

Unit = Literal["%", "pp", "ms"]

#: Metric name -> (label in tables, unit of the value, direction that is worse).
METRICS: dict[str, tuple[str, str, int]] = {
    "p50": ("p50 ms", "ms", +1),
    "p95": ("p95 ms", "ms", +1),
    "p99": ("p99 ms", "ms", +1),
    "avg": ("avg ms", "ms", +1),
    "rps": ("req/s", "", -1),
    "error_rate": ("error rate", "rate", +1),
}
_UNITS: dict[str, tuple[Unit, ...]] = {
    "p50": ("%", "ms"),
    "p95": ("%", "ms"),
    "p99": ("%", "ms"),
    "avg": ("%", "ms"),
    "rps": ("%",),
    "error_rate": ("pp", "%"),
}
_LIMIT = re.compile(
    r"\s*([A-Za-z_0-9]+)\s*:\s*([+-]?)\s*([0-9]{1,9}(?:\.[0-9]{1,9})?|\.[0-9]{1,9})\s*(%|pp|ms)\s*\Z"
)
#: Limits are written in ASCII digits, at most nine before and after the point: a longer
#: number is a typo, and past float's range it would compare as infinity.


class RegressionSpecError(ValueError):
    """A ``load_regression`` value that cannot be used; the message says what is accepted."""


@dataclass(frozen=True)
class Limit:
    """How far ``metric`` may move in its worse direction: ``amount`` in ``unit``."""

    metric: str
    amount: float
    unit: Unit

    @property
    def direction(self) -> int:
        return METRICS[self.metric][2]

    @property
    def text(self) -> str:
        sign = "+" if self.direction > 0 else "-"
        return f"{sign}{self.amount:g}{self.unit}"

    def change(self, baseline: float, now: float) -> float | None:
        """The change in this limit's unit (None: relative to a zero baseline)."""
        if self.unit == "%":
            if baseline == 0:
                return None
            return (now - baseline) / baseline * 100
        if self.unit == "pp":
            return (now - baseline) * 100
        return now - baseline

    def crossed(self, baseline: float, now: float) -> bool:
        """Whether ``now`` is worse than ``baseline`` by more than the limit allows."""
        worse = (now - baseline) * self.direction
        if worse <= 0:
            return False
        if self.unit == "%" and METRICS[self.metric][1] == "ms" and worse < NOISE_FLOOR_MS:
            return False
        change = self.change(baseline, now)
        if change is None:  # any rise from exactly zero
            return True
        return abs(change) > self.amount


def parse_regression(raw: str) -> tuple[Limit, ...]:
    """Parse ``p95:+20%, rps:-15%, error_rate:+0.5pp`` (commas or new lines between limits).

    The sign is optional; given, it must point the way the metric gets worse (latencies and
    the error rate rise, ``rps`` falls). ``none`` (or an empty value) sets no limit.
    """
    text = raw.strip()
    if text.lower() in ("", "none"):
        return ()
    limits: dict[str, Limit] = {}
    for part in re.split(r"[,\n]", text):
        if not part.strip():
            continue
        match = _LIMIT.match(part)
        if match is None:
            raise RegressionSpecError(
                f"{shown(part.strip())} is not a limit such as p95:+20%, rps:-15% "
                "or error_rate:+0.5pp"
            )
        metric, sign, number, unit = match.groups()
        if metric not in METRICS:
            raise RegressionSpecError(
                f"{shown(part.strip())}: unknown metric {metric!r}; "
                f"expected one of {', '.join(METRICS)}"
            )
        if unit not in _UNITS[metric]:
            raise RegressionSpecError(
                f"{shown(part.strip())}: {metric} takes {' or '.join(_UNITS[metric])}, not {unit}"
            )
        direction = METRICS[metric][2]
        if sign and (sign == "+") != (direction > 0):
            worse = "rises" if direction > 0 else "falls"
            right = "+" if direction > 0 else "-"
            raise RegressionSpecError(
                f"{shown(part.strip())}: {metric} gets worse when it {worse}; "
                f"write {right}{number}{unit}"
            )
        if metric in limits:
            raise RegressionSpecError(f"{shown(part.strip())}: {metric} already has a limit")
        limits[metric] = Limit(metric, float(number), unit)
    return tuple(limits.values())
