"""The advice section: each kind on real sessions (serial and under xdist) and pure judges.

Fixture set-ups and sleeps of the inner runs are measured on a virtual clock (:data:`CLOCK`,
an inner ``conftest.py``): ``time.sleep`` there advances ``time.perf_counter`` at once, so
the seconds the advice prints are exact, whatever the load on the machine.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import textwrap
from fnmatch import fnmatch
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_tempo.advice.flaky import (
    KEEP,
    fingerprints,
    judge_flaky,
    merge_histories,
    parse_history,
    read_history,
    record,
    update_history,
)
from pytest_tempo.advice.parallel import (
    EVEN,
    WORKERS,
    bundle,
    even_rows,
    judge_parallel,
    replay_rows,
)
from pytest_tempo.advice.render import Advice, render_markdown, render_terminal
from pytest_tempo.advice.scope import FixtureUse, judge_scopes, scope_group, widest_scope
from pytest_tempo.advice.sleeps import judge_sleeps
from pytest_tempo.advice.slower import judge_slower
from pytest_tempo.forecast import QUIET, makespan

from .conftest import HAS_XDIST, assert_usage_error, xdist_params

if TYPE_CHECKING:
    from pathlib import Path

#: An inner conftest: time.sleep advances a virtual clock that time.perf_counter reads (and
#: the timing and advice features measure with); both are put back when the run ends.
CLOCK = """
import time

_real_clock, _real_sleep = time.perf_counter, time.sleep
_offset = [0.0]


def _clock():
    return _real_clock() + _offset[0]


def _sleep(seconds):
    _offset[0] += seconds


time.perf_counter = _clock
time.sleep = _sleep


def pytest_unconfigure(config):
    restored = time.sleep is _sleep
    time.perf_counter, time.sleep = _real_clock, _real_sleep
    with open("sleep-restored.txt", "w") as f:
        f.write(str(restored))
"""


def section(result: pytest.RunResult, title: str = "advice") -> list[str]:
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if f" {title} " in line and "===" in line)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("===")), len(lines))
    return lines[start + 1 : end]


def has_section(result: pytest.RunResult, title: str = "advice") -> bool:
    return any(f" {title} " in line and "===" in line for line in result.outlines)


def report(pytester: pytest.Pytester) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((pytester.path / "report.json").read_text())
    return value


def seed_calls(pytester: pytest.Pytester, calls: dict[str, list[float]]) -> None:
    """A durations store in which each test's call took ``calls`` seconds in earlier runs."""
    path = pytester.path / ".pytest_cache" / "v" / "tempo" / "durations"
    path.parent.mkdir(parents=True, exist_ok=True)
    tests = {n: {"setup": [0.0], "call": c, "teardown": [0.0]} for n, c in calls.items()}
    path.write_text(json.dumps({"version": 1, "tests": tests}))


# --- fixture scope ----------------------------------------------------------------------

SCOPE_SUITE = """
    import time
    import pytest

    @pytest.fixture
    def db():
        time.sleep(0.2)

    @pytest.fixture
    def per_test(tmp_path):  # depends on a function-scoped fixture: cannot be wider
        time.sleep(0.2)

    @pytest.fixture(params=[1, 2, 3, 4])
    def flavour(request):  # parametrized: set up per parameter anyway
        time.sleep(0.2)
"""


