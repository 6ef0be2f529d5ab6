"""The durations store's version 2: one string per test, checked when read, folded as text."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_tempo import durations_io
from pytest_tempo.cli import main
from pytest_tempo.durations import (
    KEEP,
    Entries,
    Record,
    Snapshot,
    Store,
    fold_records,
    merge_stores,
    parse_document,
    recorded_calls,
    round_seconds,
)
from pytest_tempo.durations_entry import check_text, decode_entry, seconds_text
from pytest_tempo.durations_io import decode, encode, load_file
from pytest_tempo.jsonfile import compact_json, write_atomic

from .conftest import read_store, xdist_params

if TYPE_CHECKING:
    from collections.abc import Iterable

SHOWN = ".pytest_cache/v/tempo/durations"
GOOD = "1750000000.123|0.0012,0.0011|0.1234,0.1201|0.0003,0.0002|0,0|slow"


def v2(tests: object) -> dict[str, object]:
    return {"version": 2, "tests": tests}


def test_an_entry_reads_as_the_phases_it_holds() -> None:
    assert decode_entry(GOOD) == {
        "at": [1750000000.123],
        "setup": [0.0012, 0.0011],
        "call": [0.1234, 0.1201],
        "teardown": [0.0003, 0.0002],
        "shared": [0.0, 0.0],
        "marks": ["slow"],
    }
    assert decode_entry("||1|||") == {"call": [1.0], "marks": []}
    assert decode_entry("||1||") == {"call": [1.0]}  # no sixth field: no marks recorded
    assert decode_entry("||1,2,3,4,5,6,7||") == {"call": [3.0, 4.0, 5.0, 6.0, 7.0]}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (1.5, "entry for 'a' is not a string"),
        ({"call": [1.0]}, "entry for 'a' is not a string"),
        ("1|2|3", "entry for 'a' has 3 fields, not 5 or 6"),
        ("|||||slow|x", "entry for 'a' has 7 fields, not 5 or 6"),
        ("-1|||||", "entry for 'a' has a bad stamp"),
        ("1e400|||||", "entry for 'a' has a bad stamp"),
        ("1" * 13 + "|||||", "entry for 'a' has a bad stamp"),
        ("now|||||", "entry for 'a' has a bad stamp"),
        ("1|||||lunch", "entry for 'a' has bad marks"),
        ("1|||||slow,", "entry for 'a' has bad marks"),
        ("1||-1|||", "entry for 'a' has values that are not seconds"),
        ("1||nan|||", "entry for 'a' has values that are not seconds"),
        ("1||inf|||", "entry for 'a' has values that are not seconds"),
        ("1||1e400|||", "entry for 'a' has values that are not seconds"),
        ("1||1 |||", "entry for 'a' has values that are not seconds"),
        ("1||\u0661|||", "entry for 'a' has values that are not seconds"),  # Arabic-Indic 1
    ],
    ids=["float", "object", "three-fields", "seven-fields", "negative-stamp", "exponent-stamp",
         "huge-stamp", "text-stamp", "unknown-mark", "empty-mark", "negative", "nan", "inf",
         "exponent", "space", "other-digits"],
)  # fmt: skip
def test_foreign_entries_are_refused_when_read(text: object, problem: str) -> None:
    parsed = parse_document(v2({"ok": "||1||", "a": text}))
    assert dict(parsed.store) == {"ok": {"call": [1.0]}}
    assert (parsed.problem, parsed.fresh) == (problem, False)


@pytest.mark.parametrize(
    "series", ["1.2.3", "1,,2", ",1", "1,", ".", "1000001", "9" * 400], ids=[
        "two-points", "empty-value", "leading-comma", "trailing-comma", "point", "over-a-million",
        "overflows"])  # fmt: skip
def test_values_that_are_not_seconds_are_dropped_when_their_series_is_read(series: str) -> None:
    """What the one pass on reading lets through is found by whoever reads the series: the
    entry is dropped and counted, and the store says so."""
    for read in (recorded_calls, Snapshot.of, lambda s: s.get("a"), dict, Store.checked):
        store = parse_document(v2({"ok": "1|0.5|0.5|0||", "a": f"1|0.5|{series}|0||"})).store
        assert store.problem() is None
        read(store)
        assert list(store) == ["ok"]
        assert store.problem() == "entry for 'a' has values that are not seconds"
    store = parse_document(v2({"a": f"1|{series}|0.5|||"})).store
    assert recorded_calls(store) == {"a": 0.5}  # the calls do not read the setups
    assert Snapshot.of(store) == Snapshot()
    assert store.bad == 1


@given(st.text(alphabet="0123456789.,|e-slowmkn", max_size=40))
def test_whatever_passes_the_check_reads_as_seconds_or_is_dropped(text: str) -> None:
    if check_text("a", text) is not None:
        return
    try:
        entry = decode_entry(text)
    except ValueError:
        return
    for key, values in entry.items():
        if key == "marks":
            assert set(values) <= {"slow", "smoke"}
        else:
            assert all(0 <= v <= (1e12 if key == "at" else 1e6) for v in values)
            assert len(values) <= (1 if key == "at" else KEEP)


@given(st.floats(0, 1e6))
def test_seconds_are_written_as_rounded(value: float) -> None:
    text = seconds_text(value)
    assert float(text) == round_seconds(value)
    assert check_text("a", f"|{text}||||") is None
    assert "e" not in text


def reference_fold(store: Entries, records: Iterable[Record], now: float) -> Entries:
    """The fold of version 1, on lists: what the text's fold must give, value for value."""
    for nodeid, at, setup, call, teardown, shared, marks in records:
        entry = store.setdefault(nodeid, {})
        at = round(now, 3) if at is None else at
        before = entry.get("at")
        entry["at"] = [at if not before or at > before[0] else before[0]]
        for phase, seconds in (("setup", setup), ("call", call), ("teardown", teardown)):
            if seconds is not None:
                entry[phase] = [*entry.get(phase, []), round_seconds(seconds)][-KEEP:]
        if setup is not None:
            entry["shared"] = [*entry.get("shared", []), round_seconds(shared or 0.0)][-KEEP:]
            entry["marks"] = list(marks or ())
    return store


