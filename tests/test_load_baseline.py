"""Load baselines: the regression limits, the baseline median, the table, and the store."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tempo.load.baseline import (
    BASELINE_RUNS,
    KEPT_RUNS,
    MIN_REQUESTS,
    Limit,
    RegressionSpecError,
    baseline_of,
    compare,
    format_comparison,
    k6_groups,
    locust_groups,
    merge_into_file,
    merge_records,
    parse_regression,
    parse_store,
    read_file,
    shape_key,
)
from pytest_tempo.load.thresholds import Exported

from .conftest import assert_usage_error

if TYPE_CHECKING:
    from pathlib import Path


def record(at: float, **metrics: float) -> dict[str, Any]:
    return {"at": at, "groups": {"": metrics}}


# --- limits -----------------------------------------------------------------------------------


def test_parse_regression_default_and_signs() -> None:
    assert parse_regression("p95:+20%, rps:-15%, error_rate:+0.5pp") == (
        Limit("p95", 20.0, "%"),
        Limit("rps", 15.0, "%"),
        Limit("error_rate", 0.5, "pp"),
    )
    # the sign is optional, new lines separate too, ms for latencies
    assert parse_regression("p99: 50ms\nrps:10%") == (
        Limit("p99", 50.0, "ms"),
        Limit("rps", 10, "%"),
    )
    assert parse_regression("none") == ()
    assert parse_regression("  ") == ()
    assert Limit("rps", 15, "%").text == "-15%"
    assert Limit("p95", 20, "%").text == "+20%"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("p95", "'p95' is not a limit such as p95:+20%, rps:-15% or error_rate:+0.5pp"),
        (
            "p96:+20%",
            "'p96:+20%': unknown metric 'p96'; expected one of p50, p95, p99, avg, rps, error_rate",
        ),
        ("rps:-3ms", "'rps:-3ms': rps takes %, not ms"),
        ("error_rate:+1ms", "'error_rate:+1ms': error_rate takes pp or %, not ms"),
        ("p95:-20%", "'p95:-20%': p95 gets worse when it rises; write +20%"),
        ("rps:+15%", "'rps:+15%': rps gets worse when it falls; write -15%"),
        ("p95:+1%, p95:+2%", "'p95:+2%': p95 already has a limit"),
    ],
    ids=[
        "no-change",
        "unknown-metric",
        "wrong-unit",
        "wrong-unit-rate",
        "sign-p95",
        "sign-rps",
        "twice",
    ],
)
def test_parse_regression_errors(raw: str, message: str) -> None:
    with pytest.raises(RegressionSpecError) as info:
        parse_regression(raw)
    assert str(info.value) == message


def test_bad_ini_is_a_one_line_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nload_regression = p95:-20%\n")
    assert_usage_error(
        pytester,
        [],
        "ERROR: load_regression (ini): 'p95:-20%' is not valid: 'p95:-20%': p95 gets worse "
        "when it rises; write +20%",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--load-baseline=sometimes"],
            "ERROR: --load-baseline: 'sometimes' is not valid: "
            "expected one of auto, compare, update, off",
        ),
        (
            ["-o", "load_rss_growth_limit=lots"],
            "ERROR: load_rss_growth_limit (ini): 'lots' is "
            "not valid: expected MB per hour such as 50 or 50MB/h (or 1GB/h)",
        ),
        (
            ["-o", "load_watch=0"],
            "ERROR: load_watch (ini): '0' is not valid: expected a PID from "
            "1 to 2147483647, or the path of a PID file",
        ),
        (
            ["-o", "load_require=maybe"],
            "ERROR: load_require (ini): 'maybe' is not valid: expected true or false",
        ),
    ],
    ids=["load-baseline", "rss-limit", "watch-pid-0", "require"],
)
def test_bad_options(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    assert_usage_error(pytester, args, message)


def test_limits_cross_only_in_the_worse_direction_and_past_noise() -> None:
    p95 = Limit("p95", 20, "%")
    assert p95.crossed(100, 121)
    assert not p95.crossed(100, 120)
    assert not p95.crossed(100, 50)  # faster is never a regression
    assert not p95.crossed(2.3, 7.2)  # +213%, but under the 5 ms noise floor
    assert p95.crossed(2.3, 7.3)
    assert p95.crossed(0.0, 5.0)  # from exactly zero: any rise past the floor
    assert Limit("p95", 1, "ms").crossed(2.0, 3.1)  # an explicit ms limit is its own floor
    rps = Limit("rps", 15, "%")
    assert rps.crossed(100, 84)
    assert not rps.crossed(100, 86)
    assert not rps.crossed(100, 300)
    errors = Limit("error_rate", 0.5, "pp")
    assert errors.crossed(0.0, 0.006)
    assert not errors.crossed(0.0, 0.004)
    assert Limit("p99", 50, "ms").crossed(100, 151)
    assert not Limit("p99", 50, "ms").crossed(100, 149)


def test_shape_key() -> None:
    assert shape_key("smoke", 2, 1.0) == "smoke/2vus"
    assert shape_key("soak", 10, 0.02) == "soak/10vus/x0.02"


# --- the baseline and the comparison ------------------------------------------------------


def test_baseline_is_the_median_of_the_last_runs() -> None:
    old = [record(i, p95=1000.0) for i in range(3)]  # older than the last five: ignored
    recent = [record(10 + i, p95=v) for i, v in enumerate([10.0, 50.0, 12.0, 11.0, 13.0])]
    assert baseline_of(old + recent) == {"": {"p95": 12.0}}
    assert BASELINE_RUNS == 5


def test_compare_passes_and_regresses_with_a_table() -> None:
    limits = parse_regression("p95:+20%, rps:-15%, error_rate:+0.5pp")
    records = [record(1_700_000_000 + i, p95=100.0, rps=40.0, error_rate=0.0) for i in range(3)]
    assert compare({"": {"p95": 1.0}}, [], limits) is None
    ok = compare({"": {"p95": 110.0, "rps": 39.0, "error_rate": 0.0}}, records, limits)
    assert ok is not None
    assert ok.regressions == []
    assert ok.runs == 3
    now = {"": {"p95": 250.0, "rps": 16.0, "error_rate": 0.0}, "name:/new": {"p95": 1.0}}
    bad = compare(now, records, limits)
    assert bad is not None
    assert [r.limit.metric for r in bad.regressions] == ["p95", "rps"]
    table = format_comparison(bad, "smoke/2vus/x0.02").splitlines()
    assert table[0].startswith(
        "load baseline: regression against the median of the last 3 passing run(s) of "
        "smoke/2vus/x0.02 (last recorded "
    )
    assert table[2:6] == [
        "metric      baseline  now    change   limit   result",
        "p95 ms      100.0     250.0  +150.0%  +20%    REGRESSION",
        "req/s       40.0      16.0   -60.0%   -15%    REGRESSION",
        "error rate  0.00%     0.00%  +0.0pp   +0.5pp  ok",
    ]
    assert table[-1] == (
        "accept the new numbers with --load-baseline=update; limits: ini load_regression"
    )


def test_groups_are_compared_by_name() -> None:
    limits = parse_regression("p95:+20%")
    records = [{"at": 1.0, "groups": {"": {"p95": 10.0}, "name:/slow": {"p95": 10.0}}}]
    bad = compare({"": {"p95": 10.0}, "name:/slow": {"p95": 160.0}}, records, limits)
    assert bad is not None
    assert [(r.group, r.regressed) for r in bad.rows] == [("", False), ("name:/slow", True)]
    assert "p95 ms {name:/slow}  10.0      160.0" in format_comparison(bad, "s")


def test_groups_with_few_requests_are_not_compared() -> None:
    limits = parse_regression("p95:+20%")
    records = [{"at": 1.0, "groups": {"": {"p95": 10.0, "requests": 500},
                                      "name:/rare": {"p95": 10.0, "requests": 3}}}]  # fmt: skip
    now = {"": {"p95": 10.0, "requests": 49}, "name:/rare": {"p95": 900.0, "requests": 400}}
    result = compare(now, records, limits)
    assert result is not None
    assert result.rows == ()
    assert result.few == ("", "name:/rare")
    now[""]["requests"] = 50
    result = compare(now, records, limits)
    assert result is not None
    assert [r.group for r in result.rows] == [""]
    assert MIN_REQUESTS == 50


@given(
    st.lists(st.floats(1, 1e4), min_size=1, max_size=12),
    st.floats(0, 100),
)
def test_a_run_equal_to_its_baseline_never_regresses(values: list[float], pct: float) -> None:
    records = [record(i, p95=v, rps=v) for i, v in enumerate(values)]
    base = baseline_of(records)[""]
    limits = (Limit("p95", pct, "%"), Limit("rps", pct, "%"))
    result = compare({"": dict(base)}, records, limits)
    assert result is not None
    assert result.regressions == []


# --- key results from the engines ---------------------------------------------------------


def test_k6_groups_take_the_run_and_each_tagged_submetric() -> None:
    def trend(med: float, p95: float) -> Exported:
        return Exported.from_summary(
            {"avg": med, "med": med, "p(95)": p95, "p(99)": p95, "count": 10}
        )

    metrics = {
        "http_req_duration": trend(5, 9),
        "http_req_duration{name:/slow}": trend(150, 160),
        "http_reqs": Exported.from_summary({"count": 20, "rate": 10.0}),
        "http_req_failed": Exported.from_summary({"passes": 1, "fails": 19, "value": 0.05}),
        "iterations": Exported.from_summary({"count": 20, "rate": 10.0}),
        "http_req_duration{expected_response:true}": trend(5, 9),
    }
    groups = k6_groups(metrics)
    assert groups == {
        "": {
            "p50": 5,
            "p95": 9,
            "p99": 9,
            "avg": 5,
            "rps": 10.0,
            "requests": 20,
            "error_rate": 0.05,
        },
        "name:/slow": {"p50": 150, "p95": 160, "p99": 160, "avg": 150},
    }


def test_locust_groups_per_name() -> None:
    entries = [
        {"name": "/a", "method": "GET", "num_requests": 4, "num_failures": 1,
         "total_response_time": 40, "response_times": {"10": 4}},
        {"name": "/b", "method": "POST", "num_requests": 2, "num_failures": 0,
         "total_response_time": 400, "response_times": {"200": 2}},
    ]  # fmt: skip
    groups = locust_groups(entries, 2.0)
    assert groups["name:/a"] == {
        "p50": 10, "p95": 10, "p99": 10, "avg": 10, "rps": 2.0, "requests": 4,
        "error_rate": 0.25,
    }  # fmt: skip
    assert groups[""]["rps"] == 3.0
    assert groups[""]["error_rate"] == pytest.approx(1 / 6, abs=1e-4)
    assert locust_groups([], 1.0) == {}


# --- the store ----------------------------------------------------------------------------


def test_merge_keeps_the_last_runs_and_update_replaces() -> None:
    store = merge_records({}, [("t::a", "smoke/1vus", record(i, p95=i), False) for i in range(30)])
    assert [r["at"] for r in store["t::a"]["smoke/1vus"]] == list(range(30 - KEPT_RUNS, 30))
    replaced = merge_records(store, [("t::a", "smoke/1vus", record(99, p95=1), True)])
    assert replaced["t::a"]["smoke/1vus"] == [record(99.0, p95=1.0)]
    assert len(store["t::a"]["smoke/1vus"]) == KEPT_RUNS  # the input is not changed


def test_hostile_store_values_are_dropped(tmp_path: Path) -> None:
    value = {
        "version": 1,
        "items": {
            "ok": {"s": [record(1, p95=2), {"at": "x"}, {"at": 1, "groups": {"": {"p95": "x"}}}]},
            "bad": ["not", "a", "dict"],
            "nan": {"s": [{"at": 1, "groups": {"": {"p95": float("nan"), "bogus": 3}}}]},
        },
    }
    assert parse_store(value) == {"ok": {"s": [record(1.0, p95=2.0)]}}
    assert parse_store({"version": 99, "items": {}}) == {}
    path = tmp_path / "b.json"
    path.write_text("{not json")
    store, problem = read_file(path)
    assert store == {}
    assert problem == f"{path} is not valid JSON; it is ignored and rewritten"
    assert merge_into_file(path, [("t", "s", record(5, p95=1), False)]) is None
    assert read_file(path) == ({"t": {"s": [record(5.0, p95=1.0)]}}, None)


def test_unwritable_store_is_a_message(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    problem = merge_into_file(blocker / "b.json", [("t", "s", record(1, p95=1), False)])
    assert problem is not None
    assert problem.startswith(f"could not write the load baselines to {blocker / 'b.json'}:")


WRITER = """\
import sys
from pathlib import Path
from pytest_tempo.load.baseline import merge_into_file

path, name = Path(sys.argv[1]), sys.argv[2]
for i in range(40):
    rec = {"at": float(i), "groups": {"": {"p95": float(i)}}}
    assert merge_into_file(path, [(name + str(i), "s", rec, False)]) is None
"""


def test_two_processes_writing_at_once_keep_every_record(tmp_path: Path) -> None:
    """Two real processes read-merge-write one store 40 times each at the same time."""
    store = tmp_path / "baselines.json"
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(WRITER))
    procs = [
        subprocess.Popen([sys.executable, str(script), str(store), name]) for name in ("a", "b")
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    items = json.loads(store.read_text())["items"]
    assert sorted(items) == sorted(f"{n}{i}" for n in "ab" for i in range(40))
    assert not (tmp_path / "baselines.json.lock").exists()
