from __future__ import annotations

import itertools
import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_tempo.scheduling import (
    MIN_PENDING,
    DurationScheduling,
    Plan,
    best_partition,
    dispatch_order,
    lpt_partition,
    plan_units,
)
from pytest_tempo.scheduling.plan import may_keep_together
from pytest_tempo.scheduling.pool import Pool

from .conftest import HAS_XDIST, assert_usage_error
from .simulation import (
    QUIET,
    SHAPES,
    FakeConfig,
    FakeNode,
    Shape,
    Simulator,
    apply_fault,
    duration_maker,
    limit,
    lower_bound,
    real_suite,
    run_cell,
    simulate,
    skewed_mix,
)


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


def test_plan_smoke_first_then_longest_first() -> None:
    collection = ["m.py::a", "m.py::b", "s.py::smoke", "m.py::c", "m.py::new"]
    plan = plan_units(collection, {"m.py::a": 1.0, "m.py::b": 5.0, "m.py::c": 3.0,
                                   "s.py::smoke": 0.1}, smoke={"s.py::smoke"})  # fmt: skip
    assert [collection[u[0]] for u in plan.units] == [
        "s.py::smoke",
        "m.py::new",  # unrecorded: ranked as 4 mean tests, so it starts early
        "m.py::b",
        "m.py::c",
        "m.py::a",
    ]
    # Recorded seconds plus the per-test floor (10th percentile of totals, at most 10 ms);
    # the unrecorded test costs its module's mean.
    assert plan.costs == pytest.approx((0.11, 3.01, 5.01, 3.01, 1.01))


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


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),  # the module
            st.floats(0.0, 2.0, allow_nan=False),  # the test's recorded seconds
            st.one_of(st.none(), st.floats(0.0, 2.0, allow_nan=False)),  # shared set-up
        ),
        min_size=1,
        max_size=24,
    ),
)
def test_no_module_is_kept_together_where_may_keep_together_says_so(
    tests: list[tuple[int, float, float | None]],
) -> None:
    """The advice's forecast skips planning on this answer: it must never be wrong."""
    collection = [f"m{m}.py::t{i}" for i, (m, _, _) in enumerate(tests)]
    seconds = [s for _, s, _ in tests]
    shared = {n: x for n, (_, _, x) in zip(collection, tests, strict=True) if x is not None}
    totals = dict(zip(collection, seconds, strict=True))
    if may_keep_together(collection, seconds, shared):
        return
    for workers in (1, 2, 4, 8, 16):
        plan = plan_units(collection, totals, shared=shared, workers=workers)
        assert all(len(u) == 1 for u in plan.units), workers


def test_may_keep_together_examples() -> None:
    collection = [f"db.py::t{i}" for i in range(4)] + ["x.py::t0"]
    seconds = [0.5] * 5
    assert may_keep_together(collection, seconds, {"db.py::t0": 1.0})
    assert not may_keep_together(collection, seconds, {"db.py::t0": 0.01})
    assert not may_keep_together(collection, seconds, {"x.py::t0": 1.0})  # a module of one
    assert not may_keep_together(collection, seconds, {})


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


def test_best_partition_beats_lpt_where_lpt_is_not_optimal() -> None:
    costs = [2.0, 2.0, 2.0, 3.0, 3.0, 5.0, 5.0]
    assert max(sum(costs[i] for i in b) for b in lpt_partition(costs, 4)) == 7.0
    bins = best_partition(costs, 4)
    assert sorted(i for b in bins for i in b) == list(range(7))
    assert max(sum(costs[i] for i in b) for b in bins) == 6.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.01, 10), min_size=1, max_size=7), st.integers(2, 4))
