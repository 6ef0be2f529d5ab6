from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tempo.durations import (
    KEEP,
    Entries,
    Measured,
    Parsed,
    Snapshot,
    estimate,
    estimate_total,
    fold,
    merge,
    merge_stores,
    parse_document,
    parse_store,
    round_seconds,
)
from pytest_tempo.durations_io import Location, decode, encode, open_store
from pytest_tempo.durations_journal import check_record, from_record, to_record
from pytest_tempo.durations_record import Recorder, journal_line

if TYPE_CHECKING:
    from pathlib import Path


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
        (good({"a": {"call": [math.inf]}}), "entry for 'a' has values that are not seconds"),
        (good({"a": {"call": [10**400]}}), "entry for 'a' has values that are not seconds"),
        (good({"a": {"call": [2e6]}}), "entry for 'a' has values that are not seconds"),
        (good({"a": {"call": [[[1.0]]]}}), "entry for 'a' has values that are not seconds"),
        (good({"a": {"marks": [{"x": 1}]}}), "entry for 'a' has bad marks"),
        (good({"a": {"at": [10**400]}}), "entry for 'a' has a bad stamp"),
        ({"version": [[1]], "tests": {}}, "unknown version list"),
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
        "infinite-seconds",
        "huge-integer",
        "over-a-million-seconds",
        "nested-lists",
        "mark-object",
        "huge-stamp",
        "version-list",
    ],
)
def test_parse_store_rejects_foreign_shapes(value: object, problem: str) -> None:
    assert parse_store(value) == ({}, problem)


def test_missing_store_is_empty_without_a_problem() -> None:
    assert parse_store(None) == ({}, None)


def test_bad_entries_are_dropped_and_counted_good_ones_kept() -> None:
    value = good({"ok": {"call": [1.0]}, "a": {"call": [-1]}, "b": [1], "c": {"at": "now"}})
    parsed = parse_document(value)
    assert parsed.store == {"ok": {"call": [1.0]}}
    assert not parsed.fresh
    assert (
        parsed.problem == "3 bad entries, the first: entry for 'a' has values that are not seconds"
    )


SCALARS = st.none() | st.booleans() | st.floats() | st.integers() | st.text()


@given(st.recursive(SCALARS, lambda c: st.lists(c) | st.dictionaries(st.text(), c),
                    max_leaves=10))  # fmt: skip
def test_parse_store_never_raises(value: object) -> None:
    parsed = parse_document({"version": 1, "tests": value}) if isinstance(value, dict) else None
    store, problem = parse_store(value)
    assert problem is None or store == {} or (parsed is not None and not parsed.fresh)
    for entry in store.values():  # whatever is kept is usable seconds
        for key, values in entry.items():
            if key != "marks":
                assert all(type(v) in (int, float) and 0 <= v <= 1e11 for v in values)


@pytest.mark.parametrize(
    ("value", "rounded"),
    [(0.0, 0.0), (1.234567, 1.235), (0.000123456, 0.000123), (0.0000004, 0.0), (12345.67, 12350.0)],
    ids=["zero", "seconds", "sub-millisecond", "under-a-microsecond", "hours"],
)
def test_round_seconds(value: float, rounded: float) -> None:
    assert round_seconds(value) == rounded


@given(st.floats(0, 1e6))
def test_round_seconds_keeps_four_digits_and_is_stable(value: float) -> None:
    """Rounded by float arithmetic under 10 s: within half a unit of the kept digits (and a
    hair for the float arithmetic), and rounding again changes nothing."""
    rounded = round_seconds(value)
    digits = 6 if value < 0.01 else 3 - math.floor(math.log10(value))
    assert abs(rounded - value) <= 0.5 * 10.0 ** -min(digits, 6) * (1 + 1e-9) + 1e-15
    assert round_seconds(rounded) == rounded


@given(st.text(min_size=1), st.floats(0, 4e9), st.floats(0, 1e5), st.floats(0, 1e5),
       st.floats(0, 1e5), st.lists(st.sampled_from(["smoke", "slow"]), max_size=2))  # fmt: skip
def test_journal_lines_keep_the_microsecond(
    nodeid: str, at: float, setup: float, call: float, shared: float, marks: list[str]
) -> None:
    """The writer thread's lines read back as the same record, to the microsecond."""
    line = journal_line((nodeid, at, setup, call, None, shared, marks), now=0.0)
    record = check_record(json.loads(line))
    assert record is not None
    assert record[0] == nodeid
    assert record[1] == pytest.approx(at, abs=1e-3)
    assert record[2:6] == pytest.approx((setup, call, None, shared), abs=1e-6)
    assert record[6] == marks


@given(st.text(min_size=1), st.floats(0, 4e9), st.floats(0, 1e5),
       st.none() | st.floats(0, 1e5), st.floats(0, 1e5), st.floats(0, 1e5))  # fmt: skip
