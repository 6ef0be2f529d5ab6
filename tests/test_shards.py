from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_tempo.cli import main
from pytest_tempo.costs import CostData, estimate
from pytest_tempo.settings import MAX_SHARDS, ShardSpec, parse_shard
from pytest_tempo.shards import (
    FLOOR_US,
    Basis,
    ShardRun,
    choose_basis,
    doubling,
    estimate_unrecorded,
    parse_saved,
    quantise,
    split,
    verify,
)

from .conftest import HAS_XDIST, assert_usage_error, read_store, xdist_params

if TYPE_CHECKING:
    from pathlib import Path

needs_xdist = pytest.mark.skipif(not HAS_XDIST, reason="pytest-xdist is not installed")


# --- the split -------------------------------------------------------------------------------


def test_quantise_examples() -> None:
    assert quantise(0) == quantise(0.0009) == quantise(math.nan) == FLOOR_US
    assert quantise(0.001) == FLOOR_US  # a 1 ms change of a near-zero test changes nothing
    assert quantise(1.0) == quantise(1.001)
    assert quantise(2.0) == 2 * quantise(1.0)
    assert quantise(math.inf) > quantise(1e6)


@given(st.floats(0, 1e6), st.floats(0, 1e6))
def test_quantise_is_monotonic_and_close(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert quantise(low) <= quantise(high)
    if high > 0.001:
        assert abs(quantise(high) / (high * 1e6) - 1) < 0.05  # within half a step


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(FLOOR_US, 10**9), max_size=60),
    st.integers(1, 12),
    st.data(),
)
def test_split_puts_every_test_in_exactly_one_shard(
    costs: list[int], count: int, data: st.DataObject
) -> None:
    spread = data.draw(st.permutations(range(len(costs))).map(lambda p: p[: len(p) // 3]))
    shards = split(costs, count, spread)
    assert len(shards) == len(costs)
    assert all(0 <= s < count for s in shards)
    assert split(list(costs), count, list(spread)) == shards  # deterministic


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 12), st.data())
def test_unrecorded_tests_are_dealt_evenly_in_count_and_size(
    count: int, data: st.DataObject
) -> None:
    """No recorded test is big (each under 1/16 of a shard's share): every shard has the same
    room, so of the unrecorded tests whose estimates are within one doubling, the shards get
    as many each, within one, however uneven the estimates are."""
    recorded = data.draw(st.integers(40 * count, 60 * count))
    unrecorded = data.draw(st.integers(0, 30 * count))
    costs = [
        *data.draw(st.lists(st.integers(1000, 2000), min_size=recorded, max_size=recorded)),
        *data.draw(st.lists(st.integers(1000, 10**6), min_size=unrecorded, max_size=unrecorded)),
    ]
    spread = data.draw(st.permutations(range(recorded, len(costs))))
    shards = split(costs, count, spread)
    counts: dict[int, list[int]] = {}
    for index in spread:
        counts.setdefault(doubling(costs[index]), [0] * count)[shards[index]] += 1
    assert all(max(c) - min(c) <= 1 for c in counts.values())
    totals = [sum(c[k] for c in counts.values()) for k in range(count)]
    assert max(totals, default=0) - min(totals, default=0) <= max(len(counts), 1)


def test_a_shard_filled_by_a_big_recorded_test_gets_no_unrecorded_one() -> None:
    # One recorded test is a whole shard's share; 400 recorded and 100 unrecorded small ones.
    costs = [600_000, *[1000] * 400, *[2000] * 100]
    spread = list(range(401, 501))
    shards = split(costs, 2, spread)
    assert all(shards[i] != shards[0] for i in spread)
    assert not any(shards[i] == shards[0] for i in range(1, 401))


def _with_big_recorded_tests(count: int, data: st.DataObject) -> tuple[list[int], list[int]]:
    """Costs and spread: 1 to N-1 big recorded tests (20-40 ms, each over 1/16 of a share, each
    dealt to a shard of its own), 40-60 small recorded tests per shard and up to 10 unrecorded
    ones per shard (1-5 ms). Every shard, a big test's too, has room for an even share."""
    big = data.draw(st.lists(st.integers(20_000, 40_000), min_size=1, max_size=count - 1))
    small = data.draw(st.integers(40 * count, 60 * count))
    unrecorded = data.draw(st.integers(count, 10 * count))
    costs = [
        *big,
        *data.draw(st.lists(st.integers(1000, 2000), min_size=small, max_size=small)),
        *data.draw(st.lists(st.integers(1000, 5000), min_size=unrecorded, max_size=unrecorded)),
    ]
    spread = data.draw(st.permutations(range(len(big) + small, len(costs))))
    return costs, list(spread)


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 8), st.data())
def test_unrecorded_tests_are_shared_evenly_whatever_room_the_big_ones_leave(
    count: int, data: st.DataObject
) -> None:
    """A shard that holds a big recorded test gets as many unrecorded tests of every size as
    the others (within one per size): the uncertain mass is shared evenly, not by room."""
    costs, spread = _with_big_recorded_tests(count, data)
    shards = split(costs, count, spread)
    counts: dict[int, list[int]] = {}
    for index in spread:
        counts.setdefault(doubling(costs[index]), [0] * count)[shards[index]] += 1
    assert all(max(c) - min(c) <= 1 for c in counts.values())
    # Not the unrecorded seconds alone: a test of a size may cost twice another of it, and a
    # shard may hold one more of each size. The recorded tests even out the whole.
    loads = [sum(c for c, s in zip(costs, shards, strict=True) if s == k) for k in range(count)]
    assert max(loads) - min(loads) <= 2 * 5000  # the small recorded tests level the rest


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 8), st.data())
def test_a_small_change_of_a_recorded_test_moves_no_unrecorded_one(
    count: int, data: st.DataObject
) -> None:
    """Even shares do not depend on the recorded tests' costs: a change of one small recorded
    test moves no unrecorded test, and at most two recorded ones per boundary."""
    costs, spread = _with_big_recorded_tests(count, data)
    recorded = [i for i in range(len(costs)) if i not in set(spread) and costs[i] <= 2000]
    changed = data.draw(st.sampled_from(recorded))
    after = list(costs)
    after[changed] += data.draw(st.integers(1, 500))
    before, now = split(costs, count, spread), split(after, count, spread)
    assert all(before[i] == now[i] for i in spread)
    assert sum(a != b for a, b in zip(before, now, strict=True)) <= 2 * (count - 1) + 1