def test_best_partition_is_optimal_for_small_inputs(costs: list[float], bins: int) -> None:
    result = best_partition(costs, bins)
    assert sorted(i for b in result for i in b) == list(range(len(costs)))
    assert result == best_partition(costs, bins)  # deterministic
    span = max(sum(costs[i] for i in b) for b in result)
    assert span == pytest.approx(brute_force_optimum(costs, bins))


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
               | None = None, shared: dict[str, float] | None = None) -> None:  # fmt: skip
    path = pytester.path / ".pytest_cache" / "v" / "tempo" / "durations"
    path.parent.mkdir(parents=True, exist_ok=True)
    value: dict[str, dict[str, Any]] = {
        n: {"setup": [0.0], "call": [s], "teardown": [0.0], "marks": (marks or {}).get(n, [])}
        for n, s in tests.items()
    }
    for n, seconds in (shared or {}).items():
        value[n]["shared"] = [seconds]
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
    recorded["tests/smoke/test_up.py::test_up"] = 0.001
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


@needs_xdist
def test_crash_in_a_grouped_module_fails_only_the_crashing_test(
    pytester: pytest.Pytester,
) -> None:
    """A module kept together for its costly fixture: one test kills its worker."""
    pytester.makeconftest(RECORDER)
    pytester.makepyfile(
        test_db="""
        import os
        import pytest

        @pytest.fixture(scope="module")
        def db():
            return {}

        def test_0(db): pass
        def test_1(db): pass
        def test_2(db): os._exit(1)
        def test_3(db): pass
        def test_4(db): pass
        def test_5(db): pass
        """,
        test_other="\n".join(f"def test_{i}(): pass" for i in range(12)),
    )
    db = {f"test_db.py::test_{i}": 0.01 for i in range(6)}
    other = {f"test_other.py::test_{i}": 0.05 for i in range(12)}
    seed_store(pytester, db | other, shared={"test_db.py::test_0": 0.05})
    result = pytester.runpytest("-n", "2", "--tempo-dist=duration")
    result.assert_outcomes(passed=17, failed=1)
    result.stdout.fnmatch_lines(["*worker 'gw*' crashed while running 'test_db.py::test_2'*"])
    runs = ran(pytester)
    everything = [n for ids in runs.values() for n in ids]
    assert everything.count("test_db.py::test_2") == 1  # never sent again
    assert sorted(set(everything)) == sorted(everything)  # nothing ran twice
    assert len(everything) == 18
    # The module went to one worker as a whole: what ran before the crash ran there.
    crashed_on = next(w for w, ids in runs.items() if "test_db.py::test_2" in ids)
    assert {"test_db.py::test_0", "test_db.py::test_1"} <= set(runs[crashed_on]), runs


