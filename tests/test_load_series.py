"""The run over time: reading k6's points and Locust's statistics, bucketing, reading back."""

from __future__ import annotations

import gzip
import json
import math
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tempo.load.resources import Sample, Usage
from pytest_tempo.load.series import (
    MAX_POINTS,
    STEPS,
    LocustWindows,
    Timeline,
    bucket_step,
    chart,
    k6_timeline,
    locust_timeline,
    parse_time,
    read_chart,
    read_k6_file,
)
from pytest_tempo.load.thresholds import percentile

if TYPE_CHECKING:
    from pathlib import Path

#: 2026-01-02T03:04:05Z
EPOCH = 1767323045


def point(metric: str, when: str, value: float, *, reorder: bool = False) -> bytes:
    """One line of ``k6 run --out json`` (keys in k6's order, or another)."""
    data = {"time": when, "value": value, "tags": {"name": "http://x/<y>", "status": "200"}}
    line: dict[str, Any] = {"metric": metric, "type": "Point", "data": data}
    if reorder:
        line = {"type": "Point", "data": data, "metric": metric}
    return json.dumps(line, separators=(",", ":")).encode() + b"\n"


def at(second: float, zone: str = "Z") -> str:
    """An RFC 3339 time ``second`` s after EPOCH, with nanoseconds, as k6 writes it."""
    offset = timedelta(0)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    whole = math.floor(second)
    local = datetime.fromtimestamp(EPOCH + whole, tz=timezone(offset))
    nanos = round((second - whole) * 1e9)
    return local.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}{zone}"


# --- times ------------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["Z", "+01:00", "-05:30", "+05:30"])
def test_parse_time_reads_nanoseconds_and_offsets(zone: str) -> None:
    assert parse_time(at(0.25, zone)) == pytest.approx(EPOCH + 0.25)
    cache: dict[str, float] = {}
    assert parse_time(at(1.5, zone), cache) == pytest.approx(EPOCH + 1.5)
    assert parse_time(at(1.75, zone), cache) == pytest.approx(EPOCH + 1.75)  # from the cache
    assert len(cache) == 1


def test_parse_time_refuses_other_text() -> None:
    with pytest.raises(ValueError, match="not an RFC 3339 time"):
        parse_time("yesterday")


# --- k6 ---------------------------------------------------------------------------------------


def k6_lines() -> list[bytes]:
    lines = [b'{"type":"Metric","data":{"name":"http_reqs"},"metric":"http_reqs"}\n']
    durations = {0: [10.0, 20.0, 30.0], 1: [5.0, 7.0], 3: [100.0]}
    for second, values in durations.items():
        for i, value in enumerate(values):
            when = at(second + 0.1 * (i + 1))
            lines.append(point("http_reqs", when, 1))
            lines.append(point("http_req_duration", when, value, reorder=i == 1))
            lines.append(point("http_req_failed", when, 1 if value >= 30 else 0))
            lines.append(point("http_req_blocked", when, 0.5))
    lines += [point("vus", at(1.0), 2), point("vus", at(2.0), 3), point("vus", at(2.5), 1)]
    lines += [b"not json\n", b'{"type":"Point","metric":"vus","data":{"time":"x","value":1}}\n']
    return lines


def test_k6_points_per_second() -> None:
    timeline = k6_timeline(k6_lines())
    assert timeline is not None
    assert timeline.origin == EPOCH
    assert timeline.requests == {0: 3, 1: 2, 3: 1}
    assert timeline.failures == {0: 1, 3: 1}
    assert timeline.p95 == {
        0: percentile([10.0, 20.0, 30.0], 95),
        1: percentile([5.0, 7.0], 95),
        3: 100.0,
    }
    assert timeline.users == {1: 2, 2: 3}
    assert timeline.seconds == 4


def test_k6_timeline_of_nothing() -> None:
    assert k6_timeline([b"", b'{"type":"Metric","metric":"vus","data":{}}\n']) is None