@xdist_params
def test_fixture_scope_counts_what_wider_scopes_would_pay(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    pytester.makeconftest(CLOCK + textwrap.dedent(SCOPE_SUITE))
    conftest = (pytester.path / "conftest.py").read_text().splitlines()
    line = conftest.index("def db():")  # 1-based: the decorator's line
    for module in ("test_one", "test_two"):
        pytester.makepyfile(
            **{
                module: """
                import pytest

                @pytest.mark.parametrize("n", range(4))
                def test_db(db, n): pass

                @pytest.mark.parametrize("n", range(4))
                def test_per_test(per_test, n): pass

                def test_flavour(flavour): pass
                """
            }
        )
    result = pytester.runpytest(
        "--slow-threshold=0.5", "--slow-report-json=report.json", *xdist_args
    )
    result.assert_outcomes(passed=24)
    lines = section(result)
    assert (
        lines[0]
        == "fixtures set up more often than they may need (set-ups of at least 0.50s in all):"
    )
    # The virtual clock moves by the sleeps, the real one by the set-ups' own overhead.
    assert fnmatch(
        lines[1],
        f"  db (function scope, conftest.py:{line}): set up 8 times, 0.2?s each, 1.6?s in all",
    ), lines[1]
    # Where the tests ran decides how often a wider scope sets it up: once per module (or
    # per session) on each worker.
    workers = {t["nodeid"]: t["worker"] for t in report(pytester)["all_tests"]}
    users = [n for n in workers if "test_db" in n]
    modules = len({(workers[n], n.split("::")[0]) for n in users})
    sessions = len({workers[n] for n in users})
    # Each set-up is 0.2 s on the fake clock plus its real overhead: the savings are at least
    # what the fake clock says, and under a hundredth more.
    wider = [f"module scope would save ~{1.6 - 0.2 * modules:.1f}?s ({modules} set-ups, not 8)"]
    if sessions < modules:
        set_ups = "1 set-up" if sessions == 1 else f"{sessions} set-ups"
        # Both modules sit in the rootdir: package scope is as good as session scope.
        wider.append(f"package scope would save ~{1.6 - 0.2 * sessions:.1f}?s ({set_ups}, not 8)")
    assert fnmatch(lines[2], "    if db holds no per-test state, " + "; ".join(wider)), lines[2]
    # per_test and flavour cannot be wider: no advice on them (a run slowed by a loaded
    # machine may add other kinds of advice after this block; they are not this test's)
    assert not lines[3:] or not lines[3].startswith("  ")
    assert not any("per_test" in line or "flavour" in line for line in lines)
    (entry,) = report(pytester)["advice"]["fixture_scope"]
    # The virtual clock moves by the sleeps, the real one by microseconds meanwhile.
    assert (entry["name"], entry["count"]) == ("db", 8)
    assert 1.6 <= entry["total"] < 1.7
    assert (pytester.path / "sleep-restored.txt").read_text() == "True" or xdist_args


def test_scope_groups() -> None:
    assert scope_group("t/test_a.py::Test::test_x[1]", "class") == "t/test_a.py::Test"
    # Outside a class, pytest sets a class-scoped fixture up for the test itself.
    assert scope_group("t/test_a.py::test_x", "class") == "t/test_a.py::test_x"
    assert scope_group("t/test_a.py::Test::test_x", "module") == "t/test_a.py"
    assert scope_group("t/sub/test_a.py::test_x", "package") == "t/sub"
    assert scope_group("t/test_a.py::test_x", "session") == ""
    assert widest_scope(["module", "session"]) == "module"
    assert widest_scope([]) == "session"


def test_judge_scopes_numbers() -> None:
    setups = [(f"t/test_{m}.py::C{c}::test_{i}", "gw0", 0.5) for m in "ab" for c in (1, 2)
              for i in range(3)]  # fmt: skip
    use = FixtureUse("db", "function", "", "t/conftest.py:3", "session", setups)
    (advice,) = judge_scopes([use], threshold=1.0)
    assert (advice.count, advice.each, advice.total) == (12, 0.5, 6.0)
    # Both modules in one folder: package scope sets it up as seldom as session scope would.
    assert advice.wider == (("class", 4, 2.0), ("module", 2, 1.0), ("package", 1, 0.5))
    assert advice.saving == 5.5
    # Limited by its dependencies to class scope; under the threshold in all; once only.
    assert judge_scopes([FixtureUse("db", "function", "", "", "class", setups)], 1.0)[0].wider == (
        ("class", 4, 2.0),
    )
    assert judge_scopes([use], threshold=6.5) == []
    assert judge_scopes([FixtureUse("db", "function", "", "", "session", setups[:1])], 0.1) == []
    # Every test in a module of its own: no wider scope sets it up less often.
    alone = [(f"t/test_{i}.py::test", "gw0", 1.0) for i in range(4)]
    assert judge_scopes([FixtureUse("db", "module", "", "", "module", alone)], 1.0) == []


# --- sleeping tests ---------------------------------------------------------------------


@xdist_params
def test_sleeping_tests_are_counted_and_mocks_still_work(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    pytester.makeconftest(CLOCK)
    pytester.makepyfile(
        test_sleeps="""
        import time
        from time import sleep
        from unittest import mock

        def test_polls():
            for _ in range(6):
                time.sleep(0.5)

        def test_imported_sleep():
            sleep(1.25)

        def test_short_sleep():
            time.sleep(0.05)  # under a tenth of the threshold

        def test_mock_patch_wins():
            with mock.patch("time.sleep") as fake:
                time.sleep(30)
            fake.assert_called_once_with(30)

        def test_monkeypatched(monkeypatch):
            calls = []
            monkeypatch.setattr(time, "sleep", calls.append)
            time.sleep(30)
            assert calls == [30]

        def test_after_the_monkeypatch():
            time.sleep(0.75)
        """
    )
    result = pytester.runpytest("--slow-threshold=1", "--slow-report-json=report.json", *xdist_args)
    result.assert_outcomes(passed=6)
    lines = section(result)
    # The sleeps are on a virtual clock, exact; each call also takes the real time of its
    # body and hooks, under 50 ms (a busy machine can add a few to the total).
    assert re.fullmatch(
        r"3 tests slept 5\.00s, (99|100)% of their time "
        r"\(wait for the condition, or mock the clock\):",
        lines[0],
    )
    matches = [re.fullmatch(r" +([0-9.]+)s of +([0-9.]+)s  (\S+)", line) for line in lines[1:]]
    rows = [m for m in matches if m is not None]
    assert len(rows) == len(matches) == 3, lines
    assert [(m[1], m[3]) for m in rows] == [
        ("3.00", "test_sleeps.py::test_polls"),
        ("1.25", "test_sleeps.py::test_imported_sleep"),
        ("0.75", "test_sleeps.py::test_after_the_monkeypatch"),
    ]
    assert all(0 <= float(m[2]) - float(m[1]) <= 0.05 for m in rows)
    sleeping = report(pytester)["advice"]["sleeping"]
    assert [s["slept"] for s in sleeping] == pytest.approx([3.0, 1.25, 0.75], abs=0.01)
    if not xdist_args:  # the inner conftest saw its own sleep back once the run ended
        assert (pytester.path / "sleep-restored.txt").read_text() == "True"


def test_asyncio_sleep_is_counted(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_async="""
        import asyncio

        import pytest

        @pytest.fixture
        def loop():  # made outside the call, so the call is the sleep
            loop = asyncio.new_event_loop()
            yield loop
            loop.close()

        def test_waits(loop):
            loop.run_until_complete(asyncio.sleep(0.3))
        """
    )
    # In a process of its own: the event loop policy and asyncio's state of earlier in-process
    # runs stay out of it.
    result = pytester.runpytest_subprocess("--slow-threshold=1", "--slow-report-json=report.json")
    result.assert_outcomes(passed=1)
    (entry,) = report(pytester)["advice"]["sleeping"]
    assert entry["nodeid"] == "test_async.py::test_waits"
    assert 0.3 <= entry["slept"] <= entry["call"]


@xdist_params
def test_only_sleeps_of_the_call_phase_are_counted(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    """A sleep is charged to the test pytest names as running its call phase: the sleeps of
    fixture set-ups and teardowns are the fixture's, and count nothing."""
    pytester.makeconftest(CLOCK)
    pytester.makepyfile(
        test_phases="""
        import time

        import pytest

        @pytest.fixture
        def slow_fixture():
            time.sleep(2.0)
            yield
            time.sleep(3.0)

        def test_sleeps_in_its_call(slow_fixture):
            time.sleep(0.6)

        def test_only_its_fixture_sleeps(slow_fixture):
            pass
        """
    )
    result = pytester.runpytest("--slow-threshold=1", "--slow-report-json=report.json", *xdist_args)
    result.assert_outcomes(passed=2)
    (entry,) = report(pytester)["advice"]["sleeping"]
    assert entry["nodeid"] == "test_phases.py::test_sleeps_in_its_call"
    assert entry["slept"] == pytest.approx(0.6, abs=0.01)


@pytest.mark.skipif(not HAS_XDIST, reason="pytest-xdist is not installed")
def test_a_crashed_worker_loses_only_its_own_sleeps(pytester: pytest.Pytester) -> None:
    """A worker sends its tests' sleeps when its tests are done: one killed mid-run takes
    them with it (as the docs say), the run still ends with its advice, and the sleeps of a
    worker that finished are listed."""
    pytester.makeconftest(CLOCK)
    pytester.makepyfile(
        test_sleeps="""
        import time

        def test_sleeps():
            time.sleep(0.6)
        """,
        test_crash="""
        import os

        def test_crash():
            os._exit(3)
        """,
    )
    result = pytester.runpytest("-n", "2", "--slow-threshold=1", "--slow-report-json=report.json")
    result.assert_outcomes(passed=1, failed=1)
    assert "INTERNALERROR" not in result.stdout.str()
    crashed = re.search(r"worker '(gw\d)' crashed", result.stdout.str())
    assert crashed is not None, result.stdout.str()
    value = report(pytester)
    (sleeper,) = [t for t in value["all_tests"] if t["nodeid"] == "test_sleeps.py::test_sleeps"]
    listed = [s["nodeid"] for s in value["advice"]["sleeping"]]
    if sleeper["worker"] == crashed[1]:
        assert listed == []
    else:
        assert listed == ["test_sleeps.py::test_sleeps"]


@xdist_params
def test_the_advice_runs_no_hook_per_test(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    """Its cost does not grow with the tests that pass without sleeping: no hook of its own
    runs per test or per fixture, where tests run or on the controller."""
    pytester.makeconftest(
        """
        def pytest_sessionfinish(session):
            pm = session.config.pluginmanager
            names = sorted(c.name for c in pm.get_hookcallers(pm.get_plugin("tempo-advice")))
            workerinput = getattr(session.config, "workerinput", None)
            where = workerinput["workerid"] if workerinput else "main"
            with open(f"hooks-{where}.txt", "w") as f:
                f.write(" ".join(names))
        """
    )
    pytester.makepyfile(test_plain="def test_one():\n    pass\n")
    result = pytester.runpytest(*xdist_args)
    result.assert_outcomes(passed=1)
    files = sorted(pytester.path.glob("hooks-*.txt"))
    assert len(files) == (3 if xdist_args else 1)  # the controller and both workers
    per_test = ("pytest_runtest_", "pytest_fixture_", "pytest_pyfunc_call", "pytest_report_")
    for path in files:
        names = path.read_text().split()
        assert "pytest_sessionfinish" in names  # the control: the advice was registered
        assert [n for n in names if n.startswith(per_test)] == []


def test_judge_sleeps() -> None:
    found = judge_sleeps(
        [("a", 2.0, 1.5), ("b", 2.0, 0.9), ("c", 0.2, 0.09), ("d", 1.0, 3.0)], threshold=1.0
    )
    # b slept under half its call, c under a tenth of the threshold; d's overlapping sleeps
    # are capped at its call.
    assert [(s.nodeid, s.slept, s.share) for s in found] == [("a", 1.5, 0.75), ("d", 1.0, 1.0)]


# --- got slower -------------------------------------------------------------------------


@xdist_params
def test_got_slower_against_the_recorded_history(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    pytester.makeconftest(CLOCK)
    pytester.makepyfile(
        test_slower="""
        import time

        def test_regressed():
            time.sleep(1.5)

        def test_few_runs():
            time.sleep(1.5)

        def test_steady():
            time.sleep(1.5)

        def test_milliseconds():
            time.sleep(0.01)
        """
    )
    seed_calls(
        pytester,
        {
            "test_slower.py::test_regressed": [0.3, 0.2, 0.25, 0.3],
            "test_slower.py::test_few_runs": [0.2, 0.2],  # two runs are not a history
            "test_slower.py::test_steady": [1.4, 1.5, 1.45],
            "test_slower.py::test_milliseconds": [0.001, 0.001, 0.001],  # 10x, but tiny
        },
    )
    result = pytester.runpytest(
        "--slow-threshold=1", "--slow-report-json=report.json", "-p", "no:tempo-ordering",
        *xdist_args,
    )  # fmt: skip
    result.assert_outcomes(passed=4)
    lines = section(result)
    assert lines[-2] == "got slower (call over 3x the median of its recorded runs):"
    # The sleep is on the fake clock; the call's own real overhead adds a few milliseconds.
    assert fnmatch(
        lines[-1], "     0.28s ->    1.5?s  test_slower.py::test_regressed (median of 4 runs)"
    )
    (entry,) = report(pytester)["advice"]["slower"]
    assert (entry["nodeid"], entry["before"]) == ("test_slower.py::test_regressed", 0.275)
    assert 1.5 <= entry["now"] < 1.6


def test_judge_slower() -> None:
    history = [1.0, 1.0, 5.0]
    assert judge_slower([("a", 3.5, history)], threshold=1.0)[0].factor == 3.5
    assert judge_slower([("a", 2.9, history)], threshold=1.0) == []
    assert judge_slower([("a", 0.5, [0.1, 0.1, 0.1])], threshold=1.0) == []


# --- what parallelism buys ----------------------------------------------------------------


@xdist_params
def test_parallelism_forecast(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    """Real sleeps: the forecast compares with the wall time the run really took."""
    pytester.makepyfile(
        test_work="""
        import time
        import pytest

        @pytest.mark.parametrize("n", range(16))
        def test_work(n):
            time.sleep(0.4)
        """
    )
    # 16 tests of 0.4 s: with 16 workers the run would save 2.8 s of 3.2 on 2 workers, a
    # fifth of the wall time (and so shown) unless starting the workers took over 10 s.
    result = pytester.runpytest("--slow-threshold=1", "--slow-report-json=report.json", *xdist_args)
    result.assert_outcomes(passed=16)
    advice = report(pytester)["advice"]
    forecast = advice["parallelism"]
    assert forecast is not None
    tests = [t["total"] for t in report(pytester)["all_tests"]]
    start_up, total, longest = forecast["start_up"], sum(tests), max(tests)
    rows = {r["workers"]: r for r in forecast["rows"]}
    assert sorted(rows) == [2, 4, 8, 16]
    for n, row in rows.items():
        for mode in ("duration", "load"):
            if row[mode] is None:  # xdist's own schedulers are simulated only where installed
                assert not HAS_XDIST
                continue
            # Never under the lower bound, never over it by more than the longest test; the
            # report rounds each number to the microsecond, so a sum may be off by a few.
            bound = start_up + max(longest, total / n)
            assert bound - 1e-5 <= row[mode] <= bound + longest + 1e-5
    # 16 workers run one test each: the longest test (and the start-up) is the run.
    assert rows[16]["duration"] == pytest.approx(start_up + longest, abs=1e-5)
    assert forecast["now_workers"] == (2 if xdist_args else 1)
    lines = section(result)
    head = next(i for i, line in enumerate(lines) if line.startswith("what -n would buy"))
    assert lines[head + 1].startswith("  -n 2 ")
    assert "with --tempo-dist=duration" in lines[head + 1]
    assert lines[head + 1].endswith("with xdist's default") == HAS_XDIST
    # Where more workers stop paying depends on the start-up this run measured.
    assert all(line.startswith("  past -n ") for line in lines[head + 5 :])


def test_judge_parallel_numbers() -> None:
    ids = [f"t.py::test_{i}" for i in range(8)]
    forecast = judge_parallel(ids, [1.0] * 8, {}, 0.5, 8.5, 1, 1.0, with_load=False)
    assert forecast is not None
    assert [(r.workers, r.duration) for r in forecast.rows] == [
        (2, 4.5), (4, 2.5), (8, 1.5), (16, 1.5)
    ]  # fmt: skip
    assert (forecast.stops_at, forecast.bound) == (8, "the longest test")
    # A fast suite: nothing to gain, nothing said.
    assert judge_parallel(ids, [0.01] * 8, {}, 0.5, 0.6, 1, 1.0) is None
    # Already parallel at the bound: nothing to gain.
    assert judge_parallel(ids, [1.0] * 8, {}, 0.5, 1.6, 8, 1.0) is None


@settings(deadline=None)  # the first example imports the schedulers: no wall-clock limit
@given(st.lists(st.floats(0.001, 1), min_size=1, max_size=400), st.floats(0, 5))
def test_even_rows_agree_with_the_replay(durations: list[float], start_up: float) -> None:
    """A suite of small tests is not replayed: its rows are within two of the replay's
    units (bundles of the smallest tests) of the replay's."""
    total = sum(durations)
    if max(durations) * EVEN * max(WORKERS) > total:
        durations = [*durations, *[max(durations)] * EVEN * max(WORKERS)]
        total = sum(durations)
    ids = [f"t{i // 50}.py::test_{i}" for i in range(len(durations))]
    replayed = replay_rows(ids, durations, {}, start_up, WORKERS, HAS_XDIST)
    assert replayed is not None
    unit = max(bundle(ids, durations)[1])
    for even, row in zip(even_rows(total, start_up, WORKERS, HAS_XDIST), replayed, strict=True):
        assert even.workers == row.workers
        assert even.duration <= row.duration + 1e-6
        assert row.duration <= even.duration + 2 * unit + 1e-6
        if HAS_XDIST:
            assert even.load is not None
            assert row.load is not None
            assert row.load - 2 * unit - 1e-6 <= even.load <= row.load + 1e-6
        else:
            assert even.load is None
    # Through the judge: the same rows, the schedulers not replayed.
    forecast = judge_parallel(ids, durations, {}, start_up, 10 * (total + start_up), 1, 0.0)
    assert forecast is not None
    assert list(forecast.rows) == even_rows(total, start_up, WORKERS, HAS_XDIST)


@pytest.mark.skipif(not HAS_XDIST, reason="pytest-xdist is not installed")
@settings(deadline=None)  # the first example imports the schedulers: no wall-clock limit
@given(
    st.lists(st.tuples(st.floats(0.001, 1), st.floats(0, 3)), min_size=1, max_size=300),
    st.integers(0, 200),
    st.floats(0, 5),
)
def test_rows_are_replayed_only_where_the_even_split_cannot_stand_in(
    tests: list[tuple[float, float]], small: int, start_up: float
) -> None:
    """xdist's ``load`` hands out tests whatever fixtures they share: a row whose units are
    all at most a quarter of a worker's share is its even split, within two units of its
    replay; --tempo-dist=duration's too, unless its plan groups a module there. Every other
    row is the replay's."""
    ids = [f"t{i // 20}.py::test_{i}" for i in range(len(tests))]
    shared = {ids[i]: extra for i, (_, extra) in enumerate(tests) if i % 20 == 0 and extra}
    durations = [call + shared.get(ids[i], 0.0) for i, (call, _) in enumerate(tests)]
    # Many small tests of their own module: some rows (or all) become small.
    ids += [f"small.py::test_{i}" for i in range(small)]
    durations += [0.01] * small
    rows = replay_rows(ids, durations, shared, start_up, WORKERS, True, shortcut=True)
    full = replay_rows(ids, durations, shared, start_up, WORKERS, True)
    assert rows is not None
    assert full is not None
    units = bundle(ids, durations)[1]
    unit, total = max(units), sum(units)
    for row, replayed in zip(rows, full, strict=True):
        even = start_up + total / row.workers
        assert replayed.load is not None
        if unit * EVEN * row.workers > total:
            assert row == replayed
            continue
        assert row.load == pytest.approx(even)
        assert replayed.load - 2 * unit - 1e-6 <= even <= replayed.load + 1e-6
        if row.duration != replayed.duration:  # no module kept together: the even split
            assert row.duration == pytest.approx(even)
            assert replayed.duration - 2 * unit - 1e-6 <= even <= replayed.duration + 1e-6


FORECAST_IMPORTS = """
import sys
from pytest_tempo.advice.parallel import judge_parallel

ids = [f"t{i // 20}.py::test_{i}" for i in range(400)]
shared = {n: 0.5 for n in ids[::20]}  # a module's set-up: worth keeping it together
durations = [0.1 + shared.get(n, 0.0) for n in ids]
forecast = judge_parallel(ids, durations, shared, 1.0, 100.0, 1, 1.0)
assert forecast is not None and forecast.rows[0].load is not None, forecast
print(sorted(m for m in sys.modules if m.startswith(("xdist.scheduler", "pytest_tempo.sched"))))
"""


@pytest.mark.skipif(not HAS_XDIST, reason="pytest-xdist is not installed")
def test_a_forecast_of_small_tests_imports_only_our_scheduler() -> None:
    """Fixture groups are replayed on --tempo-dist=duration alone: xdist's schedulers and
    the scheduling plugin are not imported."""
    done = subprocess.run(
        [sys.executable, "-c", FORECAST_IMPORTS], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == str(
        [
            "pytest_tempo.scheduling",
            "pytest_tempo.scheduling.dispatch",
            "pytest_tempo.scheduling.partition",
            "pytest_tempo.scheduling.plan",
            "pytest_tempo.scheduling.pool",
        ]
    )


FORECAST_LOADERS = """
import sys


def pytest_unconfigure(config):
    loaders = {
        name: type(sys.modules[name].__loader__).__name__
        for name in ("xdist.scheduler", "xdist.scheduler.load", "xdist.remote")
        if name in sys.modules
    }
    with open(config.rootpath / "loaders.txt", "w") as f:
        f.write(repr(loaders))
"""


@pytest.mark.skipif(not HAS_XDIST, reason="pytest-xdist is not installed")
def test_the_forecast_imports_xdists_schedulers_without_the_assertion_rewriter(
    pytester: pytest.Pytester,
) -> None:
    """A serial run whose forecast replays xdist's ``load``: its modules are loaded with
    Python's loader (pytest's would cost the forecast three times as much)."""
    pytester.makeconftest(FORECAST_LOADERS)
    pytester.makepyfile(
        test_work="""
        import time
        import pytest

        @pytest.mark.parametrize("n", range(8))
        def test_work(n):
            time.sleep(0.3)
        """
    )
    # 8 tests of 0.3 s, serially: -n 8 would save about 2.1 s of 2.4 and start-up, well over
    # a fifth of the run; each test is over a quarter of a worker's share at -n 4 and more.
    result = pytester.runpytest_subprocess(
        "--slow-threshold=0.1", "--slow-report-json=report.json", "-p", "no:cov"
    )
    result.assert_outcomes(passed=8)
    rows = report(pytester)["advice"]["parallelism"]["rows"]
    assert all(row["load"] is not None for row in rows)
    loaders = ast.literal_eval((pytester.path / "loaders.txt").read_text())
    assert loaders == {
        "xdist.scheduler": "SourceFileLoader",
        "xdist.scheduler.load": "SourceFileLoader",
        "xdist.remote": "SourceFileLoader",
    }


@given(st.lists(st.floats(0, 5), min_size=1, max_size=60), st.integers(1, 20))
def test_bundle_keeps_every_second_and_the_order(durations: list[float], limit: int) -> None:
    ids = [f"t.py::test_{i}" for i in range(len(durations))]
    kept, seconds = bundle(ids, durations, limit)
    assert len(kept) == len(seconds)
    assert sum(seconds) == pytest.approx(sum(durations))
    assert [ids.index(n) for n in kept] == sorted(ids.index(n) for n in kept)
    if len(durations) > limit:
        assert len(kept) <= 2 * limit + 1


@pytest.mark.skipif(not HAS_XDIST, reason="pytest-xdist is not installed")
@settings(deadline=None)  # the first example imports xdist's schedulers: no wall-clock limit
@given(st.lists(st.floats(0, 3), min_size=1, max_size=40), st.integers(1, 6))
def test_forecast_agrees_with_the_test_simulator(durations: list[float], workers: int) -> None:
    from xdist.scheduler import LoadScheduling

    from pytest_tempo.scheduling import DurationScheduling, plan_units

    from .simulation import simulate

    ids = [f"test_mod.py::test_{i}" for i in range(len(durations))]
    totals = dict(zip(ids, durations, strict=True))

    def ours(config: Any, n: int) -> DurationScheduling:
        return DurationScheduling(config, QUIET, lambda c, w: plan_units(c, totals), n)

    def theirs(config: Any, n: int) -> LoadScheduling:
        return LoadScheduling(config, QUIET)

    for make in (ours, theirs):
        expected = simulate(make, durations, workers).makespan
        assert makespan(make, ids, durations, workers) == pytest.approx(expected)


# --- flaky tests --------------------------------------------------------------------------

FLAKY_SUITE = """
    import pathlib

    def test_flaky():
        # fails on the runs listed in plan.txt (one character per run: f fails)
        runs = pathlib.Path("runs.txt")
        run = int(runs.read_text()) if runs.exists() else 0
        runs.write_text(str(run + 1))
        assert pathlib.Path("plan.txt").read_text()[run] != "f"

    def test_steady():
        pass

    def test_always_fails():
        assert False
"""


@xdist_params
def test_flaky_by_history_and_a_changed_test_starts_again(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    pytester.makepyfile(test_flaky=FLAKY_SUITE)
    (pytester.path / "plan.txt").write_text("pfpp")
    for _ in range(3):
        result = pytester.runpytest(*xdist_args)
    lines = section(result)
    assert lines == [
        "flaky (passed and failed with the same source):",
        "  test_flaky.py::test_flaky: failed 1 of the last 3 runs",
    ]
    # A change of the test file: its history starts again, and one pass says nothing.
    pytester.makepyfile(test_flaky=textwrap.dedent(FLAKY_SUITE) + "# changed\n")
    result = pytester.runpytest(*xdist_args)
    result.assert_outcomes(passed=2, failed=1)
    assert not has_section(result)


#: The report protocol of pytest-rerunfailures with one rerun, as an inner conftest: the
#: reports of a failed attempt are logged with the failed phase's outcome "rerun", then the
#: test runs again. The plan in plan.txt decides the failure, so nothing here is flaky.
RERUN_ONCE = """
import pytest
from _pytest.runner import runtestprotocol


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    reports = runtestprotocol(item, nextitem=nextitem, log=False)
    if any(r.failed for r in reports):
        for r in reports:
            if r.failed:
                r.outcome = "rerun"
            item.ihook.pytest_runtest_logreport(report=r)
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
    for r in reports:
        item.ihook.pytest_runtest_logreport(report=r)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


def pytest_report_teststatus(report):
    if report.outcome == "rerun":
        return "rerun", "R", ("RERUN", {"yellow": True})
"""


@xdist_params
def test_flaky_by_a_rerun_in_this_run(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    pytester.makeconftest(RERUN_ONCE)
    pytester.makepyfile(test_flaky=FLAKY_SUITE.replace("def test_always_fails", "def _no"))
    (pytester.path / "plan.txt").write_text("fp")
    result = pytester.runpytest("--slow-report-json=report.json", *xdist_args)
    assert result.parseoutcomes() == {"passed": 2, "rerun": 1}
    assert section(result) == [
        "flaky (passed and failed with the same source):",
        "  test_flaky.py::test_flaky: failed once and passed on a rerun in this run",
    ]
    (entry,) = report(pytester)["advice"]["flaky"]
    assert entry == {"nodeid": "test_flaky.py::test_flaky", "failed": 0, "runs": 1, "reruns": 1}


def test_history_records_resets_and_merges() -> None:
    history = record({}, {"a": "p", "b": "f"}, {"a": "1", "b": "1"}, now=10)
    history = record(history, {"a": "f"}, {"a": "1"}, now=20)
    assert history["a"] == {"fp": "1", "runs": "pf", "at": 20}
    assert history["b"] == {"fp": "1", "runs": "f", "at": 10}
    assert record(history, {"a": "p"}, {"a": "2"}, now=30)["a"]["runs"] == "p"  # changed
    for _ in range(KEEP + 5):
        history = record(history, {"a": "p"}, {"a": "1"}, now=40)
    assert len(history["a"]["runs"]) == KEEP
    # Shards: per test, the entry recorded last wins.
    other = {"a": {"fp": "1", "runs": "ff", "at": 50.0}, "c": {"fp": "9", "runs": "p", "at": 1.0}}
    merged = merge_histories([history, other])
    assert merged["a"]["runs"] == "ff"
    assert merged["b"] == history["b"]
    assert "c" in merged
    histories = {
        "a": {"runs": "pfp"},
        "b": {"runs": "ppp"},
        "broken": {"runs": "pppfff"},  # one change: a test broken, not a flaky one
        "fixed": {"runs": "ffffp"},
        "old": {"runs": "pfp" + "p" * 10},  # flipped, but longer ago than the window
    }
    flaky = judge_flaky(histories, {"b": 2}, list(histories))
    assert [(f.nodeid, f.failed, f.runs, f.reruns) for f in flaky] == [
        ("b", 0, 3, 2), ("a", 1, 3, 0)
    ]  # fmt: skip


@pytest.mark.parametrize(
    "value",
    [
        [],
        {"version": 3, "tests": {}},
        {"version": 1, "tests": []},
        {"version": 1, "tests": {"a": []}},
        {"version": 1, "tests": {"a": {"fp": 1, "runs": "p", "at": 1}}},
        {"version": 1, "tests": {"a": {"fp": "x", "runs": "px?", "at": 1}}},
        {"version": 1, "tests": {"a": {"fp": "x", "runs": "p", "at": True}}},
        {"version": 1, "tests": {"a": {"fp": "x", "runs": "p", "at": float("nan")}}},
        {"version": 2, "tests": {"a": 5}},
        {"version": 2, "tests": {"a": "x p"}},
        {"version": 2, "tests": {"a": "x px? 1"}},
        {"version": 2, "tests": {"a": "x  1"}},
        {"version": 2, "tests": {"a": "x p nan"}},
        {"version": 2, "tests": {"a": "x p -1"}},
    ],
    ids=["list", "version", "tests", "entry", "fp", "outcome", "bool-stamp", "nan-stamp",
         "v2-entry", "v2-parts", "v2-outcome", "v2-no-outcome", "v2-nan", "v2-negative"],
)  # fmt: skip
def test_hostile_histories_are_refused(value: object) -> None:
    history, problem = parse_history(value)
    assert history == {}
    assert problem


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a.py", "b.py", "sub/c.py", "sub/a.py"]),
            st.sampled_from(["::test_x", "::C::test_y", "::test_x[1::2]", ""]),
        ),
        max_size=30,
    )
)
def test_fingerprints_are_per_file_whatever_the_order(tests: list[tuple[str, str]]) -> None:
    """One fingerprint per file and the conftests above it, the tests of a file together or
    not: each test's is the one its file alone gets."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "sub").mkdir()
        for i, path in enumerate(["a.py", "b.py", "sub/c.py", "sub/a.py"]):
            (root / path).write_text(f"def test_x(): assert {i}\n")
        (root / "sub" / "conftest.py").write_text("X = 1\n")
        nodeids = [path + rest for path, rest in tests]
        fps = fingerprints(nodeids, root)
        assert set(fps) == set(nodeids)
        for nodeid in nodeids:
            assert fps[nodeid] == fingerprints([nodeid], root)[nodeid]
        alone = {p: fingerprints([p], root)[p] for p in ["a.py", "b.py", "sub/c.py", "sub/a.py"]}
        assert len(set(alone.values())) == 4
        assert {fps[n] for n in nodeids} == {alone[p] for p, _ in tests}


@given(st.lists(st.dictionaries(st.sampled_from("abcd"), st.sampled_from("pf")), max_size=25))
def test_the_update_in_place_records_as_record_does(runs: list[dict[str, str]]) -> None:
    import tempfile
    from pathlib import Path

    fps = {"a": "1", "b": "1", "c": "2", "d": "3"}
    expected: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for outcomes in runs:
            expected = record(expected, outcomes, fps)
            found, problem = update_history(folder, outcomes, fps, keep={"d"})
            assert problem is None
            # What the judge needs: the entries of this run's tests that hold a failure.
            assert {n: e["runs"] for n, e in found.items()} == {
                n: expected[n]["runs"] for n in outcomes if "f" in expected[n]["runs"] or n == "d"
            }
        history, problem = read_history(folder / "history.json")
    assert problem is None
    assert {n: e["runs"] for n, e in history.items()} == {n: e["runs"] for n, e in expected.items()}


def test_the_history_is_compact_and_older_ones_are_read(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    v1 = {"a": {"fp": "1", "runs": "pf", "at": 5.0}, "gone": {"fp": "9", "runs": "p", "at": 1}}
    path.write_text(json.dumps({"version": 1, "tests": v1}))
    found, problem = update_history(tmp_path, {"a": "p"}, {"a": "1"})
    assert problem is None
    assert found["a"]["runs"] == "pfp"
    tests = json.loads(path.read_text())["tests"]
    assert tests["gone"] == "9 p 1.0"  # a test that did not run: kept as it was
    fp, runs, at = tests["a"].split(" ")
    assert (fp, runs) == ("1", "pfp")
    assert float(at) > 5.0
    # An entry of a test that ran that is not one: the history starts again.
    path.write_text(json.dumps({"version": 2, "tests": {"a": "1 px 5", "b": "1 p 5"}}))
    found, problem = update_history(tmp_path, {"a": "f"}, {"a": "1"})
    assert problem == "entry for 'a' is not of the expected shape"
    assert list(json.loads(path.read_text())["tests"]) == ["a"]


def test_a_hostile_history_file_starts_again(pytester: pytest.Pytester) -> None:
    folder = pytester.path / ".pytest_cache" / "d" / "tempo-outcomes"
    folder.mkdir(parents=True)
    (folder / "history.json").write_text('{"version": 1, "tests": {"x": 5}}')
    pytester.makepyfile(test_a="def test_a(): pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["tempo: the outcome history was unusable (*); started a fresh one"]
    )
    history, problem = read_history(folder / "history.json")
    assert problem is None
    assert history["test_a.py::test_a"]["runs"] == "p"


def test_merge_keeps_outcome_history_across_shards(tmp_path: Path) -> None:
    from pytest_tempo.advice.flaky import FILE, FOLDER, write_history
    from pytest_tempo.cli import main

    caches = []
    for n, runs in enumerate(("pfp", "pp")):
        cache = tmp_path / f"shard{n}" / ".pytest_cache"
        cache.mkdir(parents=True)
        store = cache / "v" / "tempo" / "durations"
        store.parent.mkdir(parents=True)
        tests = {f"t.py::test_{n}": {"call": [1.0], "at": [float(n)]}}
        store.write_text(json.dumps({"version": 1, "tests": tests}))
        (cache / "d" / FOLDER).mkdir(parents=True)
        history = {f"t.py::test_{n}": {"fp": "f", "runs": runs, "at": float(n)}}
        write_history(cache / "d" / FOLDER / FILE, history)
        caches.append(cache)
    out = tmp_path / "merged" / ".pytest_cache"
    out.mkdir(parents=True)
    assert main(["merge", "-o", str(out), *map(str, caches)]) == 0
    merged, problem = read_history(out / "d" / FOLDER / FILE)
    assert problem is None
    assert {n: e["runs"] for n, e in merged.items()} == {
        "t.py::test_0": "pfp",
        "t.py::test_1": "pp",
    }


# --- the section as a whole -------------------------------------------------------------


@xdist_params
def test_no_advice_on_a_fast_healthy_suite(
    pytester: pytest.Pytester, xdist_args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = pytester.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    # The virtual clock: a loaded machine can stretch a real 1 ms sleep past a tenth of the
    # threshold, and that is the machine's doing, not the suite's.
    pytester.makeconftest(CLOCK)
    pytester.makepyfile(
        test_fast="""
        import time
        import pytest

        @pytest.fixture
        def cheap():
            return 1

        @pytest.mark.parametrize("n", range(20))
        def test_fast(cheap, n):
            time.sleep(0.001)
        """
    )
    for _ in range(4):  # a history of passes, nothing got slower
        result = pytester.runpytest("--slow-report-json=report.json", *xdist_args)
        result.assert_outcomes(passed=20)
    assert not has_section(result)
    assert report(pytester)["advice"] == {
        "fixture_scope": [], "sleeping": [], "parallelism": None, "slower": [], "flaky": []
    }  # fmt: skip
    assert "### Advice" not in summary.read_text()


def test_advice_off_and_its_bad_value(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CLOCK)
    pytester.makepyfile(test_a="import time\ndef test_a(): time.sleep(2)\n")
    for args in (["-o", "tempo_advice=off"], ["-p", "no:tempo-advice"]):
        result = pytester.runpytest("--slow-report-json=report.json", *args)
        result.assert_outcomes(passed=1)
        assert not has_section(result)
        assert "advice" not in report(pytester)
    assert_usage_error(
        pytester, ["-o", "tempo_advice=maybe"], "ERROR: tempo_advice (ini): 'maybe' is not valid: "
        "expected one of on, off"
    )  # fmt: skip


def test_advice_in_every_output_in_the_terminals_order(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = pytester.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.makeconftest(CLOCK)
    pytester.makepyfile(test_a="import time\ndef test_a(): time.sleep(2)\n")
    result = pytester.runpytest("--slow-report-json=report.json", "--tempo-html=run.html")
    result.assert_outcomes(passed=1)
    titles = [line.strip("= ") for line in result.outlines if line.startswith("=====")]
    assert titles[-4:-1] == ["slow tests", "advice", "test types"]
    text = summary.read_text()
    assert text.index("### Slow tests") < text.index("### Advice") < text.index("### Test types")
    page = (pytester.path / "run.html").read_text()
    assert '<section id="advice">' in page
    # The sleep is the fake clock's; the call adds the real time the test took to it (a
    # busy machine may take milliseconds): up to 90 ms of margin.
    assert re.search(r"2\.00s of    2\.0\ds  test_a\.py::test_a", page)


def test_long_lists_are_capped_and_verbose_shows_all() -> None:
    from pytest_tempo.advice.sleeps import Sleeper

    advice = Advice(1.0, sleepers=[Sleeper(f"t.py::test_{i:02}", 1.0, 1.0) for i in range(14)])
    lines = render_terminal(advice)
    assert len(lines) == 1 + 10 + 1
    assert lines[-1] == "  (4 more tests; -v shows all)"
    assert len(render_terminal(advice, rows=None)) == 15
    assert render_markdown(advice).count("| `t.py::test_") == 14


# --- reports a person can act on ----------------------------------------------------------


@xdist_params
def test_failed_gates_and_written_files_close_the_output(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    pytester.makeconftest(CLOCK)
    pytester.makepyfile(
        test_gates="""
        import time
        import pytest

        @pytest.mark.skip
        def test_no_reason(): pass

        def test_slow():
            time.sleep(2)

        def test_fails():
            assert False
        """
    )
    result = pytester.runpytest(
        "-o", "tempo_hygiene=strict", "--slow-strict", "--slow-report-json=report.json",
        "--tempo-html=run.html", *xdist_args,
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # After pytest's short test summary, just before its summary line.
    lines = result.outlines
    last = next(i for i in range(len(lines) - 1, -1, -1) if lines[i].startswith("==="))
    assert lines[last - 5 : last] == [
        "FAILED test_gates.py::test_fails - assert False",
        "tempo: wrote the JSON report report.json",
        "tempo: wrote the HTML page run.html",
        "FAIL --slow-strict: 1 test(s) over 1.00s not marked slow: test_gates.py::test_slow",
        "FAIL tempo_hygiene=strict: 1 hygiene finding",
    ]
    assert lines[last].startswith("===")
    assert " 1 failed, 1 passed, 1 skipped in " in lines[last]
    page = (pytester.path / "run.html").read_text()
    failures = page[page.index('<table id="failures">') :]
    assert "test_gates.py::test_fails" in failures[: failures.index("</table>")]


@xdist_params
def test_outcomes_counted_as_pytests_summary_line(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    pytester.makepyfile(
        test_mixed="""
        import pytest

        def test_passes(): pass

        @pytest.mark.xfail(reason="known", strict=False)
        def test_xfails(): assert False

        @pytest.mark.xfail(reason="fixed already", strict=False)
        def test_xpasses(): pass

        @pytest.fixture
        def broken():
            raise RuntimeError("no")

        def test_errors(broken): pass
        """,
        test_skipped_module="""
        import pytest

        pytest.skip("not on this platform", allow_module_level=True)

        def test_never(): pass
        """,
    )
    result = pytester.runpytest("--tempo-html=run.html", *xdist_args)
    assert result.parseoutcomes() == {
        "passed": 1, "skipped": 1, "xfailed": 1, "xpassed": 1, "errors": 1
    }  # fmt: skip
    result.stdout.fnmatch_lines(
        [
            "*= test types =*",
            "type   tests  passed  failed  errors  skipped  xfailed  xpassed  seconds",
            "other      5       1       0       1        1        1        1    *s",
        ]
    )
    page = (pytester.path / "run.html").read_text()
    assert "1 passed, 1 error, 1 skipped, 1 xfailed, 1 xpassed" in page


@pytest.mark.parametrize("seed", range(3))
def test_forecast_answers_steals_as_workers_do(seed: int) -> None:
    """Duration scheduling steals queued tests back in the end-game; the replay answers as
    xdist's workers do (it once answered "none" forever, and hung the run)."""
    import random

    from pytest_tempo.advice.parallel import _Ours

    from .simulation import simulate

    rng = random.Random(seed)
    durations = [rng.lognormvariate(-8, 1) for _ in range(200)]  # trivial tests
    ids = [f"test_{'one' if i < 100 else 'two'}.py::test_n[{i}]" for i in range(200)]
    make = _Ours(dict(zip(ids, durations, strict=True)), {})
    for workers in (2, 4, 8, 16):
        expected = simulate(make, durations, workers, nodeids=ids).makespan
        assert makespan(make, ids, durations, workers, 0.0) == pytest.approx(expected)
