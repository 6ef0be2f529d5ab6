from __future__ import annotations

import itertools
import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_tempo.scheduling import (
    DurationScheduling,
    Plan,
    estimates,
    lpt_partition,
    plan_units,
)

from .conftest import HAS_XDIST, assert_usage_error
from .simulation import QUIET, lower_bound, simulate, skewed_mix


def quiet_log(*args: object) -> None:
    pass


def duration_scheduler(recorded: dict[str, float] | None = None) -> Any:
    def make(config: Any, workers: int) -> DurationScheduling:
        def plan_for(collection: list[str], n: int) -> Plan:
            return plan_units(collection, recorded or {}, (), None, n)

        return DurationScheduling(config, quiet_log, plan_for, workers)

    return make


def recorded_for(durations: list[float], noise: float = 0.1, seed: int = 0) -> dict[str, float]:
    rng = random.Random(seed)
    return {
        f"test_mod.py::test_{i}": d * rng.uniform(1 - noise, 1 + noise)
        for i, d in enumerate(durations)
    }


# --- planning and partitioning ------------------------------------------------------------


def test_estimates_use_the_median_for_unknown_tests() -> None:
    assert estimates(["a", "b", "c", "d"], {"a": 1.0, "b": 3.0, "c": 10.0}) == [1, 3, 10, 3]
    assert estimates(["a", "b"], {}) == [1.0, 1.0]


def test_plan_smoke_first_then_longest_first() -> None:
    collection = ["m.py::a", "m.py::b", "s.py::smoke", "m.py::c", "m.py::new"]
    plan = plan_units(collection, {"m.py::a": 1.0, "m.py::b": 5.0, "m.py::c": 3.0,
                                   "s.py::smoke": 0.1}, smoke={"s.py::smoke"})  # fmt: skip
    assert [collection[u[0]] for u in plan.units] == [
        "s.py::smoke",
        "m.py::b",
        "m.py::c",
        "m.py::new",  # unknown: the median of the known ones (2.0)
        "m.py::a",
    ]
    assert plan.costs == (0.1, 5.0, 3.0, 2.0, 1.0)


def test_plan_keeps_modules_with_costly_shared_fixtures_together() -> None:
    collection = [f"db.py::t{i}" for i in range(4)] + [f"x.py::t{i}" for i in range(20)]
    totals = dict.fromkeys(collection, 0.5)
    shared = {"db.py::t0": 1.0}  # a module fixture of 1 s for 2 s of tests
    plan = plan_units(collection, totals, shared=shared, workers=2)
    assert (0, 1, 2, 3) in plan.units
    assert len(plan.units) == 21
    # Half a worker's share or more: kept apart, it would unbalance the run.
    plan = plan_units(collection[:4] + collection[4:6], totals, shared=shared, workers=2)
    assert all(len(u) == 1 for u in plan.units)
    # A cheap fixture is not worth it.
    plan = plan_units(collection, totals, shared={"db.py::t0": 0.01}, workers=2)
    assert all(len(u) == 1 for u in plan.units)


def test_lpt_partition_examples() -> None:
    assert lpt_partition([1, 1, 1, 1, 1], 2) == [[0, 2, 4], [1, 3]]
    assert lpt_partition([5, 4, 3, 3, 3], 2) == [[0, 3], [1, 2, 4]]
    assert lpt_partition([], 3) == [[], [], []]


def brute_force_optimum(costs: list[float], bins: int) -> float:
    best = float("inf")
    for assignment in itertools.product(range(bins), repeat=len(costs)):
        loads = [0.0] * bins
        for cost, b in zip(costs, assignment, strict=True):
            loads[b] += cost
        best = min(best, max(loads))
    return best


@given(
    st.lists(st.floats(0, 100, allow_nan=False), max_size=40),
    st.integers(1, 8),
)
def test_lpt_partition_properties(costs: list[float], bins: int) -> None:
    parts = lpt_partition(costs, bins)
    assert len(parts) == bins
    assert sorted(i for p in parts for i in p) == list(range(len(costs)))  # each once
    assert lpt_partition(costs, bins) == parts  # deterministic
    loads = [sum(costs[i] for i in p) for p in parts]
    longest = max(costs, default=0.0)
    assert max(loads, default=0.0) <= sum(costs) / bins + longest + 1e-9


@settings(max_examples=60)
@given(st.lists(st.floats(0.1, 10, allow_nan=False), min_size=1, max_size=7), st.integers(2, 3))
def test_lpt_partition_within_four_thirds_of_optimal(costs: list[float], bins: int) -> None:
    loads = [sum(costs[i] for i in p) for p in lpt_partition(costs, bins)]
    assert max(loads) <= 4 / 3 * brute_force_optimum(costs, bins) + 1e-9


# --- the scheduler, simulated -------------------------------------------------------------


