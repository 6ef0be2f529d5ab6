"""k6 summaries made elsewhere: read them, merge several runners' into one, judge the result.

A distributed k6 run (the k6 Operator's parallel runners, several CI jobs, ``k6 cloud``
exports) leaves one summary per runner: ``k6 run --summary-export=FILE`` or the JSON of a
script's ``handleSummary(data)``. :func:`read_summary` reads either; :func:`merge` makes one
run of them, and :func:`judge` applies the thresholds as a local k6 item would. Pure: plain
data in, plain data out.

What can be merged, per metric type, for runners that ran **at the same time**:

- counter: counts add; ``rate`` is recomputed over the longest runner's duration;
- rate (``http_req_failed``, ``checks``): passes and fails add; the rate is recomputed: exact;
- trend: ``count`` adds, ``min``/``max`` are the smallest/largest (exact), ``avg`` is
  weighted by each runner's ``count`` (exact when the summaries hold ``count``);
  **percentiles and the median cannot be merged** from summaries: the whole run's ``p(95)``
  lies between the smallest and the largest runner's, up to the spacing of neighbouring
  samples (k6 interpolates between them). A ``<`` or ``<=`` threshold is judged on the
  largest: conservative, not strict (with 1,000 to 5,000 samples per runner the whole run's
  p(95) was above the largest runner's in about 1% of simulated runs, by at most 0.07%:
  ``benchmarks/percentile_merge.py``); ``>``/``>=`` on the smallest, and ``==``/``!=`` on
  such a value fails as "not exact when merged";
- gauge: ``vus`` and ``vus_max`` add (each runner ran its share of the users); any other
  gauge is known only between the runners' smallest and largest value, judged as above.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .thresholds import Exported, Result, evaluate

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .thresholds import MetricKind, MetricThresholds

__all__ = ["Merged", "Summary", "SummaryError", "judge", "merge", "read_summary"]

#: Gauges whose values add up across runners.
ADDING_GAUGES = ("vus", "vus_max")
Side = Literal["upper", "lower"]


class SummaryError(ValueError):
    """A file that is not a k6 summary; the message says why."""


@dataclass(frozen=True)
class Summary:
    """One runner's summary: its metrics, k6's own verdicts, its duration when known."""

    metrics: dict[str, Exported]
    #: (metric, threshold) -> True when k6 found it crossed.
    crossed: dict[tuple[str, str], bool] = field(default_factory=dict)
    #: The thresholds the summary names, by metric (the script's ``options.thresholds``).
    thresholds: dict[str, list[str]] = field(default_factory=dict)
    seconds: float | None = None


def _numbers(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if isinstance(v, (int, float))}


def _entry(name: str, raw: object) -> tuple[dict[str, Any], dict[str, bool]]:
    """One metric as ``--summary-export`` writes it, and its crossed thresholds."""
    if not isinstance(raw, dict):
        raise SummaryError(f"metric {name!r} is not an object")
    flags = raw.get("thresholds")
    values = raw.get("values")
    if isinstance(values, dict):  # handleSummary's data: {type, values, thresholds: {ok}}
        entry = _numbers(values)
        if raw.get("type") == "rate":
            entry["value"] = entry.get("rate", 0.0)
        crossed = {
            str(text): not bool(verdict.get("ok", True))
            for text, verdict in (flags.items() if isinstance(flags, dict) else ())
            if isinstance(verdict, dict)
        }
        return entry, crossed
    if not isinstance(flags, dict):
        flags = {}
    return _numbers(raw), {str(text): bool(value) for text, value in flags.items()}


def _seconds(data: Mapping[str, Any], metrics: Mapping[str, Exported]) -> float | None:
    state = data.get("state")
    if isinstance(state, dict) and isinstance(state.get("testRunDurationMs"), (int, float)):
        return float(state["testRunDurationMs"]) / 1000
    for name in ("http_reqs", "iterations", *sorted(metrics)):
        metric = metrics.get(name)
        if metric is not None and metric.kind == "counter":
            count, rate = metric.values.get("count"), metric.values.get("rate")
            if count and rate:
                return count / rate
    return None


def read_summary(data: object) -> Summary:
    """A runner's summary from the JSON of ``--summary-export`` or of ``handleSummary``."""
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        raise SummaryError("no 'metrics' object: not a k6 summary (--summary-export or "
                           "handleSummary's JSON.stringify(data))")  # fmt: skip
    metrics: dict[str, Exported] = {}
    crossed: dict[tuple[str, str], bool] = {}
    thresholds: dict[str, list[str]] = {}
    for name, raw in data["metrics"].items():
        entry, flags = _entry(str(name), raw)
        metrics[name] = Exported.from_summary(entry)
        for text, value in flags.items():
            crossed[(name, text)] = value
            thresholds.setdefault(name, []).append(text)
    return Summary(metrics, crossed, thresholds, _seconds(data, metrics))


@dataclass(frozen=True)
class Merged:
    """One metric of several runners: exact ``values``, and ``ranges`` (smallest, largest)
    for what summaries cannot merge exactly. :meth:`view` picks a side of every range."""

    kind: MetricKind
    values: Mapping[str, float]
    ranges: Mapping[str, tuple[float, float]]
    samples: int

    def view(self, side: Side) -> Exported:
        picked = {key: span[side == "upper"] for key, span in self.ranges.items()}
        return Exported(self.kind, {**picked, **self.values}, self.samples)

    def exact(self, key: str) -> bool:
        low, high = self.ranges.get(key, (0.0, 0.0))
        return key not in self.ranges or low == high


