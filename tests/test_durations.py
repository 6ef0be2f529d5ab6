from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tempo.cli import main
from pytest_tempo.durations import (
    KEEP,
    Measured,
    Snapshot,
    Store,
    estimate,
    estimate_total,
    load_file,
    merge,
    merge_stores,
    parse_store,
)


def good(tests: object) -> dict[str, object]:
    return {"version": 1, "tests": tests}


def test_parse_store_accepts_its_own_shape() -> None:
    store, problem = parse_store(good({"a::t": {"call": [1, 2.5], "setup": [0.0]}}))
    assert problem is None
    assert store == {"a::t": {"call": [1.0, 2.5], "setup": [0.0]}}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ([1, 2], "expected an object, found list"),
        ({"tests": {}}, "unknown version None"),
        (good([]), "'tests' is not an object"),
        (good({"a": 1}), "entry for 'a' is not an object"),
        (good({"a": {"call": "1"}}), "entry for 'a' has a bad phase 'call'"),
        (good({"a": {"lunch": [1]}}), "entry for 'a' has a bad phase 'lunch'"),
        (good({"a": {"call": [-1]}}), "entry for 'a' has values that are not seconds"),
        (good({"a": {"call": [True]}}), "entry for 'a' has values that are not seconds"),
        (good({"a": {"call": [1.0, math.nan]}}), "entry for 'a' has values that are not seconds"),
        (good({"a": {"call": [1, None]}}), "entry for 'a' has values that are not seconds"),
    ],
    ids=[
        "list",
        "no-version",
        "tests-list",
        "entry-int",
        "phase-text",
        "unknown-phase",
        "negative-seconds",
        "bool-seconds",
        "nan-seconds",
        "null-seconds",
    ],
)
def test_parse_store_rejects_foreign_shapes(value: object, problem: str) -> None:
    assert parse_store(value) == ({}, problem)


def test_missing_store_is_empty_without_a_problem() -> None:
    assert parse_store(None) == ({}, None)


@given(st.recursive(st.none() | st.booleans() | st.floats() | st.text(), lambda c: st.lists(c)
                    | st.dictionaries(st.text(), c), max_leaves=10))  # fmt: skip
def test_parse_store_never_raises(value: object) -> None:
    store, problem = parse_store(value)
    assert problem is None or store == {}


def test_merge_appends_keeps_recent_and_other_tests() -> None:
    old = {"a": {"call": [float(n) for n in range(KEEP)]}, "b": {"call": [1.0]}}
    new = merge(old, {"a": Measured(0.1, 9.0, 0.2, {"setup", "call", "teardown"})})
    assert new["a"]["call"] == [*range(1, KEEP), 9.0]
    assert new["a"]["setup"] == [0.1]
    assert new["b"] == {"call": [1.0]}
    assert old["a"]["call"][0] == 0.0  # the input is not changed


def test_merge_stamps_the_tests_it_measured() -> None:
    old = {"a": {"call": [1.0], "at": [5.0]}, "b": {"call": [1.0], "at": [5.0]}}
    new = merge(old, {"a": Measured(call=2.0, phases={"call"})}, now=9.0)
    assert new["a"] == {"call": [1.0, 2.0], "at": [9.0]}
    assert new["b"]["at"] == [5.0]


def test_merge_skips_phases_that_did_not_run() -> None:
    new = merge({}, {"a": Measured(0.5, 0.0, 0.1, {"setup", "teardown"})})
    assert "call" not in new["a"]


def test_merge_prunes_only_with_a_full_collection() -> None:
    old = {"gone": {"call": [1.0]}, "kept": {"call": [2.0]}}
    assert set(merge(old, {})) == {"gone", "kept"}
    assert set(merge(old, {}, existing=["kept", "new"])) == {"kept"}


def test_estimates_are_medians() -> None:
    entry = {"call": [1.0, 100.0, 2.0], "setup": [0.5], "teardown": [0.25, 0.25]}
    assert estimate(entry) == 2.0
    assert estimate_total(entry) == 2.75
    assert estimate({}) is None
    assert estimate_total({"setup": [1.0]}) is None


def test_snapshot_round_trip() -> None:
    snapshot = Snapshot.of({"a": {"call": [1.0], "setup": [0.5]}, "b": {"setup": [1.0]}})
    assert snapshot.calls == {"a": 1.0}
    assert snapshot.totals == {"a": 1.5}
    assert Snapshot.from_plain(snapshot.to_plain()) == snapshot
    assert Snapshot.from_plain(None) == Snapshot()


