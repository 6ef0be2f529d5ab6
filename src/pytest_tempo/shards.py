"""``--shard=K/N``: CI shards that fit together, and a record that proves it.

**The split.** Every shard computes the same split from the same *basis*: the collected node
ids in sorted order and, per test, its recorded seconds quantised to a log grid (a floor of
:data:`FLOOR_US`, then :data:`STEPS_PER_DOUBLING` steps per doubling), so a measurement that
moves a little usually keeps its value. A test without a record is estimated from its
siblings: the mean of the same function's other parametrizations, else of its class, else of
its module, else of every recorded test (pytest-split's rule). The few tests that dominate
(each over 1/:data:`BIG_SHARE` of a shard's share) are dealt longest first, each to the least
loaded shard; the many small ones are then cut, in sorted order, into contiguous runs that
fill every shard to one level. A small change to one small test shifts those cut points by
about its own size, so it moves a test or two per boundary, where a longest-first deal of
every test can move thousands.

**The batch.** Shards run one after another in one checkout rewrite the store between them.
The first shard of a batch keeps its basis in the cache (key :data:`RECORD_KEY`); a later
shard of the same N and the same collection splits from that basis as long as the store
differs from it only in tests the batch's shards ran. Any other difference (a shard number
run twice, a run in between, another collection) starts a new batch.

**The record.** Each shard records N, K, the fingerprints of its collection and of its basis,
the tests it selected and the tests that ran, in the cache (written by the controller only)
and in ``--slow-report-json``. ``pytest-tempo merge`` reads the records of the shards' cache
folders and checks them with :func:`verify`.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ._xdist import from_worker, to_controller, to_worker, worker_input
from .timing import REPORT_EXTRAS

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from pytest import Cache

    from .settings import ShardSpec

__all__ = [
    "RECORD_KEY",
    "Basis",
    "ShardPlugin",
    "ShardRun",
    "choose_basis",
    "estimate_unrecorded",
    "quantise",
    "read_runs",
    "split",
    "verify",
    "verify_runs",
]

#: The cache key of the shard record (``.pytest_cache/v/tempo/shard``).
RECORD_KEY = "tempo/shard"
RECORD_VERSION = 1
#: The key of the saved record in what the controller ships a worker, and of a worker's record in
#: what it sends back.
WORKERINPUT_SAVED = "tempo_shard_saved"
WORKEROUTPUT_RECORD = "tempo_shard"
#: Every test costs at least this much (microseconds): pytest's own overhead per test.
FLOOR_US = 1000
#: Steps of the quantisation grid per doubling of the seconds (about 9% apart).
STEPS_PER_DOUBLING = 8
#: A test is dealt on its own when it is larger than a shard's share divided by this.
BIG_SHARE = 16
#: Tests named in each line of a failed verification.
SHOWN = 5


def quantise(seconds: float) -> int:
    """Microseconds on the grid: at least :data:`FLOOR_US`, then 8 steps per doubling."""
    us = seconds * 1e6
    if not us > FLOOR_US:  # also NaN
        return FLOOR_US
    if math.isinf(us):
        us = 1e15
    step = round(STEPS_PER_DOUBLING * math.log2(us / FLOOR_US))
    return round(FLOOR_US * 2 ** (step / STEPS_PER_DOUBLING))


def fingerprint(parts: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\n")
    return digest.hexdigest()[:16]


def _function(nodeid: str) -> str:
    return nodeid.split("[", 1)[0]


def _parent(nodeid: str) -> str:
    return _function(nodeid).rsplit("::", 1)[0]


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def estimate_unrecorded(tests: Sequence[str], recorded: Sequence[int]) -> list[int]:
    """Quantised microseconds per test; an unrecorded test (-1) from its siblings.

    The mean of the recorded tests of the same function (other parametrizations), else of
    the same class (or module, for a test function), else of the same module, else of all.
    With nothing recorded, every test counts the floor: the split is by count.
    """
    known = [r for r in recorded if r >= 0]
    if len(known) == len(recorded):
        return list(recorded)
    if not known:
        return [FLOOR_US] * len(recorded)
    overall = quantise(sum(known) / len(known) / 1e6)
    keys = (_function, _parent, _module)
    sums: list[dict[str, list[int]]] = [{} for _ in keys]
    for nodeid, value in zip(tests, recorded, strict=True):
        if value >= 0:
            for key, table in zip(keys, sums, strict=True):
                total = table.setdefault(key(nodeid), [0, 0])
                total[0] += value
                total[1] += 1
    result = []
    for nodeid, value in zip(tests, recorded, strict=True):
        if value < 0:
            value = overall
            for key, table in zip(keys, sums, strict=True):
                found = table.get(key(nodeid))
                if found:
                    value = quantise(found[0] / found[1] / 1e6)
                    break
        result.append(value)
    return result


def split(costs: Sequence[int], count: int, spread: Sequence[int] = ()) -> list[int]:
    """The shard (0-based) of each test, given in canonical (sorted) order with its cost.

    Tests over 1/BIG_SHARE of a shard's share are dealt longest first (ties by position) to
    the least loaded shard (ties to the lower number). The small tests of ``spread`` (the
    unrecorded ones, in an order unrelated to their names) are then cut in that order into
    N contiguous runs of equal cost, so that whatever their estimates get wrong, for a new
    parametrized function say, is spread evenly. The other small tests, in order, are cut
    into contiguous runs that raise every shard to one level. A test goes where its midpoint
    falls. With more shards than tests, the last shards are empty.
    """
    shard = [0] * len(costs)
    if count <= 1 or not costs:
        return shard
    total = sum(costs)
    limit = total / count / BIG_SHARE
    big = sorted((i for i, c in enumerate(costs) if c > limit), key=lambda i: (-costs[i], i))
    loads = [0] * count
    heap = [(0, b) for b in range(min(count, max(len(big), 1)))]
    for index in big:
        load, b = heapq.heappop(heap)
        shard[index] = b
        loads[b] = load + costs[index]
        heapq.heappush(heap, (loads[b], b))
    placed = set(big)
    guessed = [i for i in spread if i not in placed]
    if guessed:
        part = sum(costs[i] for i in guessed) / count
        _cut(costs, guessed, shard, [part * (b + 1) for b in range(count)])
        for index in guessed:
            loads[shard[index]] += costs[index]
        placed.update(guessed)
    rest = [i for i in range(len(costs)) if i not in placed]
    amount = sum(costs[i] for i in rest)
    if amount:
        level = _water_level(loads, amount)
        bounds: list[float] = []
        reached = 0.0
        for load in loads:
            reached += max(level - load, 0.0)
            bounds.append(reached)
        _cut(costs, rest, shard, bounds)
    return shard


def _cut(
    costs: Sequence[int], indices: Sequence[int], shard: list[int], bounds: Sequence[float]
) -> None:
    """Contiguous runs: each test to the first shard whose bound its midpoint has not reached."""
    b, position, last = 0, 0, len(bounds) - 1
    for index in indices:
        middle = position + costs[index] / 2
        while b < last and middle >= bounds[b]:
            b += 1
        shard[index] = b
        position += costs[index]


def _water_level(loads: Sequence[int], amount: int) -> float:
    """The level W with sum(max(W - load, 0)) == amount."""
    ordered = sorted(loads)
    below = 0
    for j, load in enumerate(ordered, start=1):
        below += load
        level = (amount + below) / j
        if j == len(ordered) or level <= ordered[j]:
            return level
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class Basis:
    """What a split is computed from: the sorted collection and its quantised records."""

    tests: tuple[str, ...]
    #: quantised microseconds per test, -1 where nothing is recorded
    recorded: tuple[int, ...]

    @classmethod
    def of(cls, nodeids: Iterable[str], totals: Mapping[str, float]) -> Basis:
        tests = tuple(sorted(set(nodeids)))
        recorded = tuple(quantise(totals[n]) if n in totals else -1 for n in tests)
        return cls(tests, recorded)

    @property
    def collection_id(self) -> str:
        return fingerprint(self.tests)

    @property
    def basis_id(self) -> str:
        return fingerprint([*self.tests, *map(str, self.recorded)])

    @property
    def any_recorded(self) -> bool:
        return any(r >= 0 for r in self.recorded)

    def costs(self) -> list[int]:
        return estimate_unrecorded(self.tests, self.recorded)

    def spread(self) -> list[int]:
        """The unrecorded tests (when any test is recorded), ordered by a hash of the id."""
        if not self.any_recorded:
            return []
        unknown = [i for i, r in enumerate(self.recorded) if r < 0]
        return sorted(unknown, key=lambda i: (fingerprint([self.tests[i]]), i))

    def shards(self, count: int) -> list[int]:
        return split(self.costs(), count, self.spread())


def choose_basis(
    fresh: Basis, saved: Mapping[str, Any] | None, spec: ShardSpec
) -> tuple[Basis, dict[str, Any]]:
    """The basis to split from, and the earlier shards of its batch (``{"K": record}``).

    The saved batch is continued when it has the same N and collection, has not run this K
    yet, and the store differs from its basis only in tests its shards ran (which they
    measured again) or in entries it no longer has. Otherwise this shard starts a new batch
    from ``fresh``.
    """
    if saved is None or saved.get("count") != spec.count or str(spec.index) in saved["shards"]:
        return fresh, {}
    old = Basis(tuple(saved["tests"]), tuple(saved["recorded"]))
    if old.tests != fresh.tests:
        return fresh, {}
    ran = {n for shard in saved["shards"].values() for n in shard["ran"]}
    for nodeid, before, now in zip(fresh.tests, old.recorded, fresh.recorded, strict=True):
        # A test the batch ran was measured again; an entry the store lost is no news.
        if before != now and now >= 0 and nodeid not in ran:
            return fresh, {}
    return old, dict(saved["shards"])


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
        problems.append(f"{len(missing)} of {count} shards missing: {_numbers(missing)}")
    for what, attribute in (("collections", "collection"), ("durations", "basis")):
        groups: dict[str, list[int]] = {}
        for run in runs:
            groups.setdefault(getattr(run, attribute), []).append(run.index)
        if len(groups) > 1:
            parts = "; ".join(f"{_numbers(ks)} from {fp}" for fp, ks in groups.items())
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


def _numbers(indices: Sequence[int]) -> str:
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


# --- the plugin ------------------------------------------------------------------------------


def _seconds(microseconds: int) -> str:
    return f"{microseconds / 1e6:.1f}s"


class ShardPlugin:
    """``--shard=K/N``: deselects every test outside shard K, as ``-k`` does.

    Splits where tests are collected (the process, or each xdist worker alike); records and
    writes on the controller.
    """

    def __init__(self, config: pytest.Config, spec: ShardSpec, totals: Mapping[str, float]) -> None:
        self.spec = spec
        self._config = config
        self._totals = totals
        shipped = worker_input(config)
        self._controller = shipped is None
        cache = getattr(config, "cache", None)
        if shipped is not None:
            self._saved = parse_saved(shipped.get(WORKERINPUT_SAVED))
        else:
            self._saved = read_saved(cache) if cache is not None else None
        #: the record of this shard: the cache value, and what the run selected and ran
        self.value: dict[str, Any] | None = None
        self.selected: list[str] = []
        self._ran: dict[str, None] = {}
        self._line: str | None = None
        self._error: str | None = None
        config.stash.setdefault(REPORT_EXTRAS, {})["shard"] = self.report

    # --- pure-ish steps ---------------------------------------------------------------------

    def select(self, nodeids: Sequence[str]) -> set[str]:
        """The node ids of this shard; also prepares the record and the header line."""
        fresh = Basis.of(nodeids, self._totals)
        basis, earlier = choose_basis(fresh, self._saved, self.spec)
        costs = basis.costs()
        shards = split(costs, self.spec.count, basis.spread())
        k = self.spec.index - 1
        mine = [n for n, s in zip(basis.tests, shards, strict=True) if s == k]
        self.selected = mine
        self.value = {
            "version": RECORD_VERSION,
            "count": self.spec.count,
            "collection": basis.collection_id,
            "basis": basis.basis_id,
            "tests": list(basis.tests),
            "recorded": list(basis.recorded),
            "shards": earlier,
        }
        expected = sum(c for c, s in zip(costs, shards, strict=True) if s == k)
        head = f"tempo shard {self.spec.index}/{self.spec.count}: {len(mine)} tests"
        if not mine:
            self._line = (
                f"{head}: this shard is empty ({len(basis.tests)} tests collected "
                f"for {self.spec.count} shards)"
            )
            return set()
        known = (
            "recorded durations" if basis.any_recorded else "test counts (no durations recorded)"
        )
        kept = f", kept from shards {_numbers([int(e) for e in earlier])}" if earlier else ""
        self._line = (
            f"{head}, ~{_seconds(expected)} of ~{_seconds(sum(costs))}, balanced by {known} "
            f"(split basis {basis.basis_id}{kept})"
        )
        return set(mine)

    def report(self) -> dict[str, Any] | None:
        """This shard's record for ``--slow-report-json``."""
        if self.value is None:
            return None
        return {
            "index": self.spec.index,
            "count": self.spec.count,
            "collection": self.value["collection"],
            "tests": len(self.value["tests"]),
            "basis": self.value["basis"],
            "selected": list(self.selected),
            "ran": list(self._ran),
        }

    def cache_value(self) -> dict[str, Any] | None:
        if self.value is None:
            return None
        shards = dict(self.value["shards"])
        shards[str(self.spec.index)] = {"selected": list(self.selected), "ran": list(self._ran)}
        return {**self.value, "shards": shards}

    # --- hooks --------------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        mine = self.select([item.nodeid for item in items])
        keep = [item for item in items if item.nodeid in mine]
        drop = [item for item in items if item.nodeid not in mine]
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
        to_controller(config, WORKEROUTPUT_RECORD, self.value)

    def pytest_report_collectionfinish(self) -> str | None:
        return self._line

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        to_worker(node, WORKERINPUT_SAVED, self._saved)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: Sequence[str]) -> None:
        # The xdist controller does not collect; its workers deselected already.
        if self._line is not None:
            return
        self.selected = sorted(set(ids))
        head = f"tempo shard {self.spec.index}/{self.spec.count}: {len(self.selected)} tests"
        if not ids:
            self._line = f"{head}: this shard is empty"
        else:
            known = [self._totals[n] for n in self.selected if n in self._totals]
            mean = sum(known) / len(known) if known else 0.0
            seconds = sum(self._totals.get(n, mean) for n in self.selected)
            self._line = f"{head}, ~{seconds:.1f}s expected"
        reporter = node.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(self._line)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        value = parse_saved(from_worker(node, WORKEROUTPUT_RECORD))
        if self.value is None and value is not None:
            self.value = value

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self._controller and report.when == "setup":
            self._ran[report.nodeid] = None

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self._controller:
            return
        cache = getattr(self._config, "cache", None)
        value = self.cache_value()
        if cache is not None and value is not None:
            self._error = write_saved(cache, value)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self._error:
            terminalreporter.write_line(f"tempo: {self._error}", red=True, bold=True)
