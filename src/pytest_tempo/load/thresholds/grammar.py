"""k6's threshold language, parsed and checked against metric types.

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

Everything here is pure: plain data in, plain data out. :mod:`.series` holds the observed
values and :mod:`.evaluate` judges them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "KINDS",
    "OPERATORS",
    "Expression",
    "MetricKind",
    "MetricThresholds",
    "Selector",
    "Threshold",
    "ThresholdError",
    "parse_duration",
    "parse_expression",
    "parse_selector",
    "parse_threshold",
    "parse_thresholds",
]

MetricKind = Literal["counter", "gauge", "rate", "trend"]

#: The aggregation methods each metric type accepts (``p`` stands for every ``p(N)``).
KINDS: dict[MetricKind, tuple[str, ...]] = {
    "counter": ("count", "rate"),
    "gauge": ("value",),
    "rate": ("rate",),
    "trend": ("avg", "min", "max", "med", "p(N)"),
}

_METHODS = ("value", "count", "rate", "avg", "min", "med", "max")

#: k6 tries the operators in this order, longer ones first.
OPERATORS = ("<=", "<", ">=", ">", "===", "==", "!=")

# k6 reads the number with Go's ParseFloat; this is the plain decimal subset (no inf, nan,
# hex or underscores), which is every number a threshold sensibly holds.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|s|m|h)")


class ThresholdError(ValueError):
    """A threshold or metric name that cannot be used; the message says why."""


def _number(text: str, what: str) -> float:
    if not _NUMBER.match(text):
        raise ThresholdError(f"{what} {text!r} is not a number")
    value = float(text)
    if not math.isfinite(value):
        raise ThresholdError(f"{what} {text!r} is not a finite number")
    return value


def _format_number(value: float) -> str:
    """Like Go's ``%g`` for the values thresholds hold: ``95``, ``99.9``, ``0.01``."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


@dataclass(frozen=True)
class Expression:
    """One parsed ``method operator value`` assertion, such as ``p(95)<500``."""

    text: str
    method: str
    operator: str
    value: float
    percentile: float | None = None

    @property
    def key(self) -> str:
        """The aggregate the expression reads: ``avg``, ``rate``, ``p(95)``, ..."""
        if self.percentile is not None:
            return f"p({_format_number(self.percentile)})"
        return self.method

    def holds(self, observed: float) -> bool:
        op = self.operator
        if op == "<":
            return observed < self.value
        if op == "<=":
            return observed <= self.value
        if op == ">":
            return observed > self.value
        if op == ">=":
            return observed >= self.value
        if op == "!=":
            return observed != self.value
        return observed == self.value  # == and ===


def parse_expression(text: object) -> Expression:
    """Parse ``p(95) < 500``; raise :class:`ThresholdError` on anything else."""
    if not isinstance(text, str):
        raise ThresholdError(f"threshold {text!r} is not a string such as 'p(95)<500'")
    for op in OPERATORS:
        left, sep, right = text.partition(op)
        if sep:
            break
    else:
        raise ThresholdError(
            f"threshold {text!r} has no operator; expected 'METHOD OP VALUE' such as "
            f"'p(95)<500' with OP one of {' '.join(OPERATORS)}"
        )
    method = left.strip()
    value = _number(right.strip(), f"threshold {text!r}: value")
    if method in _METHODS:
        return Expression(text=text, method=method, operator=op, value=value)
    if method.startswith("p(") and method.endswith(")"):
        pct = _number(method[2:-1], f"threshold {text!r}: percentile")
        if not 0 <= pct <= 100:
            raise ThresholdError(f"threshold {text!r}: percentile {pct:g} is not within 0 to 100")
        return Expression(text=text, method="p", operator=op, value=value, percentile=pct)
    hint = ""
    if re.fullmatch(r"p\d+(\.\d+)?", method):
        hint = f" (did you mean 'p({method[1:]})'?)"
    raise ThresholdError(
        f"threshold {text!r}: unknown method {method!r}{hint}; expected one of "
        "count, rate, value, avg, min, max, med, p(N)"
    )


def parse_duration(text: object) -> float:
    """A k6 duration (``10s``, ``1m30s``, ``500ms``) or a number of seconds, in seconds."""
    if isinstance(text, bool):
        raise ThresholdError(f"duration {text!r} is not a duration such as '10s'")
    if isinstance(text, (int, float)):
        if not math.isfinite(text) or text < 0:
            raise ThresholdError(f"duration {text!r} is not a duration such as '10s'")
        return float(text)
    if not isinstance(text, str) or not text.strip():
        raise ThresholdError(f"duration {text!r} is not a duration such as '10s'")
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    total = 0.0
    pos = 0
    raw = text.strip()
    while pos < len(raw):
        match = _DURATION_PART.match(raw, pos)
        if match is None:
            raise ThresholdError(f"duration {text!r} is not a duration such as '10s'")
        total += float(match.group(1)) * units[match.group(2)]
        pos = match.end()
    return total


@dataclass(frozen=True)
class Threshold:
    """An expression plus k6's options ``abortOnFail`` and ``delayAbortEval`` (seconds)."""

    expression: Expression
    abort_on_fail: bool = False
    delay_abort_eval: float = 0.0

    @property
    def text(self) -> str:
        return self.expression.text


