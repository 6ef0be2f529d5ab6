"""The shard record: what each ``--shard`` run split from, selected and ran, and its check.

Each shard records N, K, the fingerprints of its collection and of its basis, the tests it
selected and the tests that ran, in the cache (key :data:`RECORD_KEY`, written by the
controller only) and in ``--slow-report-json``. ``pytest-tempo merge`` reads the records of
the shards' cache folders and checks them with :func:`verify`.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest import Cache

__all__ = [
    "RECORD_KEY",
    "RECORD_VERSION",
    "ShardRun",
    "Verdict",
    "numbers",
    "parse_saved",
    "read_runs",
    "read_saved",
    "verify",
    "verify_runs",
    "write_saved",
]

#: The cache key of the shard record (``.pytest_cache/v/tempo/shard``).
RECORD_KEY = "tempo/shard"
RECORD_VERSION = 1
#: Tests named in each line of a failed verification.
SHOWN = 5


def parse_saved(value: object) -> dict[str, Any] | None:
    """A saved record as written by :meth:`ShardPlugin.cache_value`, or None if unusable."""
    if not isinstance(value, dict) or value.get("version") != RECORD_VERSION:
        return None
    count, tests, recorded = value.get("count"), value.get("tests"), value.get("recorded")
    shards = value.get("shards")
    if type(count) is not int or count < 1 or not isinstance(shards, dict):
        return None
    if not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
        return None
    if not isinstance(recorded, list) or len(recorded) != len(tests):
        return None
    if not all(type(r) is int and -1 <= r < 2**53 for r in recorded):
        return None
    if not all(isinstance(v, str) for v in (value.get("collection"), value.get("basis"))):
        return None
    for key, shard in shards.items():
        if not key.isdigit() or not 1 <= int(key) <= count or not isinstance(shard, dict):
            return None
        for name in ("selected", "ran"):
            names = shard.get(name)
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                return None
    return value


def _value_path(cache: Cache, key: str) -> Path | None:
    # Cache._getvaluepath is private (src/_pytest/cacheprovider.py); without it, plain
    # Cache.get / Cache.set are used.
    getter = getattr(cache, "_getvaluepath", None)
    path = getter(key) if getter is not None else None
    return path if isinstance(path, Path) else None


def _load_json(path: Path) -> object:
    """The JSON value of a file; None when it is missing or unreadable in any way."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None


def read_saved(cache: Cache) -> dict[str, Any] | None:
    path = _value_path(cache, RECORD_KEY)
    if path is None:
        try:
            return parse_saved(cache.get(RECORD_KEY, None))
        except (ValueError, RecursionError):
            return None
    return parse_saved(_load_json(path))


def write_saved(cache: Cache, value: dict[str, Any]) -> str | None:
    """Write the record atomically; an error message instead of raising."""
    path = _value_path(cache, RECORD_KEY)
    temporary_key = f"{RECORD_KEY}.{os.getpid()}.tmp"
    temporary = _value_path(cache, temporary_key)
    try:
        if path is None or temporary is None:
            cache.set(RECORD_KEY, value)
            return None
        cache.set(temporary_key, None)  # creates the cache folder, its README and .gitignore
        temporary.write_text(json.dumps(value, separators=(",", ":")), encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        if temporary is not None:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
        return f"could not write the shard record: {exc.strerror or exc}"
    return None


# --- verification (pytest-tempo merge) -------------------------------------------------------


@dataclass(frozen=True)
class ShardRun:
    """One shard's record, as read from a cache folder."""

    source: str
    index: int
    count: int
    collection: str
    basis: str
    tests: tuple[str, ...]
    selected: tuple[str, ...]
    ran: tuple[str, ...]


def read_runs(path: Path) -> list[ShardRun]:
    """The shard records of a cache folder (none for a store file or a folder without).

    Raises ValueError with a one-line reason when the record is there but unusable.
    """
    if not path.is_dir():
        return []
    file = path.joinpath("v", *RECORD_KEY.split("/"))
    if not file.exists():
        return []
    value = parse_saved(_load_json(file))
    if value is None:
        raise ValueError(f"{file} is not a shard record")
    tests = tuple(value["tests"])
    return [
        ShardRun(
            str(path),
            int(k),
            value["count"],
            value["collection"],
            value["basis"],
            tests,
            tuple(shard["selected"]),
            tuple(shard["ran"]),
        )
        for k, shard in sorted(value["shards"].items(), key=lambda kv: int(kv[0]))
    ]


def _names(nodeids: Sequence[str]) -> str:
    shown = ", ".join(nodeids[:SHOWN])
    more = len(nodeids) - SHOWN
    return f"{shown} (and {more} more)" if more > 0 else shown


@dataclass
class Verdict:
    ok: bool
    lines: list[str] = field(default_factory=list)


def verify(runs: Sequence[ShardRun]) -> Verdict:
    """Whether the shards fit: one N, one collection, one basis, every shard, each test once.

    The same shard found in several inputs (one cache restored into two folders) counts
    once when its records are identical.
    """
    unique: dict[tuple[int, str, str, tuple[str, ...]], ShardRun] = {}
    for run in runs:
        unique.setdefault((run.index, run.collection, run.basis, run.ran), run)
    runs = sorted(unique.values(), key=lambda r: (r.index, r.source))
    problems: list[str] = []
    counts = sorted({r.count for r in runs})
    if len(counts) > 1:
        problems.append(f"shards of different counts: N = {', '.join(map(str, counts))}")
    count = counts[-1]
    indices = {r.index for r in runs}
    missing = [k for k in range(1, count + 1) if k not in indices]
    if missing:
        problems.append(f"{len(missing)} of {count} shards missing: {numbers(missing)}")
    for what, attribute in (("collections", "collection"), ("durations", "basis")):
        groups: dict[str, list[int]] = {}
        for run in runs:
            groups.setdefault(getattr(run, attribute), []).append(run.index)
        if len(groups) > 1:
            parts = "; ".join(f"{numbers(ks)} from {fp}" for fp, ks in groups.items())
            problems.append(f"shards split from different {what}: {parts}")
    collection = sorted({t for r in runs for t in r.tests})
    times: dict[str, int] = dict.fromkeys(collection, 0)
    for run in runs:
        for nodeid in set(run.ran):
            times[nodeid] = times.get(nodeid, 0) + 1
    missed = [n for n in collection if times[n] == 0]
    twice = sorted(n for n, t in times.items() if t > 1)
    if missed:
        problems.append(
            f"{len(missed)} of {len(collection)} tests ran on no shard: {_names(missed)}"
        )
    if twice:
        problems.append(f"{len(twice)} tests ran on more than one shard: {_names(twice)}")
    if problems:
        return Verdict(False, ["shards do not fit together:", *(f"  {p}" for p in problems)])
    return Verdict(
        True, [f"{count} of {count} shards, {len(collection)} tests, each ran on exactly one shard"]
    )


def numbers(indices: Sequence[int]) -> str:
    return ", ".join(str(k) for k in sorted(indices))


def verify_runs(runs: Sequence[ShardRun], required: bool) -> Verdict | None:
    """:func:`verify`, or None when there are no records to check (unless ``required``)."""
    if not runs:
        if required:
            return Verdict(
                False, ["no shard records in the inputs (give the shards' cache folders)"]
            )
        return None
    return verify(runs)