def _span(values: Sequence[float]) -> tuple[float, float]:
    return min(values), max(values)


def _merge_trend(parts: Sequence[Exported]) -> Merged:
    counts = [p.values.get("count") for p in parts]
    values: dict[str, float] = {}
    ranges: dict[str, tuple[float, float]] = {}
    total = sum(c for c in counts if c is not None)
    if all(c is not None for c in counts):
        values["count"] = total
    for key, pick in (("min", min), ("max", max)):
        found = [p.values[key] for p in parts if key in p.values]
        if found:
            values[key] = pick(found)
    averages = [(p.values["avg"], p.values.get("count")) for p in parts if "avg" in p.values]
    if averages and "count" in values and total:
        values["avg"] = sum(a * (c or 0) for a, c in averages) / total
    elif averages:
        ranges["avg"] = _span([a for a, _ in averages])
    keys = {k for p in parts for k in p.values if k == "med" or k.startswith("p(")}
    for key in sorted(keys):
        ranges[key] = _span([p.values[key] for p in parts if key in p.values])
    samples = int(total) if "count" in values else sum(max(p.samples, 0) for p in parts)
    return Merged("trend", values, ranges, samples)


def _merge(kind: MetricKind, name: str, parts: Sequence[Exported], seconds: float | None) -> Merged:
    if kind == "trend":
        return _merge_trend(parts)
    if kind == "rate":
        passes = sum(p.values.get("passes", 0.0) for p in parts)
        fails = sum(p.values.get("fails", 0.0) for p in parts)
        rate = passes / (passes + fails) if passes + fails else 0.0
        values = {"passes": passes, "fails": fails, "value": rate, "rate": rate}
        return Merged("rate", values, {}, int(passes + fails))
    if kind == "counter":
        count = sum(p.values.get("count", 0.0) for p in parts)
        rate = count / seconds if seconds else sum(p.values.get("rate", 0.0) for p in parts)
        return Merged("counter", {"count": count, "rate": rate}, {}, int(count))
    keys = {k for p in parts for k in p.values}
    if name.partition("{")[0] in ADDING_GAUGES:
        values = {k: sum(p.values.get(k, 0.0) for p in parts) for k in keys}
        return Merged("gauge", values, {}, 1)
    ranges = {k: _span([p.values[k] for p in parts if k in p.values]) for k in keys}
    return Merged("gauge", {}, ranges, 1)


def merge(summaries: Sequence[Summary]) -> tuple[dict[str, Merged], float | None]:
    """The runners' metrics as one run, and its duration (the longest runner's)."""
    durations = [s.seconds for s in summaries if s.seconds]
    seconds = max(durations) if durations else None
    merged: dict[str, Merged] = {}
    for name in sorted({name for s in summaries for name in s.metrics}):
        parts = [s.metrics[name] for s in summaries if name in s.metrics]
        merged[name] = _merge(parts[0].kind, name, parts, seconds)
    return merged, seconds


def _walk(sets: Sequence[MetricThresholds]) -> list[tuple[str, str, str]]:
    """(metric, key, operator) of every threshold, in the order :func:`evaluate` reports."""
    return [(s.metric, t.expression.key, t.expression.operator) for s in sets for t in s.thresholds]


def judge(
    sets: Sequence[MetricThresholds],
    summaries: Sequence[Summary],
    *,
    allow_empty: bool = False,
) -> tuple[list[Result], dict[str, Exported]]:
    """Judge the thresholds on the runners' summaries taken as one run.

    Returns the results and the metrics (upper bounds where inexact) for the key figures and
    the baseline. One summary is judged exactly as a local k6 item judges it, k6's own
    verdicts included; several are merged and judged as the module says.
    """
    if len(summaries) == 1:
        only = summaries[0]
        return evaluate(sets, only.metrics, allow_empty=allow_empty, crossed=only.crossed), dict(
            only.metrics
        )
    merged, _ = merge(summaries)
    upper = {name: m.view("upper") for name, m in merged.items()}
    lower = {name: m.view("lower") for name, m in merged.items()}
    high = evaluate(sets, upper, allow_empty=allow_empty)
    low = evaluate(sets, lower, allow_empty=allow_empty)
    runners = len(summaries)
    results = []
    for (metric, key, op), up, down in zip(_walk(sets), high, low, strict=True):
        data = merged.get(metric)
        if data is None or data.exact(key) or up.reason:
            results.append(up)
        elif op in ("<", "<="):
            results.append(_noted(up, f"largest of {runners} runners"))
        elif op in (">", ">="):
            results.append(_noted(down, f"smallest of {runners} runners"))
        else:
            results.append(
                Result(
                    up.metric, up.threshold, None, False, "not exact when merged", up.abort_on_fail
                )
            )
    return results, upper


def _noted(result: Result, note: str) -> Result:
    return Result(result.metric, result.threshold, result.observed, result.passed, note,
                  result.abort_on_fail)  # fmt: skip