def test_k6_late_points_count_without_reopening_a_settled_second() -> None:
    lines = [point("http_req_duration", at(0.5), 10.0), point("http_reqs", at(0.5), 1)]
    lines += [point("http_req_duration", at(30.5), 20.0)]
    lines += [point("http_req_duration", at(0.9), 99.0), point("http_reqs", at(0.9), 1)]
    timeline = k6_timeline(lines)
    assert timeline is not None
    assert timeline.requests[0] == 2
    assert timeline.p95[0] in (10.0, 99.0)  # settled or not, one of its values, never lost


@pytest.mark.parametrize("name", ["points.json", "points.json.gz"])
def test_read_k6_file_plain_or_gzipped(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    data = b"".join(k6_lines())
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    timeline = read_k6_file(path)
    assert timeline is not None
    assert sum(timeline.requests.values()) == 6


def test_read_k6_file_missing_or_broken(tmp_path: Path) -> None:
    assert read_k6_file(tmp_path / "none.json.gz") is None
    broken = tmp_path / "broken.json.gz"
    broken.write_bytes(b"not gzip at all")
    assert read_k6_file(broken) is None


# --- Locust -----------------------------------------------------------------------------------


def test_locust_windows_p95_of_each_interval() -> None:
    windows = LocustWindows(started=100.25)
    windows.add(1.0, {10: 8, 20: 2})
    windows.add(2.0, {10: 8, 20: 2})  # nothing new
    data = windows.add(3.0, {10: 8, 20: 2, 300: 1, 40: 9})
    assert data["started"] == 100.25
    assert data["rows"][0] == [1.0, pytest.approx(20.0)]
    assert data["rows"][1] == [2.0, None]
    # the third interval holds 40 ms nine times and 300 ms once
    assert data["rows"][2][1] == pytest.approx(percentile([40.0] * 9 + [300.0], 95), abs=1e-3)
    json.dumps(data)


def test_locust_timeline_from_entries_windows_and_history() -> None:
    entries = [
        {"num_reqs_per_sec": {"100": 3, "101": 5, "99": 7}, "num_fail_per_sec": {"101": 1}},
        {"num_reqs_per_sec": {"101": 2, "103": 1}, "num_fail_per_sec": {}},
    ]
    windows = {"started": 100.4, "rows": [[1.0, 12.5], [2.0, None], [3.0, 30.0]]}
    history = [(0.0, 0, 2), (0.5, 2, 2), (1.2, 4, 4), (2.9, 1, 0)]
    timeline = locust_timeline(entries, windows, history)
    assert timeline is not None
    assert timeline.origin == 100
    assert timeline.requests == {0: 3, 1: 7, 3: 1}  # second 99 is before the load began
    assert timeline.failures == {1: 1}
    assert timeline.p95 == {0: 12.5, 2: 30.0}
    assert timeline.users == {0: 2, 1: 4, 3: 1}


@pytest.mark.parametrize(
    "windows", [None, {}, {"started": "x"}, []], ids=["none", "empty", "no-start", "list"]
)
def test_locust_timeline_needs_the_windows(windows: Any) -> None:
    assert locust_timeline([], windows, []) is None


# --- buckets ----------------------------------------------------------------------------------


def test_bucket_step_examples() -> None:
    assert bucket_step(1) == 1
    assert bucket_step(300) == 1
    assert bucket_step(301) == 2
    assert bucket_step(3600) == 15
    assert bucket_step(12 * 3600) == 300
    assert bucket_step(10**7) == math.ceil(10**7 / MAX_POINTS)


@given(st.integers(1, 10**7), st.integers(1, 1000))
def test_bucket_step_bounds_the_points_and_is_the_narrowest(seconds: int, points: int) -> None:
    step = bucket_step(seconds, points)
    assert math.ceil(seconds / step) <= points
    narrower = [s for s in STEPS if s < step]
    if narrower:
        assert math.ceil(seconds / narrower[-1]) > points


seconds_st = st.integers(0, 5000)
timelines = st.builds(
    Timeline,
    st.just(1000.0),
    st.dictionaries(seconds_st, st.integers(0, 10**6), max_size=60),
    st.dictionaries(seconds_st, st.integers(0, 10**3), max_size=60),
    st.dictionaries(seconds_st, st.floats(0, 1e5), max_size=60),
    st.dictionaries(seconds_st, st.floats(0, 1e4), max_size=60),
)


@given(timelines, st.integers(1, 400))
def test_chart_keeps_totals_bounds_points_and_reads_back(timeline: Timeline, points: int) -> None:
    data = chart(timeline, max_points=points)
    count = len(data["t"])
    assert 1 <= count <= points
    for name in ("requests", "failures", "p95_ms", "users"):
        assert len(data[name]) == count
    assert sum(data["requests"]) == sum(timeline.requests.values())
    assert sum(data["failures"]) == sum(timeline.failures.values())
    known = [v for v in data["p95_ms"] if v is not None]
    assert max(known, default=None) == (
        round(max(timeline.p95.values()), 2) if timeline.p95 else None
    )
    assert data["t"] == [i * data["step"] for i in range(count)]
    back = read_chart(json.loads(json.dumps(data)))
    assert back is not None
    assert sum(back.requests) == sum(data["requests"])
    assert len(back.rps) == len(back.error_pct) == count


def test_chart_buckets_a_soak_into_at_most_300_points() -> None:
    hours = 12 * 3600
    timeline = Timeline(0.0, requests=dict.fromkeys(range(hours), 10), p95={7: 50.0, 8: 90.0})
    data = chart(timeline)
    assert data["step"] == 300
    assert len(data["t"]) == hours // 300 == 144  # 120 s buckets would make 360
    assert data["requests"][0] == 3000
    assert data["p95_ms"][0] == 90.0  # the worst second of the bucket
    assert data["p95_ms"][1] is None


def test_chart_places_the_server_samples_on_the_load_clock() -> None:
    timeline = Timeline(1000.0, requests={0: 5, 1: 5, 2: 5, 3: 5})
    mb = 1024 * 1024
    samples = (
        Sample(0.5, 50.0, 10 * mb),  # 998.5: before the load began
        Sample(2.6, 20.0, 11 * mb),  # 1000.6 -> second 0
        Sample(3.2, 40.0, 12 * mb),  # 1001.2 -> second 1
        Sample(3.9, 60.0, 15 * mb),  # 1001.9 -> second 1
        Sample(9.0, 99.0, 99 * mb),  # after the load
    )
    usage = Usage(7, samples, started_at=998.0)
    data = chart(timeline, usage)
    assert data["cpu"] == [20.0, 50.0, None, None]
    assert data["rss_mb"] == [11.0, 15.0, None, None]
    assert "cpu" not in chart(timeline, Usage(7, ()))


@pytest.mark.parametrize(
    "value",
    [
        None,
        [],
        {"step": 0, "t": [0], "requests": [1], "failures": [0], "p95_ms": [1], "users": [1]},
        {"step": True, "t": [0], "requests": [1], "failures": [0], "p95_ms": [1], "users": [1]},
        {"step": 1, "t": [], "requests": [], "failures": [], "p95_ms": [], "users": []},
        {"step": 1, "t": [0, 1], "requests": [1], "failures": [0], "p95_ms": [1], "users": [1]},
        {"step": 1, "t": [0], "requests": ["1"], "failures": [0], "p95_ms": [1], "users": [1]},
        {"step": 1, "t": [0], "requests": [None], "failures": [0], "p95_ms": [1], "users": [1]},
        {"step": 1, "t": [0], "requests": [1], "failures": [0], "p95_ms": [math.nan], "users": [1]},
        {"step": 1, "t": [0], "requests": [1], "failures": [0], "p95_ms": [1]},
        {"step": 1, "t": [0], "requests": [1], "failures": [0], "p95_ms": [1], "users": [1],
         "cpu": [1, 2]},
    ],
    ids=["none", "list", "step-0", "step-bool", "empty", "short", "string", "null-count", "nan",
         "no-users", "cpu-short"],
)  # fmt: skip
def test_read_chart_refuses_malformed_data(value: object) -> None:
    assert read_chart(value) is None