@pytest.mark.parametrize("tests", [0, 1, 2, 3, 5])
@pytest.mark.parametrize("workers", [1, 2, 4])
def test_tiny_suites_never_stall(tests: int, workers: int) -> None:
    durations = [0.01 * (i + 1) for i in range(tests)]
    result = simulate(duration_scheduler(), durations, workers)
    assert result.executed() == list(range(tests))


@pytest.mark.parametrize("workers", [2, 4])
def test_every_test_runs_once_and_longest_start_first(workers: int) -> None:
    durations = skewed_mix(seed=1, tests=400)
    result = simulate(duration_scheduler(recorded_for(durations)), durations, workers)
    assert result.executed() == list(range(400))
    longest = sorted(range(400), key=lambda i: -durations[i])[:workers]
    starts = {index: start for index, _, start, _ in result.runs}
    assert all(starts[i] == 0.0 for i in longest)  # the longest tests start at once


def test_crash_and_replacement_worker() -> None:
    durations = skewed_mix(seed=2, tests=200)
    result = simulate(duration_scheduler(recorded_for(durations)), durations, 2, crash_on={7})
    assert result.crashed == ["test_mod.py::test_7"]
    # The crashed test is reported, every other test runs exactly once, on any worker.
    assert result.executed() == [i for i in range(200) if i != 7]
    assert any(node == "gw2" for _, node, _, _ in result.runs)  # the replacement worked


def test_crashes_past_the_restart_limit_do_not_hang() -> None:
    durations = [0.01] * 20
    result = simulate(duration_scheduler(), durations, 2, crash_on={3, 4, 5}, max_restarts=1)
    assert len(result.crashed) == 2  # the second crash ends the run, as in xdist
    assert len(set(result.executed())) == len(result.executed())


@pytest.mark.skipif(not HAS_XDIST, reason="pytest-xdist is not installed")
def test_no_store_is_at_least_as_good_as_load() -> None:
    from xdist.scheduler import LoadScheduling

    durations = skewed_mix(seed=3, tests=600)
    ours = simulate(duration_scheduler(), durations, 4).makespan
    theirs = simulate(lambda config, n: LoadScheduling(config, QUIET), durations, 4).makespan
    assert ours <= theirs * 1.05


@pytest.mark.parametrize("workers", [4, 8, 16])
@pytest.mark.parametrize("seed", [11, 12])
def test_duration_scheduling_near_the_lower_bound(workers: int, seed: int) -> None:
    durations = skewed_mix(seed=seed, tests=3000)
    result = simulate(duration_scheduler(recorded_for(durations, seed=seed)), durations, workers)
    assert result.executed() == list(range(3000))
    assert result.makespan / lower_bound(durations, workers) <= 1.02


@pytest.mark.skipif(not HAS_XDIST, reason="pytest-xdist is not installed")
@pytest.mark.parametrize("name", ["LoadScheduling", "WorkStealingScheduling"])
def test_harness_drives_xdist_builtins(name: str) -> None:
    import xdist.scheduler

    cls = getattr(xdist.scheduler, name)
    durations = skewed_mix(seed=5, tests=500)
    for workers in (1, 3):
        result = simulate(lambda config, n: cls(config, QUIET), durations, workers)
        assert result.executed() == list(range(500))
        assert result.makespan >= lower_bound(durations, workers) - 1e-9


# --- through pytest -----------------------------------------------------------------------

needs_xdist = pytest.mark.skipif(not HAS_XDIST, reason="pytest-xdist is not installed")

RECORDER = """
    import os, time

    def pytest_runtest_call(item):
        worker = os.environ.get("PYTEST_XDIST_WORKER", "master")
        with open(f"ran-{worker}.txt", "a") as f:
            f.write(item.nodeid + "\\n")
"""


def seed_store(pytester: pytest.Pytester, tests: dict[str, float], marks: dict[str, list[str]]
               | None = None) -> None:  # fmt: skip
    path = pytester.path / ".pytest_cache" / "v" / "tempo" / "durations"
    path.parent.mkdir(parents=True, exist_ok=True)
    value = {
        n: {"setup": [0.0], "call": [s], "teardown": [0.0], "marks": (marks or {}).get(n, [])}
        for n, s in tests.items()
    }
    path.write_text(json.dumps({"version": 1, "tests": value}))


def ran(pytester: pytest.Pytester) -> dict[str, list[str]]:
    return {
        p.stem.removeprefix("ran-"): p.read_text().split()
        for p in sorted(pytester.path.glob("ran-*.txt"))
    }


