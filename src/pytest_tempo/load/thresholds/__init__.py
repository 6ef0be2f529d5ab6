"""k6's threshold language: parse, check against metric types, evaluate, and report.

The grammar is k6's (``internal/metrics/thresholds_parser.go`` in k6 1.1)::

    assertion  -> method ws* operator ws* float
    method     -> "count" | "rate" | "value" | "avg" | "min" | "max" | "med" | "p(" float ")"
    operator   -> "<=" | "<" | ">=" | ">" | "===" | "==" | "!="

and a metric is named ``name`` or ``name{tag:value,...}`` (a submetric). Which methods fit
which metric type is k6's too: a counter takes ``count`` and ``rate``, a gauge ``value``, a
rate ``rate``, a trend ``avg``, ``min``, ``max``, ``med`` and ``p(N)``. Trend values are
milliseconds.

One deliberate difference from k6: a threshold on a metric that received no sample *fails*
with "no samples" (k6 passes it), unless the caller allows empty metrics.

Everything here is pure: plain data in, plain data out. ``grammar`` parses and checks the
thresholds, ``series`` holds what a run observed, ``evaluate`` judges and reports.
"""

from __future__ import annotations

from .evaluate import Result, evaluate, format_table
from .grammar import (
    KINDS,
    OPERATORS,
    Expression,
    MetricKind,
    MetricThresholds,
    Selector,
    Threshold,
    ThresholdError,
    parse_duration,
    parse_expression,
    parse_selector,
    parse_threshold,
    parse_thresholds,
)
from .series import Counter, Exported, Gauge, Histogram, Rate, Series, percentile

__all__ = [
    "KINDS",
    "OPERATORS",
    "Counter",
    "Exported",
    "Expression",
    "Gauge",
    "Histogram",
    "MetricKind",
    "MetricThresholds",
    "Rate",
    "Result",
    "Selector",
    "Series",
    "Threshold",
    "ThresholdError",
    "evaluate",
    "format_table",
    "parse_duration",
    "parse_expression",
    "parse_selector",
    "parse_threshold",
    "parse_thresholds",
    "percentile",
]