def test_split_balances_small_tests_in_contiguous_runs() -> None:
    shards = split([1000] * 400, 4)
    assert shards == sorted(shards)  # in order: neighbours (a module) stay together
    assert [shards.count(k) for k in range(4)] == [100] * 4


def test_split_deals_the_big_tests_first() -> None:
    costs = [10**6, 9 * 10**5, 8 * 10**5] + [1000] * 2700
    shards = split(costs, 3)
    assert sorted(shards[:3]) == [0, 1, 2]
    loads = [sum(c for c, s in zip(costs, shards, strict=True) if s == k) for k in range(3)]
    assert max(loads) / (sum(loads) / 3) < 1.01


def test_more_shards_than_tests_leaves_the_last_ones_empty() -> None:
    assert split([FLOOR_US] * 3, 5) == [0, 1, 2]
    assert split([FLOOR_US] * 3, MAX_SHARDS) == [0, 1, 2]


@settings(max_examples=25, deadline=None)
@given(
    st.integers(2, 8),
    st.data(),
)
def test_a_small_change_moves_at_most_two_tests_per_boundary(
    count: int, data: st.DataObject
) -> None:
    """No test is big (each at most 6 ms with the change, a share of at least 100 ms): a
    change of one test by up to the smallest test's cost shifts each cut point past at most
    two tests."""
    n = data.draw(st.integers(100 * count, 120 * count))
    costs = data.draw(st.lists(st.integers(1000, 5000), min_size=n, max_size=n))
    changed = data.draw(st.integers(0, n - 1))
    delta = data.draw(st.integers(1, 1000))
    after = list(costs)
    after[changed] += delta
    moved = sum(a != b for a, b in zip(split(costs, count), split(after, count), strict=True))
    assert moved <= 2 * (count - 1) + 1


