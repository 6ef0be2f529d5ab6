"""Thresholds judged against what was observed, and the failure report.

Pure: parsed thresholds (:mod:`.grammar`) and observed series (:mod:`.series`) in,
:class:`Result` rows and their table out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .grammar import MetricThresholds
    from .series import Series

__all__ = ["Result", "evaluate", "format_table", "format_value"]


@dataclass(frozen=True)
class Result:
    """One threshold's outcome: the observed value (None when unknown) and why it failed."""

    metric: str
    threshold: str
    observed: float | None
    passed: bool
    reason: str = ""
    abort_on_fail: bool = False


def evaluate(
    sets: Sequence[MetricThresholds],
    series: Mapping[str, Series],
    *,
    allow_empty: bool = False,
    crossed: Mapping[tuple[str, str], bool] | None = None,
) -> list[Result]:
    """Evaluate every threshold against the ``series`` keyed by metric (selector text).

    ``crossed`` gives an engine's own verdict per (metric, threshold) that wins over the
    evaluation here (k6's summary export, where ``True`` means crossed). A metric with no
    samples fails with "no samples" unless ``allow_empty``.
    """
    results = []
    for mset in sets:
        data = series.get(mset.metric) or series.get(mset.selector.text)
        for threshold in mset.thresholds:
            expr = threshold.expression
            abort = threshold.abort_on_fail
            if data is None or data.samples == 0:
                observed = None if data is None else data.aggregate(expr.key)
                ok = allow_empty
                results.append(
                    Result(mset.metric, expr.text, observed, ok, "" if ok else "no samples", abort)
                )
                continue
            observed = data.aggregate(expr.key)
            verdict = None if crossed is None else crossed.get((mset.metric, expr.text))
            if verdict is not None:
                ok = not verdict
            elif observed is None:
                results.append(
                    Result(mset.metric, expr.text, None, False, f"{expr.key} not measured", abort)
                )
                continue
            else:
                ok = expr.holds(observed)
            results.append(Result(mset.metric, expr.text, observed, ok, "", abort))
    return results


def format_value(value: float | None) -> str:
    if value is None:
        return "-"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}" if abs(value) < 1 else f"{value:.2f}"


def format_table(results: Sequence[Result]) -> str:
    """The failure report: metric, threshold, observed value, PASS/FAIL (and why)."""
    rows = [("metric", "threshold", "observed", "result")]
    for r in results:
        verdict = "PASS" if r.passed else "FAIL"
        if r.reason:
            verdict += f" ({r.reason})"
        rows.append((r.metric, r.threshold, format_value(r.observed), verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for row in rows:
        cells = [row[i].ljust(widths[i]) for i in range(3)]
        lines.append("  ".join([*cells, row[3]]).rstrip())
    return "\n".join(lines)