SECONDS = st.none() | st.floats(0, 20) | st.floats(0, 0.01)  # under 10 ms: looked up
RECORDS = st.lists(
    st.tuples(st.sampled_from("abc"), st.none() | st.sampled_from([1e9, 2e9, 1.5e9]), SECONDS,
              SECONDS, SECONDS, st.floats(0, 2), st.sampled_from([(), ("slow",), ("smoke",)])),
    max_size=30,
)  # fmt: skip


@given(RECORDS, RECORDS)
def test_the_fold_of_text_keeps_what_the_fold_of_lists_kept(
    first: list[Record], second: list[Record]
) -> None:
    """Runs folded one after another, through the file between them: the same seconds,
    stamps and markers as version 1 kept, and the text of entries not measured untouched."""
    store, expected = Store(), cast("Entries", {})
    for run, now in ((first, 1.2e9), (second, 1.7e9)):
        texts_before = dict(store.texts)
        fold_records(store, run, now)
        reference_fold(expected, run, now)
        store = decode(encode(store, [])).store
        assert dict(store) == expected
        for nodeid, text in texts_before.items():
            if nodeid not in {record[0] for record in run}:
                assert store.texts[nodeid] == text


@given(st.dictionaries(st.sampled_from("abcdef"), st.lists(st.floats(0, 30), min_size=1,
                                                             max_size=KEEP)),
       st.sampled_from([0.0, 0.001, 0.05, 0.1, 1.0]))  # fmt: skip
def test_calls_under_the_floor_may_be_left_out(calls: dict[str, list[float]], floor: float) -> None:
    store = Store.of({n: {"call": [round_seconds(v) for v in c]} for n, c in calls.items()})
    every = recorded_calls(store)
    some = recorded_calls(store, floor)
    assert every == Snapshot.of(store).calls
    assert some.items() <= every.items()
    for nodeid in every.keys() - some.keys():
        assert max(store[nodeid]["call"]) < floor


def test_version_1_is_read_and_written_as_version_2() -> None:
    old = {"version": 1, "folded": ["1-a"], "plan": 3, "tests": {
        "t::a": {"at": [1.5e9], "call": [0.25, 1, 1e-7], "setup": [], "marks": ["smoke"]},
        "t::b": {"teardown": [0.123456789]}}}  # fmt: skip
    parsed = parse_document(old)
    assert parsed.problem is None
    assert dict(parsed.store) == {
        "t::a": {"at": [1.5e9], "call": [0.25, 1.0, 1e-7], "marks": ["smoke"]},
        "t::b": {"teardown": [0.123456789]},
    }
    text = encode(parsed.store, parsed.folded, extra=parsed.extra)
    value = json.loads(text)
    assert value["version"] == 2
    assert value["tests"] == {  # every value exact: short where that reads back the same
        "t::a": "1500000000.000||0.2500,1.000,0.0000001|||smoke",
        "t::b": "|||0.123456789|",
    }
    assert all(type(entry) is str for entry in value["tests"].values())
    assert decode(text) == parsed


def test_shards_merge_copies_the_newest_text() -> None:
    one = Store({"a": "200.000|1|2|3|0|", "b": "100.000||5||"})
    two = Store({"a": "100.000|9|9|9|0|", "b": "300.000||6||"})
    for stores in ([one, two], [two, one]):
        assert merge_stores(stores).texts == {"a": "200.000|1|2|3|0|", "b": "300.000||6||"}