@needs_xdist
def test_dispatch_smoke_first_then_slowest(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(RECORDER)
    pytester.makepyfile(
        test_a="""
        import pytest
        @pytest.mark.parametrize("n", range(8))
        def test_quick(n): pass
        def test_long_1(): pass
        def test_long_2(): pass
        def test_long_3(): pass
        """,
        **{"tests/smoke/test_up.py": "def test_up(): pass\n"},
    )
    recorded = {f"test_a.py::test_quick[{n}]": 0.001 for n in range(8)}
    recorded |= {"test_a.py::test_long_1": 3.0, "test_a.py::test_long_2": 2.0,
                 "test_a.py::test_long_3": 1.0}  # fmt: skip
    seed_store(pytester, recorded)
    result = pytester.runpytest("-n", "2", "--tempo-dist=duration")
    result.assert_outcomes(passed=12)
    result.stdout.fnmatch_lines(["tempo *dist=duration*"])
    runs = ran(pytester)
    firsts = sorted(ids[0] for ids in runs.values())
    # The smoke test goes out first; the longest test starts at once on the other worker.
    assert firsts == ["test_a.py::test_long_1", "tests/smoke/test_up.py::test_up"]
    smoke_worker = next(w for w, ids in runs.items() if ids[0].endswith("test_up"))
    assert runs[smoke_worker][1] == "test_a.py::test_long_2"  # the next longest, not both
    assert sum(len(ids) for ids in runs.values()) == 12


@needs_xdist
@pytest.mark.parametrize("tests", [1, 2, 3])
@pytest.mark.slow
def test_tiny_suites_with_more_workers(pytester: pytest.Pytester, tests: int) -> None:
    pytester.makepyfile("\n".join(f"def test_{i}(): pass" for i in range(tests)))
    result = pytester.runpytest("-n", "4", "--tempo-dist=duration")
    result.assert_outcomes(passed=tests)
    # A second run, now with durations recorded.
    pytester.runpytest("-n", "4", "--tempo-dist=duration").assert_outcomes(passed=tests)


@needs_xdist
def test_crash_and_restart(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import os
        def test_ok_1(): pass
        def test_crash(): os._exit(1)
        def test_ok_2(): pass
        def test_ok_3(): pass
        """
    )
    result = pytester.runpytest("-n", "2", "--tempo-dist=duration", "--max-worker-restart=1")
    result.assert_outcomes(passed=3, failed=1)
    crashed = "*worker 'gw*' crashed while running 'test_crash_and_restart.py::test_crash'*"
    result.stdout.fnmatch_lines([crashed])
    result.stdout.fnmatch_lines(["*replacing crashed worker gw*"])


@needs_xdist
def test_store_with_tests_that_no_longer_exist(pytester: pytest.Pytester) -> None:
    seed_store(pytester, {"gone.py::test_x": 9.0, "test_a.py::test_1": 0.5})
    pytester.makepyfile(test_a="def test_1(): pass\ndef test_2(): pass\n")
    result = pytester.runpytest("-n", "2", "--tempo-dist=duration")
    result.assert_outcomes(passed=2)


@needs_xdist
@pytest.mark.parametrize(
    "extra", [[], ["--continue-on-collection-errors"]], ids=["default", "continue-on-errors"]
)
def test_collection_errors_as_with_xdist_load(pytester: pytest.Pytester, extra: list[str]) -> None:
    pytester.makepyfile(test_a="def test_1(): pass\n", test_b="import nonexistent_module\n")
    ours = pytester.runpytest("-n", "2", "--tempo-dist=duration", *extra)
    theirs = pytester.runpytest("-n", "2", "--dist=load", *extra)
    assert ours.parseoutcomes() == theirs.parseoutcomes()
    assert ours.ret == theirs.ret != pytest.ExitCode.OK
    ours.stdout.fnmatch_lines(["*ModuleNotFoundError: No module named 'nonexistent_module'*"])


def test_dist_without_xdist_is_a_note(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_1(): pass")
    result = pytester.runpytest("--tempo-dist=duration")
    result.assert_outcomes(passed=1)
    if HAS_XDIST:
        result.stdout.fnmatch_lines(["tempo *dist=duration (inactive without -n)*"])
    else:
        result.stdout.fnmatch_lines(["tempo *dist=duration (inactive: pytest-xdist is not *"])


RANGE = "expected K/N with 1 <= K <= N, such as 1/4"
DIST = "expected one of off, duration"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shard=0/2"], f"--shard: '0/2' is not valid: {RANGE}"),
        (["--shard=3/2"], f"--shard: '3/2' is not valid: {RANGE}"),
        (
            ["--shard=a/b"],
            "--shard: 'a/b' is not valid: expected K/N with whole numbers, such as 1/4",
        ),
        (["--tempo-dist=bogus"], f"--tempo-dist: 'bogus' is not valid: {DIST}"),
        (["-o", "tempo_dist=fast"], f"tempo_dist (ini): 'fast' is not valid: {DIST}"),
    ],
    ids=[
        "shard-k-zero",
        "shard-k-over-n",
        "shard-not-numbers",
        "tempo-dist-bogus",
        "tempo_dist-fast",
    ],
)
def test_bad_values(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    assert_usage_error(pytester, args, f"ERROR: {message}")
