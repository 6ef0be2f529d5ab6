"""A load run over time: per second, then in at most :data:`MAX_POINTS` buckets.

Each engine's own record of a run is read into a :class:`Timeline`, one slot per second
since the load began (second 0 starts at ``origin``, epoch seconds rounded down):

- k6: the points of ``k6 run --out json=FILE`` (NDJSON, gzipped when the name ends in
  ``.gz``): ``http_reqs`` counts requests, ``http_req_failed`` failures,
  ``http_req_duration`` gives each second's p95 (k6's percentile rule), ``vus`` the users.
- Locust: each statistics entry's requests and failures per epoch second
  (``num_reqs_per_sec``, ``num_fail_per_sec``, exact also with worker processes), the p95 of
  each one-second interval (:class:`LocustWindows`, kept by the Locust child from the growth
  of its response-time histogram) and the user count the child sampled.

:func:`chart` buckets a timeline, with the watched server's CPU and RSS samples, into plain
data for the report: columns of equal length, buckets of 1, 2, 5, 10, 15, 30 or 60 seconds
or more, so a soak of hours stays at most :data:`MAX_POINTS` points. A bucket sums requests
and failures (totals are kept), takes the highest p95 of its seconds (a bucket of many
seconds shows its worst second), the most users, the mean CPU and the highest RSS.
:func:`read_chart` takes that plain data back, refusing anything malformed.

Pure, but for :func:`read_k6_file`, which reads a file.
"""

from __future__ import annotations

import calendar
import gzip
import json
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from .thresholds.series import Histogram, percentile

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence
    from pathlib import Path

    from .resources import Usage

__all__ = [
    "MAX_POINTS",
    "Chart",
    "LocustWindows",
    "Timeline",
    "bucket_step",
    "chart",
    "k6_timeline",
    "locust_timeline",
    "parse_time",
    "read_chart",
    "read_k6_file",
]

#: The most buckets a series has.
MAX_POINTS = 300
#: Bucket widths in seconds, the narrowest that keeps a run within :data:`MAX_POINTS`.
STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
#: k6 writes a second's points within about a second; a second this far behind the newest
#: point is complete, and its durations are reduced to their p95.
K6_LAG = 10
MB = 1024 * 1024

_K6_POINT = re.compile(
    rb'^\{"metric":"(http_reqs|http_req_failed|http_req_duration|vus)","type":"Point",'
    rb'"data":\{"time":"([0-9T:-]{19})(?:\.[0-9]+)?(Z|[+-][0-9:]{5})","value":([-0-9.eE+]+)'
)
_K6_METRICS = {b"http_reqs", b"http_req_failed", b"http_req_duration", b"vus"}
_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")


@dataclass
class Timeline:
    """A run per second: requests, failures, p95 (ms), users; keys are seconds since
    ``origin``. Seconds without a value are missing (no request, no sample)."""

    origin: float
    requests: dict[int, int] = field(default_factory=dict)
    failures: dict[int, int] = field(default_factory=dict)
    p95: dict[int, float] = field(default_factory=dict)
    users: dict[int, float] = field(default_factory=dict)

    @property
    def seconds(self) -> int:
        """Seconds from the first to the last one with anything in them."""
        keys = [*self.requests, *self.failures, *self.p95, *self.users]
        return max(keys) + 1 if keys else 0