def test_a_journal_line_with_every_phase_is_written_as_any_other(
    nodeid: str, at: float, setup: float, call: float | None, teardown: float, shared: float
) -> None:
    """Every test's line is formatted at once; the text is the one each value formatted
    alone gives."""
    encode = json.encoder.encode_basestring_ascii
    shown = "null" if call is None else f"{call:.6f}"
    expected = (
        f'[{encode(nodeid)},{at:.3f},{setup:.6f},{shown},{teardown:.6f},{shared:.6f},["slow"]]'
    )
    assert journal_line((nodeid, at, setup, call, teardown, shared, ["slow"]), now=0.0) == expected


@given(
    st.text(min_size=1),
    st.builds(
        Measured,
        st.floats(0, 1e5),
        st.floats(0, 1e5),
        st.floats(0, 1e5),
        st.sets(st.sampled_from(["setup", "call", "teardown"])),
        st.floats(0, 1e5),
        st.lists(st.sampled_from(["smoke", "slow"]), max_size=2).map(tuple),
        st.floats(0, 4e9),
    ),
)
def test_journal_records_round_trip(nodeid: str, measured: Measured) -> None:
    record = from_record(json.loads(json.dumps(to_record(nodeid, measured))))
    assert record is not None
    assert record[0] == nodeid
    assert fold({}, [record]) == fold({}, [(nodeid, measured)])


@pytest.mark.parametrize(
    "line",
    [None, [], ["a", 1.0, 0.1, 0.1, 0.1, 0.0, None], ["a", -1, None, 1, None, None, None],
     ["a", 1.0, None, math.inf, None, None, None], [1, 1.0, None, 1.0, None, None, None],
     ["a", 1.0, 0.1, None, None, 0.0, ["lunch"]]],
    ids=["null", "empty", "marks-null", "negative-stamp", "infinite-call", "nodeid-int", "mark"],
)  # fmt: skip
def test_journal_refuses_bad_lines(line: object) -> None:
    assert from_record(line) is None


CALLS = st.fixed_dictionaries({"call": st.lists(st.floats(0, 1e3), max_size=KEEP)})


@given(st.dictionaries(st.text(), CALLS, max_size=6), st.lists(st.text(), max_size=3))
def test_readable_store_one_test_per_line(store: Entries, folded: list[str]) -> None:
    store = {n: {"call": [float(v) for v in e["call"]]} for n, e in store.items()}
    text = encode(store, folded, readable=True)
    # A series never recorded and an empty one are one and the same: an empty field.
    kept = {n: {k: v for k, v in e.items() if v} for n, e in store.items()}
    assert decode(text) == Parsed(kept, folded)  # type: ignore[arg-type]
    lines = text.splitlines()
    assert len(lines) == 2 + len(store) + (1 if store else 0)
    per_line = [json.loads("{" + line.rstrip(",") + "}") for line in lines[2 : 2 + len(store)]]
    assert [next(iter(d)) for d in per_line] == sorted(store)  # one test a line, sorted
    assert decode(encode(store, folded)) == Parsed(kept, folded)  # type: ignore[arg-type]


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
            assert entry["call"][-1] == round_seconds(run[nodeid])


def test_merge_stores_joins_recent_values() -> None:
    one: Entries = {"a": {"call": [1.0, 2.0], "marks": ["slow"]}, "b": {"call": [5.0]}}
    two: Entries = {"a": {"call": [3.0] * KEEP, "marks": []}, "c": {"setup": [0.1]}}
    merged = merge_stores([one, two])
    assert merged["a"] == {"call": [3.0] * KEEP, "marks": []}
    assert merged["b"] == {"call": [5.0]}
    assert merged["c"] == {"setup": [0.1]}
    assert merge_stores([one]) == one


def test_merge_stores_of_shards_restored_from_one_cache() -> None:
    """Each shard carries the earlier entries of the tests it did not run: per test, the
    entry measured last wins, whatever the order of the stores."""
    baseline: Entries = {
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
    old: Entries = {"a": {"call": [9.0]}}
    new: Entries = {"a": {"call": [1.0], "at": [1.0]}}
    assert merge_stores([old, new])["a"] == new["a"]
    assert merge_stores([new, old])["a"] == new["a"]


@pytest.mark.parametrize(
    "stamp", [[], [1.0, 2.0], ["now"], [-1.0]], ids=["empty", "two", "text", "negative"]
)
def test_parse_store_refuses_bad_stamps(stamp: list[object]) -> None:
    store, problem = parse_store({"version": 1, "tests": {"a": {"call": [1.0], "at": stamp}}})
    assert (store, problem) == ({}, "entry for 'a' has a bad stamp")


def test_other_top_level_keys_survive(tmp_path: Path) -> None:
    """Records other features keep in the store document outlive every update."""
    location = Location.of_file(tmp_path / "store.json")
    location.path.write_text(json.dumps({"version": 1, "tests": {}, "plan": {"n": 4}}))
    recorder = Recorder(location, open_store(location))
    recorder.extra["run"] = {"k": 1}
    measured = Measured(call=1.0, phases={"call"}, at=5.0)
    assert recorder.finish({"t::a": measured}, None) == []
    parsed = open_store(location)[0]
    assert parsed.extra == {"plan": {"n": 4}, "run": {"k": 1}}
    assert parsed.store == {"t::a": {"at": [5.0], "call": [1.0]}}
    assert decode(encode({}, [], extra={"tests": 1, "x": 2})).extra == {"x": 2}
