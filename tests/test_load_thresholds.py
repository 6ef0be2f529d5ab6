from __future__ import annotations

import contextlib
import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tempo.load.thresholds import (
    OPERATORS,
    Counter,
    Exported,
    Gauge,
    Histogram,
    Rate,
    Result,
    Selector,
    Series,
    ThresholdError,
    evaluate,
    format_table,
    parse_duration,
    parse_expression,
    parse_selector,
    parse_threshold,
    parse_thresholds,
    percentile,
)

LOCUST_KINDS = {
    "http_req_duration": "trend",
    "http_req_failed": "rate",
    "http_reqs": "counter",
    "vus_max": "gauge",
}


# --- the expression grammar -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "method", "op", "value", "key"),
    [
        ("p(95)<500", "p", "<", 500.0, "p(95)"),
        ("p(99.9) <= 1.5", "p", "<=", 1.5, "p(99.9)"),
        ("avg>=200", "avg", ">=", 200.0, "avg"),
        ("  med > 0.5 ", "med", ">", 0.5, "med"),
        ("min===3", "min", "===", 3.0, "min"),
        ("max==3", "max", "==", 3.0, "max"),
        ("count!=0", "count", "!=", 0.0, "count"),
        ("rate<0.01", "rate", "<", 0.01, "rate"),
        ("value<1e3", "value", "<", 1000.0, "value"),
        ("p(0)>-1", "p", ">", -1.0, "p(0)"),
        ("p(100.0)<9", "p", "<", 9.0, "p(100)"),
    ],
)
def test_parse_expression(text: str, method: str, op: str, value: float, key: str) -> None:
    expr = parse_expression(text)
    assert (expr.method, expr.operator, expr.value, expr.key) == (method, op, value, key)
    assert expr.text == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("p95<500", r"unknown method 'p95' \(did you mean 'p\(95\)'\?\)"),
        ("p(95)", "has no operator"),
        ("avg = 5", "has no operator"),
        ("p(95)<", "value '' is not a number"),
        ("p(95)<fast", "value 'fast' is not a number"),
        ("p(x)<5", "percentile 'x' is not a number"),
        ("p(101)<5", "percentile 101 is not within 0 to 100"),
        ("avg<inf", "value 'inf' is not a number"),
        ("mean<5", "unknown method 'mean'"),
        ("avg<5<6", "value '5<6' is not a number"),
    ],
)
def test_parse_expression_errors(text: str, message: str) -> None:
    with pytest.raises(ThresholdError, match=message):
        parse_expression(text)


@pytest.mark.parametrize(
    ("op", "observed", "holds"),
    [
        ("<", 4.0, True),
        ("<", 5.0, False),
        ("<=", 5.0, True),
        (">", 5.0, False),
        (">=", 5.0, True),
        ("==", 5.0, True),
        ("===", 5.0, True),
        ("!=", 5.0, False),
        ("!=", 4.0, True),
    ],
)
def test_operators(op: str, observed: float, holds: bool) -> None:
    assert parse_expression(f"avg{op}5").holds(observed) is holds


def test_parse_threshold_object_form() -> None:
    t = parse_threshold({"threshold": "p(95)<200", "abortOnFail": True, "delayAbortEval": "1m5s"})
    assert t.abort_on_fail is True
    assert t.delay_abort_eval == 65.0
    assert t.expression.key == "p(95)"
    # k6 inspect prints unset options as null
    t = parse_threshold({"threshold": "rate<1", "abortOnFail": None, "delayAbortEval": None})
    assert (t.abort_on_fail, t.delay_abort_eval) == (False, 0.0)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"abortOnFail": True}, "has no 'threshold' key"),
        ({"threshold": "avg<1", "abortOnfail": True}, "unknown key 'abortOnfail'"),
        ({"threshold": "avg<1", "abortOnFail": "yes"}, "abortOnFail is not a boolean"),
        ({"threshold": "avg<1", "delayAbortEval": "soon"}, "duration 'soon' is not a duration"),
        (42, "neither a string"),
    ],
    ids=["no-threshold", "misspelt-key", "abort-not-bool", "bad-delay", "number"],
)
def test_parse_threshold_errors(item: object, message: str) -> None:
    with pytest.raises(ThresholdError, match=message):
        parse_threshold(item)


@pytest.mark.parametrize(
    ("text", "seconds"), [("10s", 10.0), ("1m30s", 90.0), ("500ms", 0.5), ("1h", 3600.0), (2, 2.0)]
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def test_parse_selector() -> None:
    assert parse_selector("http_reqs") == Selector("http_reqs")
    sel = parse_selector("http_req_duration{name:/api, method:GET}")
    assert sel == Selector("http_req_duration", (("name", "/api"), ("method", "GET")))
    assert sel.text == "http_req_duration{name:/api,method:GET}"
    assert sel.matches({"name": "/api", "method": "GET", "x": "y"})
    assert not sel.matches({"name": "/api", "method": "POST"})
    assert parse_selector('d{name:"a:b"}').tags == (("name", "a:b"),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("d{name:a", "is not of the form"),
        ("d}name:a{", "is not of the form"),
        ("d{name:a}x", "is not of the form"),
        ("d{name}", "tag 'name' is not 'key:value'"),
        ("d{name:}", "tag 'name:' is not 'key:value'"),
        ("bad name", "'bad name' is not a metric name"),
        ("", "'' is not a metric name"),
    ],
)
def test_parse_selector_errors(text: str, message: str) -> None:
    with pytest.raises(ThresholdError, match=message):
        parse_selector(text)