def test_unrecorded_tests_are_estimated_by_the_cost_model() -> None:
    tests = [
        "a.py::test_p[1]",
        "a.py::test_p[2]",
        "a.py::test_q",
        "b.py::C::test_x",
        "b.py::C::test_y",
        "b.py::test_z",
        "c.py::test_new",
        "d.py::C::test_1",
        "d.py::C::test_2",
        "d.py::C::test_3",
        "d.py::C::test_new",
        *(f"e.py::test_{i}" for i in range(4)),
    ]
    big, small, tiny = quantise(8.0), quantise(0.1), quantise(0.01)
    recorded = [big, -1, small, small, -1, -1, -1, big, tiny, tiny, -1, *[small] * 4]
    estimates = estimate_unrecorded(tests, recorded)
    # The prior: the mean of every recorded test, on the grid.
    prior = quantise((2 * big + 6 * small + 2 * tiny) / 10 / 1e6)
    assert estimates[1] == big  # the same function's other parametrization
    # Siblings that cost less than the prior: the prior (as pytest-split counts them).
    assert estimates[4] == estimates[5] == estimates[6] == prior
    # The median of the class, not its mean: one slow sibling does not make the rest slow.
    assert estimates[10] == prior < quantise((big + 2 * tiny) / 3 / 1e6)
    # The same model as the scheduler's (pytest_tempo.costs), without its per-test floor.
    totals = {n: r / 1e6 for n, r in zip(tests, recorded, strict=True) if r >= 0}
    model = estimate(tests, CostData(totals))
    assert estimates[1] == quantise(model.costs[1] - model.floor)
    nothing = [-1] * len(tests)
    assert estimate_unrecorded(tests, nothing) == [FLOOR_US] * len(tests)  # counts


def test_basis_ignores_the_collection_order() -> None:
    totals = {"b::t": 1.0, "a::t": 2.0}
    one, two = Basis.of(["a::t", "b::t"], totals), Basis.of(["b::t", "a::t", "a::t"], totals)
    assert one == two
    assert one.basis_id == two.basis_id
    assert one.collection_id == two.collection_id
    assert Basis.of(["a::t", "b::t"], {"a::t": 2.0, "b::t": 1.5}).basis_id != one.basis_id


# --- batches: shards run one after another in one checkout -----------------------------------


def saved_after(basis: Basis, count: int, shards: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": 1,
        "count": count,
        "collection": basis.collection_id,
        "basis": basis.basis_id,
        "tests": list(basis.tests),
        "recorded": list(basis.recorded),
        "shards": shards,
    }


def test_a_later_shard_of_a_batch_keeps_the_first_ones_basis() -> None:
    ids = ["m::a", "m::b", "m::c", "m::d"]
    before = Basis.of(ids, {"m::a": 5.0, "m::b": 4.0, "m::c": 1.0, "m::d": 1.0})
    ran = {"selected": ["m::a", "m::c"], "ran": ["m::a", "m::c"]}
    saved = parse_saved(saved_after(before, 2, {"1": ran}))
    assert saved is not None
    # Shard 1 measured its tests again (and the store lost an entry): shard 2 keeps the basis.
    rewritten = Basis.of(ids, {"m::a": 0.1, "m::b": 4.0, "m::c": 9.0})
    assert choose_basis(rewritten, saved, ShardSpec(2, 2)) == (before, {"1": ran})
    # Shard 1 again: a new batch. Another N, another collection, a test measured outside the
    # batch: a new batch too.
    assert choose_basis(rewritten, saved, ShardSpec(1, 2)) == (rewritten, {})
    assert choose_basis(rewritten, saved, ShardSpec(2, 3)) == (rewritten, {})
    other = Basis.of([*ids, "m::e"], {})
    assert choose_basis(other, saved, ShardSpec(2, 2)) == (other, {})
    changed = Basis.of(ids, {"m::a": 5.0, "m::b": 7.0, "m::c": 1.0, "m::d": 1.0})
    assert choose_basis(changed, saved, ShardSpec(2, 2)) == (changed, {})


