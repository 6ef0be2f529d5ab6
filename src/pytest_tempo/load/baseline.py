"""Load baselines: record each load item's key results, compare a run with the recorded ones.

A *record* is one passing run of one load item: its time and, per group, the key results
``p50``, ``p95``, ``p99`` (request duration, ms), ``avg`` (ms), ``rps`` (requests per second)
and ``error_rate`` (0 to 1), and the number of ``requests`` (a group is compared only when
both sides made :data:`MIN_REQUESTS`). The group ``""`` is the whole run; the others are one
per named request (Locust's ``name``) or per tagged submetric k6 exported (``name:/api``).

Records are kept per item and per *shape*: the profile, the virtual users and the time scale
(a rehearsal at ``--load-time-scale=0.01`` is never compared with a full run). The baseline
of a shape is, per metric, the median of its last :data:`BASELINE_RUNS` records.

``load_regression`` limits say what counts as a regression (``p95:+20%, rps:-15%,
error_rate:+0.5pp``); :func:`compare` applies them and :func:`format_comparison` writes the
table an item fails with.

The store is one JSON file, by default in pytest's cache. Only the controller writes it, once
at the end of the session, with a read-merge-write under a lock file and an atomic rename, so
two pytest processes sharing a cache (or a committed file) keep each other's records. xdist
workers never read it: the controller ships the records they need to them.

Everything but :func:`read_file` and :func:`merge_into_file` is pure.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..jsonfile import read_json
from .limits import (
    DEFAULT_REGRESSION,
    METRICS,
    NOISE_FLOOR_MS,
    Limit,
    RegressionSpecError,
    parse_regression,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from pathlib import Path

    from .thresholds import Series

__all__ = [
    "BASELINE_RUNS",
    "COUNTED",
    "DEFAULT_REGRESSION",
    "KEPT_RUNS",
    "METRICS",
    "MIN_REQUESTS",
    "NOISE_FLOOR_MS",
    "Comparison",
    "Limit",
    "RegressionSpecError",
    "Row",
    "baseline_of",
    "compare",
    "comparison_table",
    "format_comparison",
    "groups_from_series",
    "k6_groups",
    "locust_groups",
    "merge_into_file",
    "merge_records",
    "parse_regression",
    "read_file",
    "shape_key",
]

#: The baseline is the median of this many most recent passing runs of the same shape.
BASELINE_RUNS = 5
#: Records kept per item and shape.
KEPT_RUNS = 20
STORE_VERSION = 1

#: Recorded with the metrics but never a limit: how many requests a group made.
COUNTED = "requests"
#: A group is compared only when the run and its baseline made this many requests at least:
#: the p95 of a few dozen requests is decided by one or two of them.
MIN_REQUESTS = 50


def shape_key(profile: str, vus: int, time_scale: float) -> str:
    """``smoke/2vus`` or ``smoke/2vus/x0.02``: what a run is compared within."""
    key = f"{profile}/{vus}vus"
    return key if time_scale == 1 else f"{key}/x{time_scale:g}"


# --- records and the baseline ----------------------------------------------------------------

Groups = dict[str, dict[str, float]]


def _clean_groups(value: object) -> Groups:
    groups: Groups = {}
    if not isinstance(value, dict):
        return groups
    for group, metrics in value.items():
        if not isinstance(group, str) or not isinstance(metrics, dict):
            continue
        kept = {
            name: float(number)
            for name, number in metrics.items()
            if (name in METRICS or name == COUNTED)
            and isinstance(number, (int, float))
            and not isinstance(number, bool)
            and math.isfinite(number)
        }
        if kept:
            groups[group] = kept
    return groups


def clean_records(value: object) -> list[dict[str, Any]]:
    """The well-formed records of a stored list, oldest first; anything else is dropped."""
    records: list[dict[str, Any]] = []
    if not isinstance(value, list):
        return records
    for entry in value:
        if not isinstance(entry, dict):
            continue
        at = entry.get("at")
        if not isinstance(at, (int, float)) or isinstance(at, bool) or not math.isfinite(at):
            continue
        groups = _clean_groups(entry.get("groups"))
        if groups:
            records.append({"at": float(at), "groups": groups})
    records.sort(key=lambda r: r["at"])
    return records


def baseline_of(records: Sequence[Mapping[str, Any]], runs: int = BASELINE_RUNS) -> Groups:
    """Per group and metric, the median of the last ``runs`` records that have it."""
    import statistics  # only when load tests ran

    recent = clean_records(list(records))[-runs:]
    values: dict[str, dict[str, list[float]]] = {}
    for record in recent:
        for group, metrics in record["groups"].items():
            for name, number in metrics.items():
                values.setdefault(group, {}).setdefault(name, []).append(number)
    return {
        group: {name: statistics.median(numbers) for name, numbers in metrics.items()}
        for group, metrics in values.items()
    }


@dataclass(frozen=True)
class Row:
    """One line of a comparison: a metric of a group against its limit."""

    group: str
    limit: Limit
    baseline: float
    now: float

    @property
    def regressed(self) -> bool:
        return self.limit.crossed(self.baseline, self.now)


@dataclass(frozen=True)
class Comparison:
    """A run against its baseline: one row per limit and group both have; ``few`` holds the
    groups left out because the run or the baseline made under :data:`MIN_REQUESTS`."""

    rows: tuple[Row, ...]
    runs: int
    last_at: float | None
    few: tuple[str, ...] = ()

    @property
    def regressions(self) -> list[Row]:
        return [row for row in self.rows if row.regressed]


def compare(
    now: Groups, records: Sequence[Mapping[str, Any]], limits: Sequence[Limit]
) -> Comparison | None:
    """Compare ``now`` with the baseline of ``records``; None without any record."""
    kept = clean_records(list(records))
    if not kept:
        return None
    base = baseline_of(kept)
    rows: list[Row] = []
    few: list[str] = []
    for group in sorted(now, key=lambda g: (g != "", g)):
        before = base.get(group, {})
        counts = (now[group].get(COUNTED, MIN_REQUESTS), before.get(COUNTED, MIN_REQUESTS))
        if before and min(counts) < MIN_REQUESTS:
            few.append(group)
            continue
        for limit in limits:
            if limit.metric in now[group] and limit.metric in before:
                rows.append(Row(group, limit, before[limit.metric], now[group][limit.metric]))
    return Comparison(tuple(rows), min(len(kept), BASELINE_RUNS), kept[-1]["at"], tuple(few))


def _value(metric: str, value: float) -> str:
    unit = METRICS[metric][1]
    if unit == "rate":
        return f"{value * 100:.2f}%"
    return f"{value:.1f}"


def _change(row: Row) -> str:
    change = row.limit.change(row.baseline, row.now)
    if change is None:
        return "new" if row.now else "0%"
    return f"{change:+.1f}{row.limit.unit}"


def comparison_table(comparison: Comparison) -> list[list[str]]:
    """The rows of a comparison, a header first: metric, baseline, now, change, limit, result."""
    table = [["metric", "baseline", "now", "change", "limit", "result"]]
    for row in comparison.rows:
        label = METRICS[row.limit.metric][0] + (f" {{{row.group}}}" if row.group else "")
        table.append([label, _value(row.limit.metric, row.baseline),
                      _value(row.limit.metric, row.now), _change(row), row.limit.text,
                      "REGRESSION" if row.regressed else "ok"])  # fmt: skip
    return table


def format_comparison(comparison: Comparison, shape: str) -> str:
    """The table an item fails with: metric, baseline, now, change, limit, result."""
    when = (
        time.strftime("%Y-%m-%d %H:%M", time.localtime(comparison.last_at))
        if comparison.last_at is not None
        else "never"
    )
    lines = [
        f"load baseline: regression against the median of the last {comparison.runs} "
        f"passing run(s) of {shape} (last recorded {when})",
        "",
    ]
    table = comparison_table(comparison)
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
    lines += [
        "",
        "accept the new numbers with --load-baseline=update; limits: ini load_regression",
    ]
    return "\n".join(lines)


# --- the store -------------------------------------------------------------------------------

#: item key -> shape key -> records, oldest first.
Store = dict[str, dict[str, list[dict[str, Any]]]]


def parse_store(value: object) -> Store:
    """The usable part of a stored value (anything malformed is dropped)."""
    store: Store = {}
    if not isinstance(value, dict) or value.get("version") != STORE_VERSION:
        return store
    items = value.get("items")
    if not isinstance(items, dict):
        return store
    for item, shapes in items.items():
        if not isinstance(item, str) or not isinstance(shapes, dict):
            continue
        for shape, records in shapes.items():
            kept = clean_records(records)
            if isinstance(shape, str) and kept:
                store.setdefault(item, {})[shape] = kept
    return store


def merge_records(store: Store, new: Sequence[tuple[str, str, Mapping[str, Any], bool]]) -> Store:
    """``store`` with ``(item, shape, record, replace)`` added; ``replace`` drops the older
    records of that item and shape (``--load-baseline=update``). Keeps :data:`KEPT_RUNS`."""
    merged: Store = {
        item: {shape: list(records) for shape, records in shapes.items()}
        for item, shapes in store.items()
    }
    for item, shape, record, replace in new:
        kept = clean_records([record])
        if not kept:
            continue
        shapes = merged.setdefault(item, {})
        if replace:
            shapes[shape] = kept
        else:
            shapes[shape] = sorted(shapes.get(shape, []) + kept, key=lambda r: r["at"])[-KEPT_RUNS:]
    return merged


def read_file(path: Path) -> tuple[Store, str | None]:
    """Read a store file: missing is empty; unreadable or corrupt is empty with a reason
    (read as the durations store reads a hostile file)."""
    read = read_json(path)
    if read.problem is not None:
        return {}, f"{read.said_of(str(path))}; it is ignored and rewritten"
    return ({}, None) if read.value is None else (parse_store(read.value), None)


#: Seconds a lock file may be held before it is taken as left behind by a killed process.
STALE_LOCK = 30.0


@contextlib.contextmanager
def _locked(path: Path, wait: float = 60.0) -> Iterator[None]:
    """Hold ``path`` (a lock file created exclusively) for a read-merge-write."""
    deadline = time.monotonic() + wait
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            with contextlib.suppress(OSError):
                if time.time() - path.stat().st_mtime > STALE_LOCK:
                    path.unlink()
                    continue
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path} stayed locked for {wait:g}s") from None
            time.sleep(0.01)
            continue
        break
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()


def merge_into_file(
    path: Path, new: Sequence[tuple[str, str, Mapping[str, Any], bool]]
) -> str | None:
    """Add records to the store file under a lock, atomically; an error message, not raise."""
    if not new:
        return None
    lock = path.with_name(path.name + ".lock")
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(lock):
            store, _problem = read_file(path)
            merged = merge_records(store, new)
            text = json.dumps({"version": STORE_VERSION, "items": merged}, sort_keys=True)
            temporary.write_text(text + "\n", encoding="utf-8")
            os.replace(temporary, path)
    except (OSError, TimeoutError) as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        return f"could not write the load baselines to {path}: {exc}"
    return None


# --- key results from the engines ------------------------------------------------------------

_TREND_KEYS = {"p50": "med", "p95": "p(95)", "p99": "p(99)", "avg": "avg"}


def _add(group: dict[str, float], name: str, value: float | None) -> None:
    if value is not None and math.isfinite(value):
        group[name] = round(float(value), 4)


def groups_from_series(
    series: Mapping[str, tuple[Series | None, Series | None, Series | None]],
) -> Groups:
    """Key results from ``group -> (duration trend, failed rate, requests counter)``.

    A group without a single request is left out.
    """
    groups: Groups = {}
    for name, (duration, failed, reqs) in series.items():
        group: dict[str, float] = {}
        if duration is not None and duration.samples > 0:
            for metric, key in _TREND_KEYS.items():
                _add(group, metric, duration.aggregate(key))
        if reqs is not None:
            if not reqs.samples:
                continue
            _add(group, "rps", reqs.aggregate("rate"))
            _add(group, COUNTED, reqs.aggregate("count"))
        if failed is not None and failed.samples > 0:
            _add(group, "error_rate", failed.aggregate("rate"))
        if group:
            groups[name] = group
    return groups


def k6_groups(metrics: Mapping[str, Series]) -> Groups:
    """Key results of a k6 run from its summary export: the run and each tagged submetric."""
    tags = {""}
    for name in metrics:
        base, brace, rest = name.partition("{")
        tag = rest.removesuffix("}")
        # k6 always exports http_req_duration{expected_response:true}: not a tag of the user's
        if (
            brace
            and base in ("http_req_duration", "http_req_failed", "http_reqs")
            and (tag != "expected_response:true")
        ):
            tags.add(tag)

    def get(metric: str, tag: str) -> Series | None:
        return metrics.get(f"{metric}{{{tag}}}" if tag else metric)

    return groups_from_series(
        {
            tag: (get("http_req_duration", tag), get("http_req_failed", tag), get("http_reqs", tag))
            for tag in sorted(tags)
        }
    )


def locust_groups(entries: Sequence[Mapping[str, Any]], seconds: float) -> Groups:
    """Key results of a Locust run from its statistics entries: the run and each name."""
    from .locust import series_for

    chosen: dict[str, list[Mapping[str, Any]]] = {"": list(entries)}
    for entry in entries:
        chosen.setdefault(f"name:{entry.get('name', '')}", []).append(entry)
    return groups_from_series(
        {
            group: (
                series_for("http_req_duration", picked, seconds),
                series_for("http_req_failed", picked, seconds),
                series_for("http_reqs", picked, seconds),
            )
            for group, picked in chosen.items()
        }
    )
