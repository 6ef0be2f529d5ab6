"""k6's threshold language: parse, check against metric types, evaluate, and report.

Everything here is pure: plain data in, plain data out. :mod:`.grammar` parses the
thresholds (k6's grammar, and the one deliberate difference from k6) and checks them
against metric types, :mod:`.series` holds what a run observed, :mod:`.evaluate` judges
and reports. This module re-exports their public names.
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