@needs_xdist
def test_dist_each_runs_every_test_on_every_worker(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(RECORDER)
    pytester.makepyfile("\n".join(f"def test_{i}(): pass" for i in range(6)))
    result = pytester.runpytest("-n", "2", "--dist", "each", "--tempo-dist=duration")
    result.assert_outcomes(passed=12)
    result.stdout.fnmatch_lines(["tempo *dist=duration (inactive with --dist each)*"])
    runs = ran(pytester)
    assert len(runs) == 2
    assert all(len(ids) == 6 for ids in runs.values())


@needs_xdist
def test_dist_loadscope_keeps_groups_and_sends_the_longest_first(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(RECORDER)
    modules = {f"test_m{m}": "\n".join(f"def test_{i}(): pass" for i in range(3)) for m in range(4)}
    pytester.makepyfile(**modules)
    # test_m3 is the longest module, collected last; xdist's loadscope would send it last.
    recorded = {f"test_m{m}.py::test_{i}": 0.01 * (m + 1) for m in range(4) for i in range(3)}
    recorded["test_m3.py::test_0"] = 2.0
    seed_store(pytester, recorded)
    result = pytester.runpytest("-n", "2", "--dist", "loadscope", "--tempo-dist=duration")
    result.assert_outcomes(passed=12)
    result.stdout.fnmatch_lines(["tempo *dist=duration (groups of --dist loadscope)*"])
    runs = ran(pytester)
    for m in range(4):  # every module on one worker
        assert sum(any(n.startswith(f"test_m{m}.py") for n in ids) for ids in runs.values()) == 1
    # (tiers ordering moved the slow test_0 to the end of the collection: test_1 leads)
    assert any(ids[0].startswith("test_m3.py::") for ids in runs.values())


@pytest.mark.parametrize(
    ("dist", "expected"),
    [
        ("load", "dist=duration"),
        ("loadfile", "dist=duration (groups of --dist loadfile)"),
        ("loadgroup", "dist=duration (groups of --dist loadgroup)"),
        ("worksteal", "dist=duration (inactive with --dist worksteal)"),
    ],
)
@needs_xdist
def test_header_names_what_schedules(pytester: pytest.Pytester, dist: str, expected: str) -> None:
    pytester.makepyfile("def test_1(): pass\ndef test_2(): pass\n")
    result = pytester.runpytest(
        "-n", "1", "--dist", dist, "--tempo-dist=duration", "--collect-only"
    )
    assert result.ret == pytest.ExitCode.OK
    header = [line for line in result.outlines if line.startswith("tempo ")]
    assert header, result.stdout.str()
    assert header[0].endswith(expected)


# --- real-world shapes and faults, simulated ----------------------------------------------


def test_tests_recorded_at_zero_do_not_pile_up() -> None:
    """Most tests recorded at zero, each costing 1 ms of overhead: queues stay short."""
    durations = [0.001] * 3000 + [1.0, 0.8, 0.6, 0.5]
    recorded = {f"test_mod.py::test_{i}": 0.0 for i in range(3000)}
    recorded |= {f"test_mod.py::test_{3000 + i}": d for i, d in enumerate(durations[3000:])}
    result = simulate(duration_scheduler(recorded), durations, 4)
    assert result.executed() == list(range(3004))
    # An eighth of a worker's share at most (3000 / 4 / 8), never thousands at once.
    assert result.deepest_queue <= 3004 / 4 / 8 + 2
    assert result.makespan / lower_bound(durations, 4) <= 1.02


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 4), st.data())
def test_fewer_than_two_tests_per_worker_get_the_best_assignment(
    workers: int, data: st.DataObject
) -> None:
    count = data.draw(st.integers(1, 2 * workers - 1))
    durations = data.draw(st.lists(st.floats(0.01, 10), min_size=count, max_size=count))
    recorded = {f"test_mod.py::test_{i}": d for i, d in enumerate(durations)}
    result = simulate(duration_scheduler(recorded), durations, workers)
    assert result.executed() == list(range(count))
    # Each test is dispatched at once: the longest ones first to the least loaded worker.
    optimum = brute_force_optimum(durations, workers)
    assert result.makespan == pytest.approx(optimum)


def grouped_plan(collection: list[str], n: int) -> Plan:
    totals = dict.fromkeys(collection, 0.01)
    return plan_units(collection, totals, (), {"db.py::t0": 0.05}, n)


def test_crash_in_a_grouped_module_returns_only_what_did_not_run() -> None:
    collection = [f"db.py::t{i}" for i in range(6)] + [f"x.py::t{i}" for i in range(30)]
    durations = [0.01] * 36
    plan = grouped_plan(collection, 2)
    assert plan.units[0] == (0, 1, 2, 3, 4, 5)  # the module goes as one unit, first

    def make(config: Any, workers: int) -> DurationScheduling:
        return DurationScheduling(config, quiet_log, grouped_plan, workers)

    result = simulate(make, durations, 2, crash_on={2}, nodeids=collection)
    assert result.crashed == ["db.py::t2"]
    ran = [r[0] for r in result.runs]
    assert sorted(ran) == [i for i in range(36) if i != 2]  # t0 and t1 not run again
    # The rest of the module was broken up: its tests went back one by one, and the
    # worker that was left took the first of them before the replacement worker came up.
    rest = {node for index, node, _, _ in result.runs if index in (3, 4, 5)}
    assert len(rest) == 2


def test_a_crashed_worker_not_yet_reported_down_is_no_internal_error() -> None:
    """Its channel is closed before xdist reports it down: a steal or a send to it in that
    moment must not fail the run (it was an INTERNALERROR); the crash report puts its queue
    back."""
    durations = [0.01] * 40

    result = simulate(duration_scheduler(), durations, 2, crash_on={3}, report_delay=1.0)
    assert result.crashed == ["test_mod.py::test_3"]
    assert result.executed() == [i for i in range(40) if i != 3]