@pytest.mark.parametrize(
    "value",
    [
        None,
        [],
        {"version": 2},
        {"version": 1, "count": "2", "tests": [], "recorded": [], "shards": {}},
        {"version": 1, "count": 2, "tests": ["a"], "recorded": [], "shards": {},
         "collection": "x", "basis": "y"},
        {"version": 1, "count": 2, "tests": ["a"], "recorded": [10**400], "shards": {},
         "collection": "x", "basis": "y"},
        {"version": 1, "count": 2, "tests": ["a"], "recorded": [1.5], "shards": {},
         "collection": "x", "basis": "y"},
        {"version": 1, "count": 2, "tests": ["a"], "recorded": [1], "shards": {"3": {}},
         "collection": "x", "basis": "y"},
        {"version": 1, "count": 2, "tests": ["a"], "recorded": [1],
         "shards": {"1": {"selected": [1], "ran": []}}, "collection": "x", "basis": "y"},
    ],
    ids=["none", "list", "version", "count", "lengths", "huge", "float", "shard-key",
         "selected"],
)  # fmt: skip
def test_unusable_saved_records_are_ignored(value: object) -> None:
    assert parse_saved(value) is None


# --- verification ------------------------------------------------------------------------------


def run(k: int, selected: list[str], n: int = 2, basis: str = "b", collection: str = "c",
        tests: tuple[str, ...] = ("t1", "t2", "t3", "t4")) -> ShardRun:  # fmt: skip
    return ShardRun(f"s{k}", k, n, collection, basis, tests, tuple(selected), tuple(selected))


def test_verify_accepts_shards_that_fit() -> None:
    verdict = verify([run(1, ["t1", "t3"]), run(2, ["t2", "t4"]), run(2, ["t2", "t4"])])
    assert verdict.ok
    assert verdict.lines == ["2 of 2 shards, 4 tests, each ran on exactly one shard"]


def test_verify_names_what_does_not_fit() -> None:
    verdict = verify([run(1, ["t1", "t2"]), run(2, ["t2"], basis="other")])
    assert not verdict.ok
    assert verdict.lines == [
        "shards do not fit together:",
        "  shards split from different durations: 1 from b; 2 from other",
        "  2 of 4 tests ran on no shard: t3, t4",
        "  1 tests ran on more than one shard: t2",
    ]
    verdict = verify([run(1, ["t1", "t2"], n=3), run(3, ["t3", "t4"], n=3, collection="d")])
    assert verdict.lines[1:] == [
        "  1 of 3 shards missing: 2",
        "  shards split from different collections: 1 from c; 3 from d",
    ]
    many = tuple(f"t{i}" for i in range(20))
    verdict = verify([run(1, [], tests=many, n=1)])
    assert (
        verdict.lines[-1] == "  20 of 20 tests ran on no shard: t0, t1, t10, t11, t12 (and 15 more)"
    )


# --- real sessions ---------------------------------------------------------------------------

SUITE = {
    "test_a": "\n".join(f"def test_{i}(): pass" for i in range(7)),
    "test_b": "\n".join(f"def test_{i}(): pass" for i in range(5)),
}
ALL = [f"test_a.py::test_{i}" for i in range(7)] + [f"test_b.py::test_{i}" for i in range(5)]
#: Recorded seconds that make the shards differ from a split by count.
RECORDED = {"test_a.py::test_0": 6.0, "test_a.py::test_1": 5.0, "test_b.py::test_0": 1.0,
            "test_b.py::test_1": 0.5, "test_b.py::test_2": 0.5}  # fmt: skip


def seed_store(root: Path, tests: dict[str, float]) -> None:
    path = root / ".pytest_cache" / "v" / "tempo" / "durations"
    path.parent.mkdir(parents=True, exist_ok=True)
    value = {n: {"setup": [0.0], "call": [s], "teardown": [0.0]} for n, s in tests.items()}
    path.write_text(json.dumps({"version": 1, "tests": value}))


def shard_json(pytester: pytest.Pytester, k: int, n: int, *args: str) -> tuple[Any, Any]:
    out = pytester.path / f"shard-{k}-{n}.json"
    result = pytester.runpytest(f"--shard={k}/{n}", f"--slow-report-json={out}", *args)
    return result, json.loads(out.read_text())["shard"]


def merge(*inputs: Path, out: Path) -> tuple[int, str]:
    process = subprocess.run(
        [sys.executable, "-m", "pytest_tempo.cli", "merge", "-o", str(out), *map(str, inputs)],
        capture_output=True,
        text=True,
        check=False,
    )
    return process.returncode, process.stdout + process.stderr