@given(
    st.dictionaries(st.sampled_from("abcdef"), st.lists(st.floats(0, 1e3), max_size=8)),
    st.dictionaries(st.sampled_from("abcdef"), st.floats(0, 1e3)),
)
def test_merge_properties(old_calls: dict[str, list[float]], run: dict[str, float]) -> None:
    old = {k: {"call": v} for k, v in old_calls.items()}
    new = merge(old, {k: Measured(call=v, phases={"call"}) for k, v in run.items()})
    assert set(new) == set(old) | set(run)
    for nodeid, entry in new.items():
        assert len(entry.get("call", [])) <= KEEP
        if nodeid in run:
            assert entry["call"][-1] == round(run[nodeid], 6)


def test_merge_stores_joins_recent_values() -> None:
    one: Store = {"a": {"call": [1.0, 2.0], "marks": ["slow"]}, "b": {"call": [5.0]}}
    two: Store = {"a": {"call": [3.0] * KEEP, "marks": []}, "c": {"setup": [0.1]}}
    merged = merge_stores([one, two])
    assert merged["a"] == {"call": [3.0] * KEEP, "marks": []}
    assert merged["b"] == {"call": [5.0]}
    assert merged["c"] == {"setup": [0.1]}
    assert merge_stores([one]) == one


def test_merge_stores_of_shards_restored_from_one_cache() -> None:
    """Each shard carries the earlier entries of the tests it did not run: per test, the
    entry measured last wins, whatever the order of the stores."""
    baseline: Store = {
        "x": {"call": [1.0] * KEEP, "at": [100.0]},
        "y": {"call": [2.0] * KEEP, "at": [100.0]},
        "z": {"call": [3.0], "at": [50.0]},
    }
    shard1 = merge(baseline, {"x": Measured(call=1.5, phases={"call"})}, now=200.0)
    shard2 = merge(baseline, {"y": Measured(call=2.5, phases={"call"})}, now=201.0)
    for order in ([shard1, shard2], [shard2, shard1]):
        merged = merge_stores(order)
        assert merged["x"] == {"call": [*[1.0] * (KEEP - 1), 1.5], "at": [200.0]}
        assert merged["y"] == {"call": [*[2.0] * (KEEP - 1), 2.5], "at": [201.0]}
        assert merged["z"] == baseline["z"]


def test_merge_stores_prefers_stamped_entries_to_old_ones() -> None:
    old: Store = {"a": {"call": [9.0]}}
    new: Store = {"a": {"call": [1.0], "at": [1.0]}}
    assert merge_stores([old, new])["a"] == new["a"]
    assert merge_stores([new, old])["a"] == new["a"]


@pytest.mark.parametrize(
    "stamp", [[], [1.0, 2.0], ["now"], [-1.0]], ids=["empty", "two", "text", "negative"]
)
def test_parse_store_refuses_bad_stamps(stamp: list[object]) -> None:
    store, problem = parse_store({"version": 1, "tests": {"a": {"call": [1.0], "at": stamp}}})
    assert (store, problem) == ({}, "entry for 'a' has a bad stamp")


def write(path: Path, tests: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 1, "tests": tests}))
    return path


def test_cli_merge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shard1 = write(tmp_path / "s1" / "v" / "tempo" / "durations", {"a": {"call": [1.0]}})
    write(tmp_path / "s2" / "v" / "tempo" / "durations", {"b": {"call": [2.0]}})
    out = tmp_path / "merged"
    assert main(["merge", "-o", str(out), str(shard1), str(tmp_path / "s2")]) == 0
    assert "2 tests from 2 stores" in capsys.readouterr().out
    assert load_file(out) == {"a": {"call": [1.0]}, "b": {"call": [2.0]}}
    # A cache folder as the output writes where pytest reads.
    assert main(["merge", "-o", str(tmp_path / "cache"), str(out)]) == 0
    assert load_file(tmp_path / "cache") == load_file(out)
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("{", "is not valid JSON"),
        ('{"version": 1, "tests": []}', "is not a durations store: 'tests' is not an object"),
    ],
)
def test_cli_merge_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "store"
    if content is not None:
        path.write_text(content)
    assert main(["merge", "-o", str(tmp_path / "out"), str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pytest-tempo merge: ")
    assert message in err
    assert err.count("\n") == 1


def test_cli_is_installed() -> None:
    script = Path(sys.executable).with_name("pytest-tempo")
    result = subprocess.run(
        [str(script), "merge", "--help"], check=True, capture_output=True, text=True
    )
    assert "usage: pytest-tempo merge [-h] -o OUT [--verify] IN [IN ...]" in result.stdout