def test_merge_reads_both_versions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"version": 1, "tests": {"a": {"call": [1.0], "at": [5.0]}}}))
    new = tmp_path / "new.json"
    new.write_text(json.dumps(v2({"a": "6.000||2||", "b": "1.000||3||"})))
    out = tmp_path / "merged.json"
    assert main(["merge", "-o", str(out), str(old), str(new)]) == 0
    assert "2 tests from 2 stores" in capsys.readouterr().out
    assert load_file(out) == {"a": {"at": [6.0], "call": [2.0]}, "b": {"at": [1.0], "call": [3.0]}}
    assert read_store(out)["tests"]["a"] == {"at": [6.0], "call": [2.0]}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(v2({"a": "1||1.2.3|||"})))
    assert main(["merge", "-o", str(out), str(bad)]) == 2
    assert "has bad entries: entry for 'a' has values that are not seconds" in (
        capsys.readouterr().err
    )


def seed(pytester: pytest.Pytester, tests: dict[str, Any]) -> None:
    path = pytester.path.joinpath(SHOWN)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(v2(tests)))


@xdist_params
def test_a_bad_call_found_while_ordering_is_one_line_then_clean(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    """A call that is not seconds passes the check on reading and is found when the order
    reads the calls: one line, the entry dropped, the store rewritten clean."""
    pytester.makepyfile(test_a="def test_1(): pass\ndef test_2(): pass\n")
    seed(pytester, {"test_a.py::test_1": "1.000||0.25,5.5.5|||", "gone::x": "1.000||1|||"})
    result = pytester.runpytest("-p", "no:randomly", *xdist_args)
    result.assert_outcomes(passed=2)
    lines = [line for line in result.outlines if line.startswith("tempo:")]
    assert lines == [
        f"tempo: the durations store {SHOWN} had bad entries (entry for 'test_a.py::test_1' "
        "has values that are not seconds); dropped them"
    ]
    tests = read_store(pytester.path.joinpath(SHOWN))["tests"]
    assert len(tests["test_a.py::test_1"]["call"]) == 1  # a fresh entry: this run's call
    assert set(tests) == {"test_a.py::test_1", "test_a.py::test_2"}
    again = pytester.runpytest("-p", "no:randomly")
    assert [line for line in again.outlines if line.startswith("tempo:")] == []


def test_a_store_holds_one_string_per_test() -> None:
    """Full entries (KEEP runs and one more): one string each, the oldest values dropped."""
    store = Store()
    run = [(f"t::{i}", None, 0.001, 0.002, 0.0003, 0.0, ()) for i in range(10_000)]
    for _ in range(KEEP + 1):
        fold_records(store, run, 1.8e9)
    assert all(type(text) is str for text in store.texts.values())
    assert (
        store.texts["t::0"]
        == "1800000000.000|"
        + "|".join([",".join([v] * KEEP) for v in ("0.001000", "0.002000", "0.000300", "0")])
        + "|"
    )


_TEXT = st.text(max_size=12)


@settings(max_examples=150, deadline=None)
@given(
    head=st.dictionaries(
        st.sampled_from(["version", "folded", "x", "\u00fc"]), st.integers() | _TEXT
    ),
    entries=st.dictionaries(_TEXT, _TEXT, max_size=30),
    piece=st.integers(1, 8),
)
def test_compact_json_writes_what_json_dumps_does(
    head: dict[str, Any], entries: dict[str, str], piece: int
) -> None:
    """The store and the outcome history are written a slice of tests at a time; the text
    is json.dumps' own, whatever the strings hold."""
    parts = list(compact_json(head, "tests", entries, piece))
    assert "".join(parts) == json.dumps({**head, "tests": entries}, separators=(",", ":"))
    assert len(parts) == 2 + -(-len(entries) // piece)  # the start, one per slice, the end


@settings(max_examples=30, deadline=None)
@given(calls=st.dictionaries(_TEXT, st.lists(st.floats(0, 30), min_size=1, max_size=3)))
def test_the_store_written_in_pieces_is_the_store_written_whole(
    calls: dict[str, list[float]],
) -> None:
    store = Store.of({n: {"call": [round_seconds(v) for v in c]} for n, c in calls.items()})
    for readable in (False, True):
        whole = "".join(durations_io.encode_parts(store, ["run"], readable))
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(durations_io, "PIECE", 2)
            pieces = list(durations_io.encode_parts(store, ["run"], readable))
        assert "".join(pieces) == whole
        if calls:  # the start, one piece per two tests, the end
            assert len(pieces) == 2 + -(-len(calls) // 2)
        assert decode(whole).store.texts == store.texts
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "store.json"
            write_atomic(path, iter(pieces))
            assert path.read_text(encoding="utf-8") == whole
            assert [p.name for p in Path(folder).iterdir()] == ["store.json"]


@given(st.lists(st.floats(0, 2e6, allow_nan=False), min_size=1, max_size=7))
def test_median_text_is_the_median_of_the_series_values(values: list[float]) -> None:
    """The store's readers take each series' median straight off its text: the median of
    its last KEEP values, and ValueError for a value past what a store may hold."""
    from pytest_tempo.durations_entry import median, median_text, series_values

    series = ",".join(f"{v:.6f}" for v in values)
    try:
        expected = median(series_values(series))
    except ValueError:
        with pytest.raises(ValueError, match=r"^[0-9.,]+$"):
            median_text(series)
    else:
        assert median_text(series) == expected
