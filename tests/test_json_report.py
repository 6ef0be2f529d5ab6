"""The fast ``--slow-report-json`` writer says what ``timing.outputs.to_json`` describes."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pytest_tempo.json_report import encode_report
from pytest_tempo.timing.aggregate import FixtureTiming, TestTiming, summarize
from pytest_tempo.timing.outputs import to_json

_SECONDS = st.floats(min_value=0, max_value=1e5, allow_nan=False)
_IDS = st.text(min_size=1, max_size=30).map(lambda s: "t.py::" + s)
_TIMING = st.builds(
    TestTiming,
    nodeid=_IDS,
    setup=_SECONDS,
    call=_SECONDS,
    teardown=_SECONDS,
    worker=st.sampled_from(["master", "gw0", "gw1", 'w"\u00e9']),
    marked_slow=st.booleans(),
    ran_call=st.just(True),
    start=st.floats(min_value=1.7e9, max_value=1.8e9),
    stop=st.floats(min_value=1.7e9, max_value=1.8e9),
)


def _to_the_microsecond(document: dict[str, Any]) -> dict[str, Any]:
    for key in ("tests", "all_tests"):
        for entry in document[key]:
            entry["start"], entry["stop"] = round(entry["start"], 6), round(entry["stop"], 6)
    return document


@given(st.lists(_TIMING, max_size=20, unique_by=lambda t: t.nodeid), st.booleans())
def test_the_fast_writer_matches_the_document(timings: list[TestTiming], extra: bool) -> None:
    fixtures = [FixtureTiming("db", "module", "t.py", count=3, total=1.5, longest=0.7)]
    summary = summarize(timings, fixtures, threshold=1.0)
    extras: list[tuple[str, object]] = [("advice", {"a": [1, 2]} if extra else None), ("load", [])]
    expected = _to_the_microsecond(to_json(summary, timings))
    expected.update((k, v) for k, v in extras if v is not None)
    written = json.loads(encode_report(summary, timings, extras))
    assert _to_the_microsecond(written) == expected
    assert list(written) == list(expected)  # the same order of keys