@xdist_params
def test_shards_run_one_after_another_in_one_checkout(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    """Shard 1 rewrites the store; shard 2 still splits from what shard 1 split from."""
    pytester.makepyfile(**SUITE)
    seed_store(pytester.path, RECORDED)
    _first, one = shard_json(pytester, 1, 2, *xdist_args)
    store = read_store(pytester.path / ".pytest_cache/v/tempo/durations")
    rewritten = {n: e["call"][len(e["call"]) // 2] for n, e in store["tests"].items()}
    # From the rewritten store alone, shard 2 would lose or repeat tests.
    fresh = Basis.of(ALL, rewritten)
    fresh_two = {t for t, s in zip(fresh.tests, fresh.shards(2), strict=True) if s == 1}
    assert fresh_two | set(one["selected"]) != set(ALL)
    second, two = shard_json(pytester, 2, 2, *xdist_args)
    assert one["basis"] == two["basis"]
    assert one["collection"] == two["collection"]
    assert sorted(one["ran"] + two["ran"]) == sorted(ALL)
    if not xdist_args:
        second.stdout.fnmatch_lines([f"tempo shard 2/2: *(split basis {one['basis']}, kept*"])
    code, output = merge(pytester.path / ".pytest_cache", out=pytester.path / "merged")
    assert (code, output.splitlines()[-1]) == (
        0,
        "pytest-tempo merge: 2 of 2 shards, 12 tests, each ran on exactly one shard",
    )


@xdist_params
def test_shards_from_stores_that_differ_by_one_entry(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    """Two machines whose stores differ by one entry: merge names what was lost or repeated."""
    pytester.makepyfile(**SUITE)
    machines = [pytester.path / "m1", pytester.path / "m2"]
    records = []
    for k, machine in enumerate(machines, start=1):
        machine.mkdir()
        for name in SUITE:
            shutil.copy(pytester.path / f"{name}.py", machine)
        store = dict(RECORDED)
        if k == 2:
            del store["test_a.py::test_1"]  # this machine never recorded one test
        seed_store(machine, store)
        pytester.runpytest(
            str(machine),
            f"--rootdir={machine}",
            f"--shard={k}/2",
            f"--slow-report-json={machine}/r.json",
            *xdist_args,
        )
        records.append(json.loads((machine / "r.json").read_text())["shard"])
    ran = records[0]["ran"] + records[1]["ran"]
    missed = sorted(set(ALL) - set(ran))
    twice = sorted({n for n in ran if ran.count(n) > 1})
    assert missed or twice  # the case really loses or repeats tests
    assert records[0]["basis"] != records[1]["basis"]
    code, output = merge(*(m / ".pytest_cache" for m in machines), out=pytester.path / "out")
    assert code == 1
    assert (
        f"  shards split from different durations: 1 from {records[0]['basis']}; 2 from" in output
    )
    if missed:
        assert f"{len(missed)} of 12 tests ran on no shard: {', '.join(missed[:5])}" in output
    if twice:
        assert f"{len(twice)} tests ran on more than one shard: {', '.join(twice[:5])}" in output


def selected(result: pytest.RunResult) -> list[str]:
    return [line.split(" ")[0] for line in result.outlines if line.endswith(" PASSED")]


@pytest.mark.parametrize("count", [2, 3])
def test_shards_split_the_suite_exactly(pytester: pytest.Pytester, count: int) -> None:
    pytester.makepyfile(**SUITE)
    union: list[str] = []
    for k in range(1, count + 1):
        result = pytester.runpytest("-v", f"--shard={k}/{count}", "-p", "no:cacheprovider")
        mine = selected(result)
        result.assert_outcomes(passed=len(mine), deselected=12 - len(mine))
        result.stdout.fnmatch_lines(
            [f"tempo shard {k}/{count}: {len(mine)} tests, *balanced by test counts*"]
        )
        assert abs(len(mine) - 12 / count) < 1
        union += mine
    assert len(union) == len(set(union)) == 12


def test_shards_balance_by_recorded_durations(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**SUITE)
    # Every shard starts from the same store, as CI machines restore the same cache.
    seed_store(pytester.path, RECORDED)
    one = pytester.runpytest("-v", "--shard=1/2")
    shutil.rmtree(pytester.path / ".pytest_cache")
    seed_store(pytester.path, RECORDED)
    two = pytester.runpytest("-v", "--shard=2/2")
    first, second = selected(one), selected(two)
    assert len(first + second) == len(set(first + second)) == 12
    assert ("test_a.py::test_0" in first) != ("test_a.py::test_1" in first)  # split apart
    one.stdout.fnmatch_lines(
        ["tempo shard 1/2: * tests, ~*s of ~*s, balanced by recorded durations (split basis *)"]
    )
    assert "shard=1/2" in one.stdout.str()


def test_shards_ignore_collection_order(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**SUITE)
    plain = selected(pytester.runpytest("-v", "--shard=1/2", "-p", "no:cacheprovider"))
    reordered = selected(
        pytester.runpytest("-v", "--shard=1/2", "-p", "no:cacheprovider", "test_b.py", "test_a.py")
    )
    assert sorted(plain) == sorted(reordered)


@needs_xdist
def test_shard_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**SUITE)
    counts = []
    for k in (1, 2):
        result = pytester.runpytest("-n", "2", f"--shard={k}/2", "-p", "no:cacheprovider")
        outcomes = result.parseoutcomes()
        counts.append(outcomes["passed"])
        result.stdout.fnmatch_lines(
            [f"tempo shard {k}/2: {outcomes['passed']} tests, ~*s expected"]
        )
    assert sum(counts) == 12


@xdist_params
def test_more_shards_than_tests(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    """An empty shard says so and exits as pytest does when nothing is selected (code 5)."""
    pytester.makepyfile("def test_1(): pass\ndef test_2(): pass\ndef test_3(): pass\n")
    empty, record = shard_json(pytester, 5, 8, *xdist_args)
    assert empty.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    line = "tempo shard 5/8: 0 tests: this shard is empty"
    empty.stdout.fnmatch_lines(
        [line + ("*" if xdist_args else " (3 tests collected for 8 shards)")]
    )
    assert (record["selected"], record["ran"], record["tests"]) == ([], [], 3)
    full, record = shard_json(pytester, 2, 8, *xdist_args)
    full.assert_outcomes(passed=1)
    assert record["ran"] == ["test_more_shards_than_tests.py::test_2"]


def test_too_many_shards_is_a_usage_error(pytester: pytest.Pytester) -> None:
    assert_usage_error(
        pytester,
        ["--shard=1/50000000"],
        f"ERROR: --shard: '1/50000000' is not valid: expected at most {MAX_SHARDS} shards (N)*",
    )
    assert parse_shard(f"{MAX_SHARDS}/{MAX_SHARDS}") == ShardSpec(MAX_SHARDS, MAX_SHARDS)


@xdist_params
def test_the_shard_record_in_the_json_report(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    from importlib.resources import files

    jsonschema = pytest.importorskip("jsonschema")
    pytester.makepyfile(**SUITE)
    _, record = shard_json(pytester, 1, 3, *xdist_args)
    document = json.loads((pytester.path / "shard-1-3.json").read_text())
    schema = json.loads(files("pytest_tempo").joinpath("schemas/slow-report.json").read_text())
    jsonschema.validate(document, schema)
    basis = Basis.of(ALL, {})
    assert record == {
        "index": 1,
        "count": 3,
        "collection": basis.collection_id,
        "tests": 12,
        "basis": basis.basis_id,
        "selected": sorted(record["ran"]),
        "ran": record["ran"],
    }
    assert len(record["ran"]) == 4


@pytest.mark.parametrize(
    "content",
    ['{"version": 1, "count": 2', b"\xff\xfe", "[" * 100_000 + "]" * 100_000, '{"version": 1}'],
    ids=["truncated", "bad-utf8", "deep", "wrong-shape"],
)
def test_merge_refuses_an_unusable_shard_record(tmp_path: Path, content: str | bytes) -> None:
    seed_store(tmp_path, RECORDED)
    record = tmp_path / ".pytest_cache" / "v" / "tempo" / "shard"
    if isinstance(content, bytes):
        record.write_bytes(content)
    else:
        record.write_text(content)
    code, output = merge(tmp_path / ".pytest_cache", out=tmp_path / "out")
    assert code == 2
    assert output.strip().splitlines() == [f"pytest-tempo merge: {record} is not a shard record"]


def test_merge_verify_requires_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed_store(tmp_path, RECORDED)
    assert main(["merge", "-o", str(tmp_path / "out"), str(tmp_path / ".pytest_cache")]) == 0
    args = ["merge", "--verify", "-o", str(tmp_path / "out"), str(tmp_path / ".pytest_cache")]
    assert main(args) == 1
    assert capsys.readouterr().err.splitlines() == [
        "pytest-tempo merge: no shard records in the inputs (give the shards' cache folders)"
    ]


@xdist_params
def test_a_hostile_saved_record_starts_a_new_batch(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    pytester.makepyfile(**SUITE)
    record = pytester.path / ".pytest_cache" / "v" / "tempo" / "shard"
    record.parent.mkdir(parents=True)
    record.write_text("[" * 100_000 + "]" * 100_000)
    result, one = shard_json(pytester, 1, 2, *xdist_args)
    result.assert_outcomes(passed=6, deselected=None if xdist_args else 6)
    saved = parse_saved(json.loads(record.read_text()))
    assert saved is not None
    assert saved["shards"] == {"1": {"selected": one["selected"], "ran": one["ran"]}}


PROJECT = {
    f"tests/test_{name}.py": "import pytest\n\n"
    + "\n".join(f"def test_{i}(): pass" for i in range(count))
    + "\n\n@pytest.mark.parametrize('n', range(4))\ndef test_p(n): pass\n"
    for name, count in (("api", 6), ("models", 5), ("views", 3))
}


def project_copy(root: Path) -> Path:
    for name, text in PROJECT.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "pytest.ini").write_text("[pytest]\nconsole_output_style = classic\n")
    return root


def pytest_in(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@needs_xdist
@pytest.mark.slow
def test_the_ci_recipe_end_to_end(pytester: pytest.Pytester) -> None:
    """The GitHub Actions recipe, played locally: one store restored into three fresh
    copies of a project, a shard under -n 2 in each, their cache folders merged into a fresh
    checkout's .pytest_cache, and a next run there that splits from the merged store."""
    ids = [f"tests/test_{m}.py::test_{i}" for m, c in (("api", 6), ("models", 5), ("views", 3))
           for i in range(c)]  # fmt: skip
    recorded = {nodeid: 0.01 * (i % 7) for i, nodeid in enumerate(ids)}
    recorded["tests/test_api.py::test_0"] = 3.0  # parametrized tests: never recorded
    machines = []
    for k in (1, 2, 3):
        machine = project_copy(pytester.path / f"machine{k}")
        seed_store(machine, recorded)  # actions/cache/restore
        result = pytest_in(machine, "-n", "2", f"--shard={k}/3")
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"tempo shard {k}/3: " in result.stdout
        machines.append(machine / ".pytest_cache")  # upload-artifact, download-artifact
    fresh = project_copy(pytester.path / "fresh")
    # A fresh checkout has no .pytest_cache: merge -o creates it as pytest would.
    assert not (fresh / ".pytest_cache").exists()
    code, output = merge(*machines, out=fresh / ".pytest_cache")
    assert code == 0, output
    assert output.splitlines()[-1] == (
        "pytest-tempo merge: 3 of 3 shards, 26 tests, each ran on exactly one shard"
    )
    # The union of the shards is the full collection, each test once.
    collected = pytest_in(fresh, "--collect-only", "-q", "-p", "no:cacheprovider").stdout
    collection = sorted(line for line in collected.splitlines() if "::" in line)
    assert len(collection) == 26
    ran = [n for m in machines for n in json.loads((m / "v/tempo/shard").read_text())["shards"]
           .popitem()[1]["ran"]]  # fmt: skip
    assert sorted(ran) == collection
    # The next run reads the merged store: every test now has a record.
    after = pytest_in(fresh, "--shard=1/3", "-v")
    assert after.returncode == 0, after.stdout + after.stderr
    assert "balanced by recorded durations" in after.stdout
    store = json.loads((fresh / ".pytest_cache/v/tempo/durations").read_text())
    assert set(collection) <= set(store["tests"])