def test_a_plugin_may_run_the_crashed_test_again() -> None:
    """``pytest_handlecrashitem`` implementations call ``mark_test_pending``."""
    durations = [0.01] * 10
    sim = Simulator(duration_scheduler(), durations, 2, crash_on={4})
    sched = sim.sched
    original = sched.remove_node

    def remove_and_retry(node: Any) -> str | None:
        crashed: str | None = original(node)
        if crashed is not None:
            sched.mark_test_pending(crashed)
        return crashed

    sched.remove_node = remove_and_retry
    result = sim.run()
    assert result.crashed == ["test_mod.py::test_4"]
    assert result.executed() == list(range(10))  # the retry ran, once


def test_end_game_takes_back_tests_from_a_long_queue() -> None:
    """One worker is stuck on its first test; the other, run dry, takes back half of the
    stuck worker's queue (never its first two tests: a worker holds its next one)."""
    from types import SimpleNamespace

    from .simulation import FakeConfig, FakeNode

    sim: Any = SimpleNamespace(steals=[], result=SimpleNamespace(steals=0), collection=[])
    collection = [f"m.py::t{i}" for i in range(40)]
    sched = DurationScheduling(FakeConfig(2), quiet_log, duration_plan(collection), 2)
    fast, stuck = FakeNode(sim, "gw0"), FakeNode(sim, "gw1")
    for node in (fast, stuck):
        sched.add_node(node)
        sched.add_node_collection(node, collection)
    sched.schedule()
    assert len(sched.node2pending[stuck]) > 2
    while sched.pool or len(sched.node2pending[fast]) >= 2:
        sched.mark_test_complete(fast, sched.node2pending[fast][0])
    (victim, indices), *_ = sim.steals
    assert victim is stuck
    queued = sched.node2pending[stuck]
    assert indices == queued[len(queued) - len(indices) :]  # from the tail
    assert set(indices).isdisjoint(queued[:2])
    assert not sched.tests_finished  # the answer is awaited
    sched.remove_pending_tests_from_node(stuck, indices)
    assert set(indices) <= set(sched.node2pending[fast])  # the idle worker took them
    assert set(indices).isdisjoint(sched.node2pending[stuck])


def duration_plan(collection: list[str]) -> Any:
    recorded = dict.fromkeys(collection, 0.5)
    return lambda c, n: plan_units(c, recorded, (), None, n)


SMALL = Shape("small", 1200, 0.5, 0.65, 0.05)


@pytest.mark.skipif(not HAS_XDIST, reason="pytest-xdist is not installed")
@pytest.mark.parametrize("fault", ["complete", "50% unrecorded", "1 ms overhead", "crash"])
@pytest.mark.parametrize("workers", [2, 8])
def test_small_matrix_against_xdist(fault: str, workers: int) -> None:
    """The benchmark's rules on a small suite (the full matrix: benchmarks/scheduling)."""
    case = apply_fault(real_suite(SMALL, seed=3), fault, workers, seed=3)
    ratios = run_cell(case, workers, ("duration", "load", "worksteal", "oracle"))
    assert ratios["duration"] <= limit(fault, ratios) + 1e-9
    assert ratios["oracle"] <= ratios["duration"] + 1e-9 or ratios["oracle"] <= 1.01


#: Cells of benchmarks/scheduling's matrix (shape, fault, workers, seed), among them the
#: runs with half the tests unrecorded where a long unrecorded test among trivial siblings
#: once started last and ended the run at up to 1.63 times the bound.
MATRIX_SLICE = [
    ("A", "50% unrecorded", 4, 3),
    ("A", "50% unrecorded", 8, 2),
    ("A", "50% unrecorded", 8, 4),
    ("A", "50% unrecorded", 16, 5),
    ("B", "50% unrecorded", 32, 1),
    ("A", "complete", 8, 4),
    ("B", "30% run 5x", 16, 2),
    ("A", "crash", 8, 4),
]