def parse_time(text: str, cache: dict[str, float] | None = None) -> float:
    """Epoch seconds of an RFC 3339 time as k6 writes it (nanoseconds, ``Z`` or an offset).

    ``cache`` keeps the whole seconds already converted: a run has many points a second.
    """
    match = _TIME.match(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    key = text[:19] + zone
    whole = cache.get(key) if cache is not None else None
    if whole is None:
        whole = float(
            calendar.timegm(
                (int(year), int(month), int(day), int(hour), int(minute), int(second), 0, 0, 0)
            )
        )
        if zone != "Z":
            sign = -1 if zone[0] == "+" else 1
            whole += sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
        if cache is not None:
            cache[key] = whole
    return whole + (float(fraction) if fraction else 0.0)


def _k6_point(line: bytes, seconds: dict[bytes, int]) -> tuple[bytes, int, float] | None:
    """``(metric, epoch second, value)`` of a point of a metric the charts use, else None.

    ``seconds`` keeps the whole seconds already converted: a run has many points a second.
    """
    match = _K6_POINT.match(line)
    if match is not None:
        metric, whole, zone, value = match.groups()
        key = whole + zone
        second = seconds.get(key)
        if second is None:
            second = seconds[key] = math.floor(parse_time(key.decode()))
        return metric, second, float(value)
    if line.startswith(b'{"metric":"') or b'"Point"' not in line:
        return None  # in k6's order, but another metric (or not a point at all)
    try:  # the same point with its keys in another order
        data = json.loads(line)
        metric = str(data["metric"]).encode()
        if data["type"] != "Point" or metric not in _K6_METRICS:
            return None
        when = math.floor(parse_time(str(data["data"]["time"])))
        return metric, when, float(data["data"]["value"])
    except (ValueError, KeyError, TypeError):
        return None


def k6_timeline(lines: Iterable[bytes]) -> Timeline | None:
    """The timeline of k6's ``--out json`` points (None when there is none)."""
    cache: dict[bytes, int] = {}
    requests: dict[int, int] = {}
    failures: dict[int, int] = {}
    users: dict[int, float] = {}
    durations: dict[int, list[float]] = {}
    p95: dict[int, float] = {}
    newest = 0

    def settle(before: int) -> None:
        for second in [s for s in durations if s < before]:
            p95[second] = percentile(sorted(durations.pop(second)), 95)

    for line in lines:
        point = _k6_point(line, cache)
        if point is None:
            continue
        metric, second, value = point
        if metric == b"http_reqs":
            requests[second] = requests.get(second, 0) + int(value)
        elif metric == b"http_req_failed":
            if value:
                failures[second] = failures.get(second, 0) + 1
        elif metric == b"http_req_duration":
            durations.setdefault(second, []).append(value)
            if second > newest:
                newest = second
                settle(newest - K6_LAG)
        else:
            users[second] = max(users.get(second, 0.0), value)
    settle(newest + 1)
    keys = [*requests, *failures, *p95, *users]
    if not keys:
        return None
    origin = min(keys)
    return Timeline(
        float(origin),
        {s - origin: n for s, n in requests.items()},
        {s - origin: n for s, n in failures.items()},
        {s - origin: v for s, v in p95.items()},
        {s - origin: v for s, v in users.items()},
    )


def _lines(stream: BinaryIO, size: int = 1 << 20) -> Iterator[bytes]:
    """The lines of a stream, read a megabyte at a time (gzip's readline is slow)."""
    rest = b""
    while chunk := stream.read(size):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        yield from lines
    if rest:
        yield rest


def read_k6_file(path: Path) -> Timeline | None:
    """:func:`k6_timeline` of a ``--out json`` file (gzipped or not); None if unreadable."""
    try:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rb") as stream:
            return k6_timeline(_lines(cast("BinaryIO", stream)))
    except (OSError, EOFError, gzip.BadGzipFile):
        return None


class LocustWindows:
    """Kept by the Locust child: the p95 of each interval between two snapshots.

    ``add(elapsed, response_times)`` takes the cumulative response-time histogram (ms ->
    count) of all requests so far and returns the plain data the parent reads:
    ``{"started": epoch seconds of elapsed 0, "rows": [[elapsed, p95 or None], ...]}``.
    """

    def __init__(self, started: float) -> None:
        self.started = started
        self.rows: list[list[float | None]] = []
        self._last: dict[float, int] = {}

    def add(self, elapsed: float, response_times: Mapping[Any, Any]) -> dict[str, Any]:
        current = {float(k): int(v) for k, v in response_times.items()}
        grown = {k: v - self._last.get(k, 0) for k, v in current.items()}
        grown = {k: v for k, v in grown.items() if v > 0}
        self._last = current
        p95 = round(Histogram(grown).percentile(95), 3) if grown else None
        self.rows.append([round(elapsed, 3), p95])
        return {"started": self.started, "rows": self.rows}


def _per_second(entries: Sequence[Mapping[str, Any]], key: str, origin: int) -> dict[int, int]:
    counts: dict[int, int] = {}
    for entry in entries:
        for second, count in (entry.get(key) or {}).items():
            index = int(float(second)) - origin
            if index >= 0:
                counts[index] = counts.get(index, 0) + int(count)
    return counts


def locust_timeline(
    entries: Sequence[Mapping[str, Any]],
    windows: Mapping[str, Any] | None,
    history: Sequence[tuple[float, int, int]],
) -> Timeline | None:
    """The timeline of a Locust run (None without the child's windows)."""
    if not isinstance(windows, dict) or not isinstance(windows.get("started"), (int, float)):
        return None
    started = float(windows["started"])
    origin = math.floor(started)
    timeline = Timeline(float(origin))
    timeline.requests = _per_second(entries, "num_reqs_per_sec", origin)
    timeline.failures = _per_second(entries, "num_fail_per_sec", origin)
    for row in windows.get("rows") or []:
        elapsed, p95 = row[0], row[1]
        if p95 is not None:  # the interval that ended at elapsed: its middle second
            index = max(0, math.floor(started + float(elapsed) - 0.5) - origin)
            timeline.p95[index] = max(timeline.p95.get(index, 0.0), float(p95))
    for elapsed, running, _planned in history:
        index = math.floor(started + elapsed) - origin
        timeline.users[index] = max(timeline.users.get(index, 0.0), float(running))
    return timeline


def bucket_step(seconds: int, max_points: int = MAX_POINTS) -> int:
    """The narrowest bucket (s) of :data:`STEPS` giving at most ``max_points`` buckets."""
    for step in STEPS:
        if math.ceil(seconds / step) <= max_points:
            return step
    return max(STEPS[-1], math.ceil(seconds / max_points))


def _columns(values: Mapping[int, float], step: int, count: int, how: str) -> list[float | None]:
    out: list[float | None] = [None] * count
    for second, value in values.items():
        i = second // step
        if not 0 <= i < count:
            continue
        held = out[i]
        if held is None:
            out[i] = value
        elif how == "sum":
            out[i] = held + value
        else:
            out[i] = max(held, value)
    return out


def _rounded(values: Sequence[float | None], digits: int) -> list[float | None]:
    return [None if v is None else round(v, digits) for v in values]


def chart(
    timeline: Timeline, usage: Usage | None = None, max_points: int = MAX_POINTS
) -> dict[str, Any]:
    """The plain series of a run: ``step`` (s), ``t`` (bucket starts, s since the load
    began), ``requests``, ``failures``, ``p95_ms``, ``users``, and, when a server was
    watched, ``cpu`` (percent, 100 is one core) and ``rss_mb``."""
    seconds = max(timeline.seconds, 1)
    step = bucket_step(seconds, max_points)
    count = math.ceil(seconds / step)
    requests = _columns(timeline.requests, step, count, "sum")
    failures = _columns(timeline.failures, step, count, "sum")
    data: dict[str, Any] = {
        "step": step,
        "t": [i * step for i in range(count)],
        "requests": [int(v or 0) for v in requests],
        "failures": [int(v or 0) for v in failures],
        "p95_ms": _rounded(_columns(timeline.p95, step, count, "max"), 2),
        "users": _rounded(_columns(timeline.users, step, count, "max"), 1),
    }
    samples = usage.samples if usage is not None else ()
    if samples:
        assert usage is not None
        cpu: dict[int, list[float]] = {}
        rss: dict[int, float] = {}
        for s in samples:
            i = math.floor(usage.started_at + s.t - timeline.origin) // step
            if 0 <= i < count:
                cpu.setdefault(i, []).append(s.cpu)
                rss[i] = max(rss.get(i, 0.0), s.rss / MB)
        means = {i: sum(v) / len(v) for i, v in cpu.items()}
        data["cpu"] = _rounded(_columns(means, 1, count, "max"), 1)
        data["rss_mb"] = _rounded(_columns(rss, 1, count, "max"), 2)
    return data


@dataclass(frozen=True)
class Chart:
    """A series read back from the report: equal-length columns, ``None`` where unknown."""

    step: float
    t: tuple[float, ...]
    requests: tuple[int, ...]
    failures: tuple[int, ...]
    p95_ms: tuple[float | None, ...]
    users: tuple[float | None, ...]
    cpu: tuple[float | None, ...] = ()
    rss_mb: tuple[float | None, ...] = ()

    @property
    def rps(self) -> list[float]:
        return [n / self.step for n in self.requests]

    @property
    def error_pct(self) -> list[float | None]:
        return [
            100 * f / n if n else None for n, f in zip(self.requests, self.failures, strict=True)
        ]


def _numbers(value: object, count: int, *, optional: bool) -> tuple[Any, ...] | None:
    if not isinstance(value, list) or len(value) != count:
        return None
    for v in value:
        if v is None and optional:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return None
    return tuple(value)


def read_chart(value: object) -> Chart | None:
    """The :class:`Chart` of plain data made by :func:`chart`; None when malformed."""
    if not isinstance(value, dict):
        return None
    step, t = value.get("step"), value.get("t")
    if not isinstance(step, (int, float)) or isinstance(step, bool) or not step > 0:
        return None
    if not isinstance(t, list) or not t:
        return None
    count = len(t)
    columns: dict[str, Any] = {"t": _numbers(t, count, optional=False)}
    for name in ("requests", "failures"):
        columns[name] = _numbers(value.get(name), count, optional=False)
    for name in ("p95_ms", "users"):
        columns[name] = _numbers(value.get(name), count, optional=True)
    for name in ("cpu", "rss_mb"):
        if name in value:
            columns[name] = _numbers(value.get(name), count, optional=True)
    if any(column is None for column in columns.values()):
        return None
    columns["requests"] = tuple(int(v) for v in columns["requests"])
    columns["failures"] = tuple(int(v) for v in columns["failures"])
    return Chart(step=float(step), **columns)