def parse_threshold(item: object) -> Threshold:
    """A string, or an object ``{threshold, abortOnFail, delayAbortEval}`` as in k6."""
    if isinstance(item, str):
        return Threshold(parse_expression(item))
    if isinstance(item, Mapping):
        unknown = sorted(set(map(str, item)) - {"threshold", "abortOnFail", "delayAbortEval"})
        if unknown:
            raise ThresholdError(
                f"threshold object {dict(item)!r}: unknown key {unknown[0]!r}; expected "
                "threshold, abortOnFail, delayAbortEval"
            )
        if "threshold" not in item:
            raise ThresholdError(f"threshold object {dict(item)!r} has no 'threshold' key")
        abort = item.get("abortOnFail", False)
        if abort is None:
            abort = False
        if not isinstance(abort, bool):
            raise ThresholdError(f"threshold object {dict(item)!r}: abortOnFail is not a boolean")
        delay = item.get("delayAbortEval")
        return Threshold(
            parse_expression(item["threshold"]),
            abort_on_fail=abort,
            delay_abort_eval=0.0 if delay is None else parse_duration(delay),
        )
    raise ThresholdError(
        f"threshold {item!r} is neither a string such as 'p(95)<500' nor an object "
        "{'threshold': ..., 'abortOnFail': ...}"
    )


_METRIC_NAME = re.compile(r"[\w.\-]+\Z")


@dataclass(frozen=True)
class Selector:
    """A metric or submetric: ``http_req_duration{name:/api,method:GET}``."""

    name: str
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def text(self) -> str:
        if not self.tags:
            return self.name
        return self.name + "{" + ",".join(f"{k}:{v}" for k, v in self.tags) + "}"

    def matches(self, tags: Mapping[str, str]) -> bool:
        """Whether a sample with ``tags`` belongs to this (sub)metric."""
        return all(tags.get(key) == value for key, value in self.tags)


def parse_selector(text: object) -> Selector:
    """Parse ``name`` or ``name{tag:value,...}`` the way k6's ``ParseMetricName`` does."""
    if not isinstance(text, str):
        raise ThresholdError(f"metric name {text!r} is not a string")
    opening = text.find("{")
    closing = text.rfind("}")
    if opening == -1 and closing == -1:
        name, body = text.strip(), None
    elif opening == -1 or closing == -1 or closing < opening or closing != len(text) - 1:
        raise ThresholdError(
            f"metric {text!r} is not of the form 'name' or 'name{{tag:value,...}}'"
        )
    else:
        name, body = text[:opening].strip(), text[opening + 1 : closing]
    if not _METRIC_NAME.match(name):
        raise ThresholdError(
            f"metric {text!r}: {name!r} is not a metric name (letters, digits, _ . -)"
        )
    if body is None:
        return Selector(name)
    tags = []
    for part in body.split(","):
        key, sep, value = part.partition(":")
        key, value = key.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if not sep or not key or not value:
            raise ThresholdError(f"metric {text!r}: tag {part.strip()!r} is not 'key:value'")
        tags.append((key, value))
    return Selector(name, tuple(tags))


@dataclass(frozen=True)
class MetricThresholds:
    """The thresholds on one metric or submetric."""

    selector: Selector
    thresholds: tuple[Threshold, ...]
    source: str = ""

    @property
    def metric(self) -> str:
        return self.source or self.selector.text


def _check_kind(expr: Expression, metric: str, kind: MetricKind) -> None:
    allowed = KINDS[kind]
    if expr.method in allowed or (expr.method == "p" and "p(N)" in allowed):
        return
    raise ThresholdError(
        f"threshold {expr.text!r} on {metric!r}: {expr.key!r} does not apply to a {kind} "
        f"metric; use {', '.join(allowed)}"
    )


def parse_thresholds(
    spec: object,
    kinds: Mapping[str, MetricKind] | None = None,
    tags: Sequence[str] | None = None,
) -> tuple[MetricThresholds, ...]:
    """Parse k6's ``thresholds`` object: ``{metric: [threshold, ...]}``.

    With ``kinds`` (metric name to type), an unknown metric and a method that does not fit
    the metric's type are errors, as k6 reports them before a run. With ``tags``, a
    submetric may only filter on those tag names.
    """
    if not isinstance(spec, Mapping):
        raise ThresholdError(
            f"thresholds {spec!r} are not a mapping such as {{'http_req_duration': ['p(95)<500']}}"
        )
    result = []
    for metric, items in spec.items():
        selector = parse_selector(metric)
        if kinds is not None:
            kind = kinds.get(selector.name)
            if kind is None:
                raise ThresholdError(
                    f"thresholds: unknown metric {selector.name!r}; known metrics: "
                    f"{', '.join(sorted(kinds))}"
                )
        if tags is not None:
            for key, _ in selector.tags:
                if key not in tags:
                    raise ThresholdError(
                        f"metric {metric!r}: tag {key!r} is not available; use {', '.join(tags)}"
                    )
        if isinstance(items, (str, Mapping)):
            items = [items]
        if not isinstance(items, Sequence) or not items:
            raise ThresholdError(f"metric {metric!r}: expected a list of thresholds")
        parsed = tuple(parse_threshold(item) for item in items)
        if kinds is not None:
            for threshold in parsed:
                _check_kind(threshold.expression, metric, kinds[selector.name])
        result.append(MetricThresholds(selector, parsed, source=metric))
    return tuple(result)