@pytest.mark.skipif(not HAS_XDIST, reason="pytest-xdist is not installed")
@pytest.mark.parametrize(("shape", "fault", "workers", "seed"), MATRIX_SLICE)
def test_matrix_slice_meets_the_benchmark_rules(
    shape: str, fault: str, workers: int, seed: int
) -> None:
    """A slice of the matrix, the same suites and the same rules (tests/simulation.limit)."""
    suite = real_suite(next(s for s in SHAPES if s.name.startswith(shape)), seed)
    case = apply_fault(suite, fault, workers, seed)
    ratios = run_cell(case, workers, ("duration", "load", "worksteal", "oracle"))
    assert ratios["duration"] <= limit(fault, ratios) + 1e-9, ratios


# --- the dispatch order and the hedge for tests never recorded -----------------------------


def test_dispatch_order_recorded_units_go_longest_first() -> None:
    costs = [1.0, 5.0, 3.0, 5.0]
    assert dispatch_order(costs, [True] * 4, costs, 2) == [1, 3, 2, 0]


def test_dispatch_order_probes_start_before_recorded_units_that_can_wait() -> None:
    # Two workers, an expected makespan of 10 s: the 10 s test cannot wait; the tests never
    # recorded (2 s on two workers: all started by 1 s) go next, the ones whose siblings
    # look cheapest first; the recorded 4 s and 1 s tests can start as late as 6 s and 9 s.
    costs = [10.0, 4.0, 1.0, 1.0, 1.0, 1.0]
    known = [True, True, True, True, False, False]
    hints = [10.0, 4.0, 1.0, 1.0, 0.5, 0.1]
    assert dispatch_order(costs, known, hints, 2) == [0, 5, 4, 1, 2, 3]


def test_dispatch_order_a_probe_that_cannot_wait_goes_by_its_own_latest_start() -> None:
    # An unrecorded test estimated at 9 s of a 10 s makespan: it starts before the probes.
    costs = [10.0, 9.0, 1.0, 1.0]
    known = [True, False, False, True]
    assert dispatch_order(costs, known, costs, 2) == [0, 1, 2, 3]


@given(
    st.lists(
        st.tuples(st.floats(0.001, 100), st.booleans(), st.floats(0.0, 100)),
        max_size=40,
    ),
    st.integers(1, 16),
)
def test_dispatch_order_properties(units: list[tuple[float, bool, float]], workers: int) -> None:
    costs = [c for c, _, _ in units]
    known = [k for _, k, _ in units]
    hints = [h for _, _, h in units]
    order = dispatch_order(costs, known, hints, workers)
    assert sorted(order) == list(range(len(units)))  # a permutation
    assert dispatch_order(costs, known, hints, workers) == order  # deterministic
    recorded = [u for u in order if known[u]]
    assert [costs[u] for u in recorded] == sorted((costs[u] for u in recorded), reverse=True)
    span = max(max(costs, default=0.0), sum(costs) / workers)
    probe_by = sum(c for c, k in zip(costs, known, strict=True) if not k) / workers
    probes = [u for u in order if not known[u] and span - costs[u] >= probe_by]
    assert [hints[u] for u in probes] == sorted(hints[u] for u in probes)
    if probes:  # the probes come before every recorded unit that can start later than them
        first_probe = order.index(probes[0])
        later = [order.index(u) for u in recorded if span - costs[u] > probe_by]
        assert all(position > first_probe for position in later)


def test_pool_head_cheapest_and_take() -> None:
    pool = Pool()
    pool.add(0, (0, 0), (False, 5.0), unknown=False)
    pool.add(1, (0, 1), (True, 0.1), unknown=True)
    pool.add(2, (0, 2), (False, 0.2), unknown=False)
    assert (len(pool), pool.unknown) == (3, 1)
    assert pool.head() == 0
    assert pool.cheapest() == 2  # recorded before unrecorded, then the shortest
    pool.take(2)
    assert pool.cheapest() == 0
    pool.take(0)
    assert pool.head() == pool.cheapest() == 1
    pool.take(1)
    assert not pool
    assert pool.head() is None
    assert pool.cheapest() is None
    assert pool.unknown == 0