def test_parse_thresholds_checks_metrics_and_types() -> None:
    sets = parse_thresholds(
        {
            "http_req_duration": ["p(95)<500", "avg<100"],
            "http_req_failed": "rate<0.01",
            "http_reqs": [{"threshold": "count>10", "abortOnFail": True}],
            "http_req_duration{name:/}": ["max<1000"],
        },
        LOCUST_KINDS,  # type: ignore[arg-type]
        tags=("name", "method"),
    )
    assert [s.metric for s in sets] == [
        "http_req_duration",
        "http_req_failed",
        "http_reqs",
        "http_req_duration{name:/}",
    ]
    assert sets[2].thresholds[0].abort_on_fail


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"http_req_duration": ["rate<0.1"]}, "'rate' does not apply to a trend metric; use avg"),
        ({"http_req_failed": ["p(95)<1"]}, "'p\\(95\\)' does not apply to a rate metric"),
        ({"http_reqs": ["avg<1"]}, "'avg' does not apply to a counter metric; use count, rate"),
        ({"vus_max": ["count<1"]}, "does not apply to a gauge metric; use value"),
        ({"checks": ["rate>0.99"]}, "unknown metric 'checks'; known metrics: http_req_duration"),
        ({"http_req_duration{status:200}": ["avg<1"]}, "tag 'status' is not available"),
        ({"http_reqs": []}, "expected a list of thresholds"),
        (["p(95)<500"], "are not a mapping"),
    ],
    ids=[
        "rate-on-trend",
        "p95-on-rate",
        "avg-on-counter",
        "count-on-gauge",
        "unknown-metric",
        "unknown-tag",
        "empty-list",
        "not-a-mapping",
    ],
)
def test_parse_thresholds_errors(spec: object, message: str) -> None:
    with pytest.raises(ThresholdError, match=message):
        parse_thresholds(spec, LOCUST_KINDS, tags=("name", "method"))  # type: ignore[arg-type]


# --- fuzzing: the parser only accepts or rejects ------------------------------------------

grammar_like = st.text(
    alphabet=st.sampled_from(list("pavgminedxcoutrl()<>=!. 0123456789e-+{}:,\"'_")), max_size=30
)


@given(st.one_of(grammar_like, st.text(max_size=30)))
def test_fuzz_expression_never_crashes(text: str) -> None:
    try:
        expr = parse_expression(text)
    except ThresholdError:
        return
    assert expr.operator in OPERATORS
    assert math.isfinite(expr.value)
    assert expr.percentile is None or 0 <= expr.percentile <= 100
    # what was accepted evaluates without error
    expr.holds(1.0)


@given(st.one_of(grammar_like, st.text(max_size=30)))
def test_fuzz_selector_never_crashes(text: str) -> None:
    try:
        sel = parse_selector(text)
    except ThresholdError:
        return
    assert sel.name
    assert parse_selector(sel.text) == sel


json_like: st.SearchStrategy[object] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | grammar_like,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(grammar_like, inner, max_size=3),
    max_leaves=8,
)


@given(
    st.one_of(
        json_like,
        st.dictionaries(
            st.sampled_from([*LOCUST_KINDS, "x", "http_req_duration{name:a}"]),
            json_like,
            max_size=3,
        ),
    )
)
def test_fuzz_thresholds_never_crash(spec: object) -> None:
    with contextlib.suppress(ThresholdError):
        parse_thresholds(spec, LOCUST_KINDS, tags=("name",))  # type: ignore[arg-type]


@given(
    method=st.sampled_from(["avg", "min", "max", "med", "count", "rate", "value", "p(90)"]),
    op=st.sampled_from(OPERATORS),
    value=st.floats(-1e6, 1e6, allow_nan=False),
    spaces=st.sampled_from(["", " ", "  "]),
)
def test_valid_expressions_round_trip(method: str, op: str, value: float, spaces: str) -> None:
    expr = parse_expression(f"{method}{spaces}{op}{spaces}{value!r}")
    assert expr.operator == op
    assert expr.value == value


# --- the percentile rule ----------------------------------------------------------------------


def reference_percentile(values: list[float], pct: int) -> float:
    """k6's rule is the "inclusive" (R7) method of the statistics module."""
    if len(values) == 1:
        return values[0]
    if pct == 0:
        return min(values)
    if pct == 100:
        return max(values)
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


samples = st.lists(st.floats(0, 1e5, allow_nan=False), min_size=1, max_size=60)


@given(samples, st.integers(0, 100))
def test_percentile_matches_reference(values: list[float], pct: int) -> None:
    ours = percentile(sorted(values), pct)
    assert ours == pytest.approx(reference_percentile(values, pct), rel=1e-9, abs=1e-9)


