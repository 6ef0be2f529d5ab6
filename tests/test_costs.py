from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tempo.costs import (
    FLOOR_MAX,
    FLOOR_MIN,
    HALF_LIFE,
    CostData,
    estimate,
    estimate_costs,
    function_key,
    overhead_floor,
    recency_weights,
    sibling_keys,
    stamps_of,
    weighted_median,
)


@pytest.mark.parametrize(
    ("nodeid", "expected"),
    [
        ("m.py::test_f[1-a]", "m.py::test_f"),
        ("m.py::C::test_f[x::y]", "m.py::C::test_f"),
        ("m.py::test_f", "m.py::test_f"),
        ("m.py", "m.py"),
    ],
    ids=["function", "method-with-colons-in-id", "plain", "module"],
)
def test_function_key(nodeid: str, expected: str) -> None:
    assert function_key(nodeid) == expected


def test_sibling_keys_nearest_first() -> None:
    assert sibling_keys("a/m.py::C::test_f[1]") == ["a/m.py::C::test_f", "a/m.py::C", "a/m.py"]
    assert sibling_keys("m.py::test_f") == ["m.py"]


def test_zero_tests_cost_the_floor_not_nothing() -> None:
    # Most tests of real suites record zero or a few microseconds.
    totals = {f"m.py::t{i}": 0.0 for i in range(80)} | {f"m.py::s{i}": 2.0 for i in range(20)}
    model = estimate(list(totals), CostData(totals))
    assert model.floor == FLOOR_MIN
    assert model.costs[0] == FLOOR_MIN
    assert model.costs[-1] == 2.0 + FLOOR_MIN


def test_floor_is_a_low_percentile_within_bounds() -> None:
    assert overhead_floor({}) == FLOOR_MIN
    assert overhead_floor({f"t{i}": 0.004 for i in range(10)}) == 0.004
    assert overhead_floor({f"t{i}": 5.0 for i in range(10)}) == FLOOR_MAX


def test_unrecorded_tests_take_the_nearest_siblings() -> None:
    totals = {
        "a.py::test_p[1]": 3.0,  # same function
        "a.py::test_p[2]": 5.0,
        "a.py::C::test_m": 0.5,  # same class
        "a.py::test_other": 1.0,  # same module
        "b.py::test_x": 0.0,
    }
    collection = ["a.py::test_p[3]", "a.py::C::test_new", "a.py::test_new", "c.py::test_new"]
    floor = FLOOR_MIN
    model = estimate(collection, CostData(totals))
    mean = (3 + 5 + 0.5 + 1 + 0) / 5 + floor  # the prior: 1.9 s
    assert model.mean == pytest.approx(mean)
    # What the nearest siblings say: their median.
    assert model.nearest == pytest.approx(
        [
            4.0 + floor,  # the function's parametrizations: between 3 and 5
            0.5 + floor,  # the class
            2.0 + floor,  # the module: between 1 and 3
            mean,  # elsewhere: nothing nearer than the whole suite
        ]
    )
    # The estimate: the larger of that and the prior, so a test among cheap siblings
    # counts as a typical test of the suite, never as nothing.
    assert model.costs == pytest.approx([4.0 + floor, mean, 2.0 + floor, mean])
    assert estimate_costs(collection, CostData(totals)) == model.costs


def test_one_slow_sibling_does_not_make_the_family_look_slow() -> None:
    totals = {f"m.py::test_p[{i}]": 0.001 for i in range(9)} | {"m.py::test_p[9]": 30.0}
    totals |= {f"n.py::test_{i}": 0.5 for i in range(90)}
    model = estimate(["m.py::test_p[10]"], CostData(totals))
    mean = model.mean
    assert model.nearest[0] == pytest.approx(0.001 + model.floor)  # the median, not 3 s
    assert model.costs[0] == pytest.approx(mean)  # the prior
    assert mean < 1.0


def test_weighted_median() -> None:
    assert weighted_median([(3.0, 1.0), (5.0, 1.0)]) == 4.0
    assert weighted_median([(1.0, 1.0), (2.0, 1.0), (3.0, 1.0)]) == 2.0
    assert weighted_median([(1.0, 1.0), (9.0, 3.0)]) == 9.0
    assert weighted_median([(1.0, 0.0)]) == 1.0


def test_nothing_recorded_counts_tests() -> None:
    assert estimate_costs(["a", "b"], CostData()) == [1.0, 1.0]


def test_stale_entries_weigh_less_in_the_averages() -> None:
    now = 1_700_000_000.0
    totals = {"m.py::old": 10.0, "m.py::new": 1.0}
    stamps = {"m.py::old": now - 4 * HALF_LIFE, "m.py::new": now}
    weights = recency_weights(stamps, list(totals))
    assert weights == {"m.py::old": 1 / 16, "m.py::new": 1.0}
    model = estimate(["m.py::old", "m.py::new", "m.py::unrecorded"], CostData(totals, stamps))
    floor = model.floor
    assert model.costs[0] == pytest.approx(10.0 + floor)  # a test's own record stays its own
    expected = (10 / 16 + 1) / (1 / 16 + 1) + floor  # near the fresh entry's 1 s
    assert model.costs[2] == pytest.approx(expected)
    assert model.costs[2] < 2.0
    # Without stamps the entries weigh alike.
    assert estimate_costs(["m.py::x"], CostData(totals)) == [pytest.approx(5.5 + floor)]


def test_stamps_of_a_store() -> None:
    store: dict[str, dict[str, Any]] = {
        "a": {"call": [1.0], "at": [5.0]},
        "b": {"call": [1.0]},
        "c": {"at": "bad"},
    }
    assert stamps_of(store) == {"a": 5.0}
    assert stamps_of(None) == {}


NODEIDS = [
    f"m{m}.py::{c}test_{f}{p}"
    for m in range(3)
    for c in ("", "C::")
    for f in range(3)
    for p in ("", "[1]", "[2]")
]
nodeids = st.sampled_from(NODEIDS)


@given(
    st.lists(nodeids, unique=True, max_size=30),
    st.dictionaries(nodeids, st.floats(0, 100, allow_nan=False), max_size=30),
)
def test_cost_model_properties(collection: list[str], totals: dict[str, float]) -> None:
    model = estimate(collection, CostData(totals))
    assert len(model.costs) == len(collection)
    assert estimate(collection, CostData(totals)) == model  # deterministic
    for nodeid, cost, recorded in zip(collection, model.costs, model.recorded, strict=True):
        assert recorded == (nodeid in totals)
        if not totals:
            assert cost == 1.0
            continue
        assert cost >= model.floor >= FLOOR_MIN  # never "no time"
        if recorded:
            assert cost == pytest.approx(totals[nodeid] + model.floor)
        else:  # a median of recorded costs, or their mean: within their range
            low = min(totals.values()) + model.floor
            high = max(totals.values()) + model.floor
            assert low - 1e-9 <= cost <= high + 1e-9
            assert cost >= model.mean - 1e-9  # never below the prior