def mixed_store(workers: int) -> tuple[list[str], list[float], dict[str, float], Any]:
    """20 trivial and 20 half-second recorded tests; 40 never recorded, of trivial
    siblings, one of which runs 3 s."""
    ids = [f"t.py::test_p[{i}]" for i in range(60)] + [f"m.py::test_{i}" for i in range(20)]
    durations = [0.0] * 60 + [0.5] * 20
    durations[45] = 3.0
    recorded = {n: d for n, d in zip(ids, durations, strict=True) if not 20 <= ids.index(n) < 60}
    return ids, durations, recorded, duration_maker(recorded)


def test_behind_a_test_never_recorded_waits_a_trivial_recorded_one() -> None:
    ids, _, recorded, make = mixed_store(4)
    sim: Any = type("Sim", (), {"steals": [], "collection": ids})()
    sched = make(FakeConfig(4), 4)
    nodes = [FakeNode(sim, f"gw{i}") for i in range(4)]
    for node in nodes:
        sched.add_node(node)
        sched.add_node_collection(node, ids)
    sched.schedule()
    for node in nodes:
        first, second = sched.node2pending[node]  # and no more
        assert ids[first] not in recorded  # a probe first: it may be the long one
        assert recorded.get(ids[second]) == 0.0  # then a trivial recorded test


def test_while_tests_never_recorded_are_left_a_worker_holds_one_behind_its_current() -> None:
    ids, durations, _, make = mixed_store(4)
    sim = Simulator(make, durations, 4, nodeids=ids)
    deepest: list[int] = []
    for node in sim.nodes:
        send = node.send_runtest_some

        def checked(indices: list[int], node: FakeNode = node, send: Any = send) -> None:
            send(indices)
            if sim.sched.pool.unknown:
                deepest.append(len(sim.sched.node2pending[node]))

        node.send_runtest_some = checked  # type: ignore[method-assign]
    result = sim.run()
    assert deepest
    assert max(deepest) <= MIN_PENDING
    assert result.executed() == list(range(80))
    # The 3 s test among trivial siblings started at once, not after 10 s of recorded work.
    start = next(start for index, _, start, _ in result.runs if index == 45)
    assert start < 0.5
    assert result.makespan / lower_bound(durations, 4) <= 1.10


def test_with_nothing_recorded_tests_go_in_batches() -> None:
    """No store: nothing to hedge against, queues hold more than the hedge's one test."""
    durations = [0.01] * 1000
    result = simulate(duration_scheduler(), durations, 4)
    assert result.executed() == list(range(1000))
    assert result.deepest_queue >= MIN_PENDING  # behind the running test
    assert max(result.idle_tail.values()) <= 0.02


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 6),
    st.lists(st.floats(0, 2), min_size=0, max_size=60),
    st.data(),
)
def test_every_test_runs_once_whatever_the_record_says(
    workers: int, durations: list[float], data: st.DataObject
) -> None:
    """Random durations, a random part recorded (wrongly, by up to 10x), random crashes:
    every test that did not crash its worker runs exactly once, and the run ends."""
    ids = [f"m{i % 3}.py::test_{i // 3}[{i}]" for i in range(len(durations))]
    recorded = {
        n: d * data.draw(st.sampled_from([0.1, 1.0, 10.0]))
        for n, d in zip(ids, durations, strict=True)
        if data.draw(st.booleans())
    }
    crashes = set(data.draw(st.lists(st.integers(0, max(len(ids) - 1, 0)), max_size=2)))
    crashes &= set(range(len(ids)))
    result = simulate(duration_maker(recorded), durations, workers, crashes, 4, ids)
    assert sorted(result.crashed) == sorted(ids[i] for i in crashes)
    assert result.executed() == [i for i in range(len(ids)) if i not in crashes]