@given(samples, st.floats(0, 100))
def test_percentile_is_monotonic_and_bounded(values: list[float], pct: float) -> None:
    ordered = sorted(values)
    p = percentile(ordered, pct)
    assert ordered[0] <= p <= ordered[-1] or p == pytest.approx(ordered[0])
    assert percentile(ordered, 0) == ordered[0]
    assert percentile(ordered, 100) == ordered[-1]


@given(st.lists(st.integers(0, 2000), min_size=1, max_size=60), st.integers(0, 100))
def test_histogram_percentile_equals_percentile_of_expanded_values(
    values: list[int], pct: int
) -> None:
    counts: dict[float, int] = {}
    for v in values:
        counts[float(v)] = counts.get(float(v), 0) + 1
    hist = Histogram(counts)
    assert hist.percentile(pct) == pytest.approx(percentile(sorted(values), pct))
    assert hist.aggregate("med") == pytest.approx(statistics.median(values))
    assert hist.aggregate("avg") == pytest.approx(statistics.fmean(values))
    assert hist.samples == len(values)


def test_percentile_examples() -> None:
    assert percentile([], 95) == 0
    assert percentile([7.0], 95) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([float(i) for i in range(1, 101)], 95) == pytest.approx(95.05)


# --- evaluation -----------------------------------------------------------------------------


def test_evaluate_pass_fail_and_no_samples() -> None:
    sets = parse_thresholds(
        {
            "http_req_duration": ["p(50)<20", "max<20"],
            "http_req_failed": ["rate<0.5"],
            "http_reqs": ["count>=3", "rate>100"],
            "vus_max": ["value==2"],
            "http_req_duration{name:/none}": ["avg<1"],
        },
        LOCUST_KINDS,  # type: ignore[arg-type]
    )
    series: dict[str, Series] = {
        "http_req_duration": Histogram({10.0: 2, 30.0: 1}, total=50.0, minimum=9, maximum=31),
        "http_req_failed": Rate(trues=1, total=3),
        "http_reqs": Counter(count=3, seconds=2.0),
        "vus_max": Gauge(2.0),
        "http_req_duration{name:/none}": Histogram({}),
    }
    results = evaluate(sets, series)
    assert [(r.threshold, r.observed, r.passed, r.reason) for r in results] == [
        ("p(50)<20", 10.0, True, ""),
        ("max<20", 31.0, False, ""),
        ("rate<0.5", pytest.approx(1 / 3), True, ""),
        ("count>=3", 3.0, True, ""),
        ("rate>100", 1.5, False, ""),
        ("value==2", 2.0, True, ""),
        ("avg<1", 0.0, False, "no samples"),
    ]
    allowed = evaluate(sets[-1:], series, allow_empty=True)
    assert allowed[0].passed


def test_evaluate_engine_verdict_wins_and_missing_metric() -> None:
    sets = parse_thresholds({"http_req_duration": ["p(95)<500", "p(99.9)<1"], "gone": ["count>0"]})
    exported = Exported.from_summary(
        {"avg": 1.0, "p(95)": 2.0, "count": 10, "thresholds": {"p(95)<500": False}}
    )
    results = evaluate(
        sets,
        {"http_req_duration": exported},
        crossed={("http_req_duration", "p(99.9)<1"): True},
    )
    assert [(r.observed, r.passed, r.reason) for r in results] == [
        (2.0, True, ""),
        (None, False, ""),
        (None, False, "no samples"),
    ]


def test_evaluate_reports_unmeasured_aggregate() -> None:
    sets = parse_thresholds({"d": ["p(99.9)<1"]})
    results = evaluate(sets, {"d": Exported.from_summary({"avg": 1.0, "count": 3})})
    assert (results[0].passed, results[0].reason) == (False, "p(99.9) not measured")


@pytest.mark.parametrize(
    ("entry", "kind", "samples", "key", "value"),
    [
        ({"passes": 1, "fails": 3, "value": 0.25}, "rate", 4, "rate", 0.25),
        ({"count": 5, "rate": 2.5}, "counter", 5, "rate", 2.5),
        ({"value": 2, "min": 1, "max": 2}, "gauge", 1, "value", 2.0),
        ({"avg": 3, "med": 2, "count": 0}, "trend", 0, "med", 2.0),
    ],
    ids=["rate", "counter", "gauge", "trend"],
)
def test_exported_kinds(
    entry: dict[str, float], kind: str, samples: int, key: str, value: float
) -> None:
    exported = Exported.from_summary(entry)
    assert (exported.kind, exported.samples, exported.aggregate(key)) == (kind, samples, value)


def test_format_table() -> None:
    table = format_table(
        [
            Result("http_req_duration", "p(95)<500", 612.5, False),
            Result("http_req_failed", "rate<0.01", 0.0, True),
            Result("never", "p(95)<1", None, False, "no samples"),
        ]
    )
    assert table.splitlines() == [
        "metric             threshold  observed  result",
        "http_req_duration  p(95)<500  612.50    FAIL",
        "http_req_failed    rate<0.01  0         PASS",
        "never              p(95)<1    -         FAIL (no samples)",
    ]
