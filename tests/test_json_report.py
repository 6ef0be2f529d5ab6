"""The fast writer of ``--slow-report-json`` writes :func:`pytest_tempo.timing.to_json`'s
document: the same keys in the same order, the same values to the microsecond."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tempo.json_report import encode_report
from pytest_tempo.timing import FixtureTiming, TestTiming, summarize, to_json

seconds = st.floats(0, 1e5, allow_nan=False)
names = st.text(min_size=1, max_size=30)  # quotes, backslashes, control and non-ASCII too


@st.composite
def timings(draw: st.DrawFn) -> list[TestTiming]:
    ids = draw(st.lists(names, unique=True, max_size=12))
    result = []
    for nodeid in ids:
        start = draw(st.floats(0, 2e9, allow_nan=False))
        t = TestTiming(nodeid, draw(seconds), draw(seconds), draw(seconds), draw(names),
                       draw(st.booleans()), True, start, start + draw(seconds))  # fmt: skip
        result.append(t)
    return result


def same(a: Any, b: Any) -> bool:
    """Equal, numbers to the microsecond (the writer formats them so)."""
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=1e-15, abs_tol=6e-7)
    return bool(a == b) and type(a) is type(b)


@given(timings(), st.floats(0.001, 10))
def test_the_fast_writer_writes_the_document_of_to_json(
    tests: list[TestTiming], threshold: float
) -> None:
    fixtures = [FixtureTiming("db", "module", "t.py", 2, 3.5, 2.0)]
    summary = summarize(tests, fixtures, threshold)
    extras = [("advice", {"flaky": ["x"]}), ("absent", None), ("shard", [1, 2])]
    text = encode_report(summary, tests, extras)
    expected = to_json(summary, tests)
    expected.update((k, v) for k, v in extras if v is not None)
    assert same(json.loads(text), expected)
    assert text.isascii()  # as json.dumps writes it: one line, escapes past ASCII
    assert "\n" not in text


def test_ties_in_total_go_by_node_id() -> None:
    tests = [TestTiming(n, call=1.0) for n in ("b", "a", "c")] + [TestTiming("z", call=2.0)]
    document = json.loads(encode_report(summarize(tests, [], 1.0), tests))
    assert [t["nodeid"] for t in document["all_tests"]] == ["z", "a", "b", "c"]
    assert document["all_tests"][0]["total"] == pytest.approx(2.0)
