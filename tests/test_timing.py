from __future__ import annotations

import gc
import json
import re
from collections import deque
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

from pytest_tempo.timing import (
    FixtureTiming,
    TestTiming,
    render_markdown,
    render_terminal,
    summarize,
    to_json,
)
from pytest_tempo.timing.aggregate import Aggregate, phase_outcome, record_of

from .conftest import HAS_XDIST, assert_usage_error, read_store, xdist_params

if TYPE_CHECKING:
    from pathlib import Path

    from pytest_tempo.timing.aggregate import Phase

#: Every verdict of a real run keeps at least 100 ms of margin to this threshold: the trivial
#: tests would need a 100 ms pause to look slow, and the sleeping ones can only take longer
#: than they sleep (sleeps that must stay apart in the table differ by 150 ms).
THRESHOLD = "--slow-threshold=0.1"

SUITE = """
    import time
    import pytest

    @pytest.fixture(scope="session")
    def expensive():
        time.sleep(0.15)

    def test_uses_expensive(expensive): pass

    def test_unmarked_slow():
        time.sleep(0.3)

    @pytest.mark.slow
    def test_marked_slow():
        time.sleep(0.15)

    @pytest.mark.slow
    def test_marked_fast(): pass

    def test_quick(): pass
"""


def section(result: pytest.RunResult, title: str = "slow tests") -> list[str]:
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if f" {title} " in line and "===" in line)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("===")), len(lines))
    return lines[start + 1 : end]


def store_of(pytester: pytest.Pytester) -> dict[str, Any]:
    return read_store(pytester.path / ".pytest_cache" / "v" / "tempo" / "durations")


# --- pure logic ---------------------------------------------------------------------------


def timing(nodeid: str, call: float, marked: bool = False, worker: str = "master") -> TestTiming:
    return TestTiming(nodeid, setup=0.01, call=call, teardown=0.0, worker=worker,
                      marked_slow=marked, ran_call=True)  # fmt: skip


def test_summarize_sorts_and_classifies() -> None:
    timings = [
        timing("t::a", 2.0),
        timing("t::b", 3.0, marked=True),
        timing("t::c", 0.05, marked=True),
        timing("t::d", 0.05, marked=True),
        timing("t::e", 0.5),
    ]
    fixtures = [
        FixtureTiming("db", "session", "", 1, 1.5, 1.5),
        FixtureTiming("f", "function", "", 3, 0.3, 0.1),
    ]
    summary = summarize(timings, fixtures, 1.0, recorded={"t::d": 0.5})
    assert [t.nodeid for t in summary.slow] == ["t::b", "t::a"]
    assert [t.nodeid for t in summary.unmarked] == ["t::a"]
    assert [t.nodeid for t in summary.stale] == ["t::c"]  # t::d was slower when recorded
    assert [f.name for f in summary.fixtures] == ["db"]
    assert summary.tests == 5
    assert summary.total == pytest.approx(5.6 + 0.05)


def test_render_terminal_rows_limit_and_footer() -> None:
    summary = summarize([timing("t::a", 2.0), timing("t::b", 3.0, True), timing("t::c", 0.2)],
                        [], 1.0)  # fmt: skip
    lines = render_terminal(summary, rows=1)
    assert lines[0].split() == ["call", "setup", "teardown", "marked", "slow", "test"]
    assert lines[1].split() == ["3.00s", "0.01s", "0.00s", "yes", "t::b"]
    assert lines[2] == "(1 more; --slow-report=all shows all)"
    assert lines[3] == "2 of 3 tests slow (call over 1.00s): 5.02s, 96% of 5.23s in all"
    assert lines[4:] == ["mark these slow (call over 1.00s, not marked slow):", "  t::a (2.00s)"]


def test_render_terminal_with_workers_and_nothing_slow() -> None:
    summary = summarize([timing("t::a", 2.0, worker="gw1")], [], 1.0)
    assert render_terminal(summary, None)[1].split()[3] == "gw1"
    quiet = summarize([timing("t::a", 0.5)], [], 1.0)
    assert render_terminal(quiet, 10) == [
        "0 of 1 tests slow (call over 1.00s): 0.00s, 0% of 0.51s in all"
    ]


def test_render_terminal_stale_markers() -> None:
    summary = summarize(
        [timing("t::a", 0.05, marked=True), timing("t::b", 0.2, marked=True), timing("t::c", 0.0)],
        [],
        1.0,
        recorded={"t::b": 0.01},
    )
    assert render_terminal(summary, 10)[1:] == [
        "these may not need the slow marker (call and shared set-up under 0.10s):",
        "  t::a (0.05s)",
    ]


def test_stale_marker_counts_the_shared_set_up_the_test_triggered() -> None:
    """A slow-marked test whose time is in the module fixture it set up is not stale."""
    quick_call = TestTiming("t::a", call=0.01, marked_slow=True, ran_call=True, shared=0.5)
    quick_all = TestTiming("t::b", call=0.01, marked_slow=True, ran_call=True, shared=0.02)
    summary = summarize([quick_call, quick_all], [], 1.0)
    assert [t.nodeid for t in summary.stale] == ["t::b"]


def test_long_lists_are_capped_like_the_table() -> None:
    summary = summarize([timing(f"t::{i:02}", 2.0) for i in range(14)], [], 1.0)
    lines = render_terminal(summary, rows=3)
    start = lines.index("mark these slow (call over 1.00s, not marked slow):")
    assert lines[start + 1 :] == [
        "  t::00 (2.00s)", "  t::01 (2.00s)", "  t::02 (2.00s)",
        "  (11 more; --slow-report=all shows all)",
    ]  # fmt: skip
    assert len(render_terminal(summary, rows=None)) == 1 + 14 + 1 + 1 + 14


def test_slow_fixtures_heading_by_scope() -> None:
    def heading(*scopes: str) -> str:
        fixtures = [FixtureTiming(f"f{i}", s, "", 1, 2.0, 2.0) for i, s in enumerate(scopes)]
        return render_terminal(summarize([], fixtures, 1.0), 10)[-1 - len(scopes)]

    assert heading("session") == "slow fixtures (set-up over 1.00s, charged to the fixture):"
    assert heading("function") == (
        "slow fixtures (set-up over 1.00s, function scope: in the setup time of each test "
        "that used it):"
    )
    assert heading("module", "function") == (
        "slow fixtures (set-up over 1.00s, shared ones charged to the fixture, "
        "function-scoped ones to each test's setup):"
    )


def test_render_markdown() -> None:
    summary = summarize([timing("t::a", 2.0)], [], 1.0)
    text = render_markdown(summary, 10)
    assert "| `t::a` | 2.00s | 0.01s | 0.00s | master | no |" in text
    assert "#### Mark these slow" in text


def phase(nodeid: str, when: str, duration: float, **extra: Any) -> Phase:
    """One phase as the timing feature queues it (see ``aggregate.Phase``): a report's plain
    values, and what this process measured (or, with ``worker``, what a worker sent)."""
    values: dict[str, Any] = {"start": 100.0, "stop": 100.5, "outcome": "passed",
                              "xfail": False, "call": None, "fixtures": None, "marks": None,
                              "unrecorded": None, "worker": None}  # fmt: skip
    values.update(extra)
    data = {"when": when, "duration": duration, "start": values["start"],
            "stop": values["stop"], "outcome": values["outcome"]}  # fmt: skip
    if values["xfail"]:
        data["wasxfail"] = ""
    if values["worker"] is None:
        return (SimpleNamespace(**data), nodeid, values["call"], values["fixtures"])
    data.update(worker_id=values["worker"], tempo_call=values["call"],
                tempo_fixtures=values["fixtures"], tempo_marks=values["marks"],
                tempo_unrecorded=values["unrecorded"])  # fmt: skip
    return (SimpleNamespace(**data), nodeid, None, None)


def test_aggregate_folds_the_phases_of_each_test_and_empties_the_queue() -> None:
    asked: list[str] = []

    def local_facts(nodeid: str) -> tuple[list[str], bool]:
        asked.append(nodeid)
        return ["slow", "unit"], nodeid.endswith("load")

    aggregate = Aggregate(("unit",), local_facts)
    aggregate.track = True
    db = [("db", "session", "", 0.4), ("tmp", "function", "", 0.05)]
    queue: deque[Phase] = deque([
        phase("t::a", "setup", 0.5, fixtures=db, start=10.0),
        phase("t::a", "call", 2.0, call=1.5),
        phase("t::b", "setup", 0.1, marks=["smoke"], worker="gw1"),
        phase("t::a", "teardown", 0.25, stop=14.0),
        phase("t::b", "call", 0.2, outcome="failed", fixtures=[("late", "function", "", 0.1)]),
    ])  # fmt: skip
    aggregate.advance(queue)
    assert not queue  # taken out: the queue never holds more than the last second
    a, b = aggregate.timings["t::a"], aggregate.timings["t::b"]
    # The session fixture's set-up is the fixture's cost; the call is the hook's own seconds.
    assert (a.setup, a.shared, a.call, a.teardown) == pytest.approx((0.1, 0.4, 1.5, 0.25))
    assert (a.start, a.stop, a.marks, a.types, a.marked_slow) == (10.0, 14.0, ("slow",),
                                                                   ("unit",), True)  # fmt: skip
    assert (b.worker, b.marks, b.outcome, b.ran_call) == ("gw1", ("smoke",), "failed", True)
    assert asked == ["t::a"]  # a worker's test came with its markers
    fixtures = {f.name: f for f in aggregate.fixtures.values()}
    assert (fixtures["db"].count, fixtures["late"].count) == (1, 1)
    assert [t.nodeid for t in aggregate.take_finished()] == ["t::a"]
    assert aggregate.take_finished() == []
    nodeid, at, *seconds, marks = record_of(a)
    assert (nodeid, at, marks) == ("t::a", 14.0, ("slow",))
    assert seconds == pytest.approx([0.1, 1.5, 0.25, 0.4])


def test_finished_tests_are_not_walked_by_the_garbage_collector() -> None:
    """A finished test is kept as a tuple of strings and numbers, which a collection stops
    tracking: a test that calls gc.collect() does not walk a record per test that ran
    before it. The records come back, the same, when read; a rerun revives its own."""

    def live() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if type(o) is TestTiming)

    before = live()
    aggregate = Aggregate(("unit",), lambda nodeid: (["unit"], False))
    aggregate.track = True
    queue: deque[Phase] = deque()
    for i in range(200):
        queue.extend([phase(f"t::{i}", "setup", 0.1), phase(f"t::{i}", "call", 0.2),
                      phase(f"t::{i}", "teardown", 0.3, stop=200.0 + i)])  # fmt: skip
    queue.extend([phase("t::running", "setup", 0.1)])
    aggregate.advance(queue)
    finished = aggregate.take_finished()
    assert len(finished) == 200
    del finished
    assert live() - before == 0  # the test still running is a list of its fields
    # A rerun of a finished test (pytest-rerunfailures) updates its record.
    aggregate.advance(deque([phase("t::7", "setup", 0.5, outcome="rerun")]))
    timings = aggregate.timings
    assert list(timings)[:3] == ["t::0", "t::1", "t::2"]  # the order first seen
    assert (timings["t::7"].setup, timings["t::7"].call) == pytest.approx((0.5, 0.2))
    assert aggregate.reruns == {"t::7": 1}
    last = timings["t::199"]
    assert (last.setup, last.call, last.teardown, last.stop) == pytest.approx(
        (0.1, 0.2, 0.3, 399.0)
    )
    assert (last.types, last.ran_call, last.outcome) == (("unit",), True, "passed")
    assert live() - before == 201


def test_aggregate_leaves_unrecorded_tests_out_of_the_journal() -> None:
    aggregate = Aggregate((), lambda nodeid: ([], True))
    aggregate.track = True
    aggregate.advance(deque([phase("t::load", "setup", 0.1), phase("t::load", "teardown", 0.1)]))
    assert aggregate.unrecorded == {"t::load"}
    assert aggregate.take_finished() == []


@pytest.mark.parametrize(
    ("phases", "outcome"),
    [
        ([("setup", "passed", False), ("call", "passed", False)], "passed"),
        ([("setup", "skipped", False)], "skipped"),
        ([("setup", "failed", False), ("teardown", "passed", False)], "error"),
        ([("call", "failed", False), ("teardown", "failed", False)], "failed"),
        ([("call", "skipped", True)], "xfailed"),
        ([("call", "passed", True)], "xpassed"),
    ],
    ids=["passed", "skipped-in-setup", "error-in-setup", "failed-call-and-teardown",
         "xfailed", "xpassed"],
)  # fmt: skip
def test_phase_outcome_as_pytests_summary_line_counts(
    phases: list[tuple[str, str, bool]], outcome: str
) -> None:
    result = "passed"
    for when, phase_result, xfail in phases:
        result = phase_outcome(phase_result, when, xfail, result)
    assert result == outcome


# --- through pytest -----------------------------------------------------------------------


@xdist_params
def test_report_rows_order_and_footer(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    pytester.makepyfile(test_suite=SUITE)
    # test_marked_fast was slow when recorded, so its marker is not stale whatever this run's
    # call takes: the footer does not hang on a trivial call staying under a few ms (the
    # stale block is checked on plain data, and on seeded durations in
    # test_stale_marker_needs_the_recorded_runs_fast_too).
    seed_store(pytester, {"test_suite.py::test_marked_fast": 0.5})
    result = pytester.runpytest(THRESHOLD, *xdist_args)
    result.assert_outcomes(passed=5)
    lines = section(result)
    header = lines[0].split()
    assert header == ["call", "setup", "teardown", *(["worker"] if xdist_args else []),
                      "marked", "slow", "test"]  # fmt: skip
    rows = [line.split() for line in lines[1:3]]
    assert [(r[-2], r[-1]) for r in rows] == [
        ("no", "test_suite.py::test_unmarked_slow"),
        ("yes", "test_suite.py::test_marked_slow"),
    ]
    if xdist_args:
        assert all(r[3] in ("gw0", "gw1") for r in rows)
    # Header, two rows, then exactly the footer: totals, unmarked, slow fixtures.
    assert len(lines) == 8
    result.stdout.fnmatch_lines(
        [
            "2 of 5 tests slow (call over 0.10s): *s, *% of *s in all",
            "mark these slow (call over 0.10s, not marked slow):",
            "  test_suite.py::test_unmarked_slow (*s)",
            "slow fixtures (set-up over 0.10s, charged to the fixture):",
            "     *s  session  expensive in test_suite.py (set up once)",
        ],
        consecutive=True,
    )


@pytest.mark.skipif(not HAS_XDIST, reason="pytest-xdist is not installed")
def test_same_report_with_and_without_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)

    def content(*args: str) -> list[str]:
        lines = section(pytester.runpytest(THRESHOLD, "-p", "no:cacheprovider", *args))
        rows = [" ".join(line.split()[-2:]) for line in lines[1:3]]  # marked, node id
        # Left out: the stale-marker block, which without a store depends on a trivial
        # test's call staying under 10 ms in both runs (a pause on a busy machine can exceed
        # that); it is checked on seeded durations in
        # test_stale_marker_needs_the_recorded_runs_fast_too.
        stale = "these may not need the slow marker"
        rest = [
            line
            for line in lines[3:]
            if not line.startswith((stale, "  test_suite.py::test_marked_fast"))
        ]
        return rows + [re.sub(r"\d+(\.\d+)?", "N", line) for line in rest]

    assert content() == content("-n", "2")


@xdist_params
def test_session_fixture_is_not_charged_to_the_first_test(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest(THRESHOLD, *xdist_args).assert_outcomes(passed=5)
    entry = store_of(pytester)["tests"]["test_suite.py::test_uses_expensive"]
    # The fixture sleeps 0.15 s: that is the fixture's, not the test's.
    assert entry["shared"][0] >= 0.15
    assert entry["setup"][0] < entry["shared"][0] / 2


@xdist_params
def test_slow_strict_exit_codes(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest(THRESHOLD, "--slow-strict", *xdist_args)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(
        [
            "FAIL --slow-strict: 1 test(s) over 0.10s not marked slow: "
            "test_suite.py::test_unmarked_slow"
        ]
    )
    result = pytester.runpytest(THRESHOLD, "-o", "slow_strict=true", "-k", "not unmarked",
                                *xdist_args)  # fmt: skip
    assert result.ret == pytest.ExitCode.OK
    assert "--slow-strict" not in result.stdout.str()


@xdist_params
def test_store_holds_every_test_once(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest(*xdist_args).assert_outcomes(passed=5)
    tests = store_of(pytester)["tests"]
    assert sorted(tests) == sorted(
        f"test_suite.py::{name}"
        for name in (
            "test_uses_expensive", "test_unmarked_slow", "test_marked_slow", "test_marked_fast",
            "test_quick",
        )
    )  # fmt: skip
    for nodeid, entry in tests.items():
        assert entry.pop("at")[0] > 1.7e9  # stamped with this run's time
        marks = entry.pop("marks")
        assert marks == (["slow"] if "::test_marked_" in nodeid else [])
        assert {phase: len(values) for phase, values in entry.items()} == {
            "setup": 1,
            "call": 1,
            "teardown": 1,
            "shared": 1,
        }
    assert tests["test_suite.py::test_uses_expensive"]["shared"][0] >= 0.1  # the fixture's
    assert not list((pytester.path / ".pytest_cache" / "v" / "tempo").glob("*.tmp"))


#: An inner conftest that records, per process, the order of the collected tests and the
#: order the process ran them in (``collected-gw0.txt``, ``ran-master.txt``, ...).
ORDER_RECORDER = """
def _write(config, kind, lines):
    # The worker id from xdist's own workerinput: PYTEST_XDIST_WORKER may be inherited from
    # an outer xdist run.
    worker = getattr(config, "workerinput", {}).get("workerid", "master")
    with open(f"{kind}-{worker}.txt", "a") as f:
        f.writelines(line + "\\n" for line in lines)

def pytest_collection_finish(session):
    _write(session.config, "collected", [item.nodeid for item in session.items])

def pytest_runtest_call(item):
    _write(item.config, "ran", [item.nodeid])
"""


def recorded_orders(pytester: pytest.Pytester, kind: str) -> dict[str, list[str]]:
    """Per process (``master``, ``gw0``, ...): the node ids it collected or ran, in order;
    the files are removed, so the next run starts afresh."""
    orders = {}
    for path in sorted(pytester.path.glob(f"{kind}-*.txt")):
        orders[path.stem.removeprefix(f"{kind}-")] = path.read_text().split()
        path.unlink()
    return orders


def assert_ran_in_order(
    pytester: pytest.Pytester, expected: list[str], xdist_args: list[str]
) -> None:
    """Every process collected ``expected`` in that order; each ran its share in that order,
    and together they ran each test once."""
    collected = recorded_orders(pytester, "collected")
    ran = recorded_orders(pytester, "ran")
    processes = ["gw0", "gw1"] if xdist_args else ["master"]
    if xdist_args:
        collected.pop("master", None)  # the controller collects nothing under xdist
    assert collected == dict.fromkeys(processes, expected)
    assert set(ran) <= set(processes)
    assert sorted(t for share in ran.values() for t in share) == sorted(expected)
    for share in ran.values():
        assert share == [t for t in expected if t in share]


@xdist_params
def test_second_run_orders_by_the_store(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    pytester.makepyfile(
        test_suite="""
        import time
        def test_a_slow_unmarked(): time.sleep(0.25)
        def test_b(): pass
        def test_c(): pass
        """
    )
    pytester.makeconftest(ORDER_RECORDER)
    pytester.runpytest(THRESHOLD).assert_outcomes(passed=3)
    first = [
        "test_suite.py::test_a_slow_unmarked",
        "test_suite.py::test_b",
        "test_suite.py::test_c",
    ]
    assert recorded_orders(pytester, "ran") == {"master": first}  # pytest's order, no store yet
    recorded_orders(pytester, "collected")
    # The store now knows test_a is slow: it joins the slow tier, last, on every process.
    result = pytester.runpytest(THRESHOLD, *xdist_args)
    result.assert_outcomes(passed=3)
    assert "Different tests were collected" not in result.stdout.str()
    assert_ran_in_order(
        pytester,
        ["test_suite.py::test_b", "test_suite.py::test_c", "test_suite.py::test_a_slow_unmarked"],
        xdist_args,
    )
    # Without the store, pytest's order again.
    pytester.runpytest(THRESHOLD, "--cache-clear").assert_outcomes(passed=3)
    assert recorded_orders(pytester, "ran") == {"master": first}


def seed_store(pytester: pytest.Pytester, tests: dict[str, float]) -> None:
    path = pytester.path / ".pytest_cache" / "v" / "tempo" / "durations"
    path.parent.mkdir(parents=True, exist_ok=True)
    value = {n: {"setup": [0.0], "call": [s], "teardown": [0.0]} for n, s in tests.items()}
    path.write_text(json.dumps({"version": 1, "tests": value}))


@xdist_params
def test_durations_mode_runs_fastest_first(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    pytester.makepyfile(
        test_one="""
        import pytest
        def test_1(): pass
        def test_2(): pass
        def test_3(): pass
        @pytest.mark.smoke
        def test_4(): pass
        @pytest.mark.smoke
        def test_5(): pass
        """
    )
    pytester.makeconftest(ORDER_RECORDER)
    seed_store(pytester, {"test_one.py::test_1": 0.3, "test_one.py::test_2": 0.1,
                          "test_one.py::test_4": 0.2, "test_one.py::test_5": 0.05})  # fmt: skip
    # Smoke first, fastest first inside each tier (the default tiers mode would run
    # test_4, test_5, test_1, test_2, test_3).
    expected = [
        "test_one.py::test_5",
        "test_one.py::test_4",
        "test_one.py::test_3",  # never recorded: counts as 0 s
        "test_one.py::test_2",
        "test_one.py::test_1",
    ]
    result = pytester.runpytest("--tempo-order=durations", *xdist_args)
    result.assert_outcomes(passed=5)
    assert_ran_in_order(pytester, expected, xdist_args)


@xdist_params
@pytest.mark.slow
def test_filtered_runs_keep_entries_and_full_runs_prune(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    pytester.makepyfile(test_a="def test_1(): pass\ndef test_2(): pass\n")
    pytester.runpytest(*xdist_args).assert_outcomes(passed=2)
    pytester.makepyfile(test_a="def test_1(): pass\n")
    pytester.runpytest("-k", "test_1", *xdist_args).assert_outcomes(passed=1)
    tests = store_of(pytester)["tests"]
    assert set(tests) == {"test_a.py::test_1", "test_a.py::test_2"}
    assert len(tests["test_a.py::test_1"]["call"]) == 2
    pytester.runpytest("test_a.py", *xdist_args).assert_outcomes(passed=1)  # paths: not full
    assert "test_a.py::test_2" in store_of(pytester)["tests"]
    pytester.runpytest(*xdist_args).assert_outcomes(passed=1)
    assert set(store_of(pytester)["tests"]) == {"test_a.py::test_1"}


@xdist_params
def test_json_report_validates(
    pytester: pytest.Pytester, xdist_args: list[str], tmp_path: Path
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from importlib.resources import files

    schema = json.loads(files("pytest_tempo").joinpath("schemas/slow-report.json").read_text())
    pytester.makepyfile(test_suite=SUITE)
    out = tmp_path / "report.json"
    pytester.runpytest(THRESHOLD, f"--slow-report-json={out}", *xdist_args).assert_outcomes(
        passed=5
    )
    document = json.loads(out.read_text())
    jsonschema.validate(document, schema)
    assert [t["nodeid"] for t in document["tests"]] == [
        "test_suite.py::test_unmarked_slow",
        "test_suite.py::test_marked_slow",
    ]
    assert document["unmarked_slow"] == ["test_suite.py::test_unmarked_slow"]
    assert document["threshold"] == 0.1
    assert len(document["all_tests"]) == 5
    assert sum(w["tests"] for w in document["workers"].values()) == 5
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**document, "threshold": -1}, schema)


def test_unwritable_json_is_reported_at_the_end(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a="def test_1(): pass\n")
    result = pytester.runpytest("--slow-report-json=missing/dir/report.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["tempo: --slow-report-json: could not write missing/dir/report.json: *"]
    )


def test_github_step_summary(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = pytester.path / "summary.md"
    summary.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest(THRESHOLD).assert_outcomes(passed=5)
    text = summary.read_text()
    assert text.startswith("# earlier step\n### Slow tests (call over 0.10s)")
    assert "| `test_suite.py::test_unmarked_slow` |" in text
    assert "#### Mark these slow" in text


@pytest.mark.parametrize(
    ("args", "rows"),
    [(["--slow-report=1"], 1), (["--slow-report=all"], 2), (["-o", "slow_report=all"], 2)],
    ids=["slow-report-1", "slow-report-all", "slow_report-all"],
)
def test_report_rows_option(pytester: pytest.Pytester, args: list[str], rows: int) -> None:
    pytester.makepyfile(test_suite=SUITE)
    lines = section(pytester.runpytest(THRESHOLD, *args))
    assert sum("test_suite.py::test_" in line and "s " in line[:10] for line in lines) == rows


@pytest.mark.parametrize(
    "args", [["--slow-report=0"], ["--collect-only"]], ids=["slow-report-0", "collect-only"]
)
def test_report_hidden_with_zero_or_when_nothing_ran(
    pytester: pytest.Pytester, args: list[str]
) -> None:
    pytester.makepyfile(test_a="def test_1(): pass\n")
    result = pytester.runpytest(*args)
    assert " slow tests " not in result.stdout.str()
    assert " slow tests " in pytester.runpytest("--slow-threshold=0").stdout.str()


def test_timing_switched_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a="def test_1(): pass\n")
    result = pytester.runpytest("-p", "no:tempo-timing")
    assert " slow tests " not in result.stdout.str()
    assert not (pytester.path / ".pytest_cache" / "v" / "tempo" / "durations").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--slow-threshold=-1"], "--slow-threshold: '-1' is not valid: expected a number of "
         "seconds from 0 to 86400, such as 0.5"),
        (["--slow-threshold=abc"], "--slow-threshold: 'abc' is not valid: expected a number of "
         "seconds from 0 to 86400, such as 0.5"),
        (["-o", "slow_threshold=nan"], "slow_threshold (ini): 'nan' is not valid: *"),
        (["--slow-report=-3"], "--slow-report: '-3' is not valid: expected a whole number from "
         "0 to 100000, or 'all'"),
        (["-o", "slow_report=many"], "slow_report (ini): 'many' is not valid: *"),
        (["-o", "slow_strict=maybe"], "slow_strict (ini): 'maybe' is not valid: expected true "
         "or false"),
    ],
    ids=["slow-threshold-negative", "slow-threshold-abc", "slow_threshold-nan",
         "slow-report-negative", "slow_report-many", "slow_strict-maybe"],
)  # fmt: skip
def test_bad_values(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    assert_usage_error(pytester, args, f"ERROR: {message}")


def test_to_json_shape() -> None:
    summary = summarize([timing("t::a", 2.0)], [], 1.0)
    document = to_json(summary, [timing("t::a", 2.0)])
    assert document["tests"][0]["total"] == 2.01
    assert document["workers"] == {"master": {"tests": 1, "seconds": 2.01}}


@xdist_params
def test_html_timeline_written(
    pytester: pytest.Pytester, xdist_args: list[str], tmp_path: Path
) -> None:
    pytester.makepyfile(test_suite=SUITE + "\n    def test_fails(): assert 0\n")
    page = tmp_path / "run.html"
    result = pytester.runpytest(THRESHOLD, f"--tempo-html={page}", *xdist_args)
    result.assert_outcomes(passed=5, failed=1)
    text = page.read_text()
    assert "<script" not in text
    assert "test_suite.py::test_unmarked_slow" in text
    assert "test_suite.py::test_fails" in text
    for worker in ("gw0", "gw1") if xdist_args else ("master",):
        assert worker in text


def test_html_unwritable_path(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a="def test_1(): pass\n")
    result = pytester.runpytest("-o", "tempo_html=missing/dir/run.html")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["tempo: --tempo-html: could not write missing/dir/run.html: *"])


def test_stale_marker_needs_the_recorded_runs_fast_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_a="""
        import pytest

        @pytest.mark.slow
        def test_was_slow(): pass

        @pytest.mark.slow
        def test_always_fast(): pass
        """
    )
    seed_store(pytester, {"test_a.py::test_was_slow": 0.5, "test_a.py::test_always_fast": 0.0})
    # A threshold of 2 s: "fast" is a call under 0.2 s, which a trivial test's call stays
    # under with a wide margin; the verdicts then follow the seeded durations alone.
    result = pytester.runpytest("--slow-threshold=2")
    result.assert_outcomes(passed=2)
    lines = section(result)
    assert lines[1:] == [
        "these may not need the slow marker (call and shared set-up under 0.20s):",
        lines[2],
    ]
    assert re.fullmatch(r"  test_a\.py::test_always_fast \(0\.\d\ds\)", lines[2])


#: Writes, per process, the plugin's implementations of the per-report hook.
CONFTEST_PHASE_HOOK = """
import os


def pytest_sessionfinish(session):
    worker = getattr(session.config, "workerinput", {}).get("workerid", "main")
    impls = session.config.hook.pytest_runtest_logreport.get_hookimpls()
    names = sorted(i.plugin_name for i in impls if i.plugin_name.startswith("tempo"))
    with open(os.path.join(str(session.config.rootpath), "hooked-" + worker), "w") as f:
        f.write(",".join(names))
"""

SUITE_WITH_FIXTURES = """
import time

import pytest


@pytest.fixture(scope="module")
def table():
    time.sleep(0.3)
    return {}


@pytest.fixture
def row():
    return 1


def test_first(table, row):
    pass


@pytest.mark.parametrize("n", [1, 2])
def test_more(table, n):
    pass


def test_late(request):
    request.getfixturevalue("row")


def test_fails(table):
    assert False
"""


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "no-terminal"])
@xdist_params
def test_the_terminals_reports_are_read_and_no_hook_runs_per_report(
    pytester: pytest.Pytester, xdist_args: list[str], terminal: bool
) -> None:
    """Where pytest's terminal reporter keeps the reports (the only process, or the xdist
    controller), the timing reads them there and runs no hook per report; a worker, or a
    run without the terminal reporter, gets one. Both record the same: every test, and a
    module fixture's set-up charged to the test whose setup triggered it."""
    pytester.makeconftest(CONFTEST_PHASE_HOOK)
    pytester.makepyfile(test_fixtures=SUITE_WITH_FIXTURES)
    args = [*xdist_args, "-p", "no:randomly", "-p", "no:cov"]
    if xdist_args:
        args += ["--dist", "loadfile"]  # the module's tests on one worker: one set-up
    if not terminal:
        args += ["-p", "no:terminal"]
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    hooked = {p.name: p.read_text() for p in pytester.path.glob("hooked-*")}
    expected = {"hooked-main": "" if terminal else "tempo-timing-reports"}
    if xdist_args:
        expected.update(
            {"hooked-gw0": "tempo-timing-reports", "hooked-gw1": "tempo-timing-reports"}
        )
    assert hooked == expected
    tests = store_of(pytester)["tests"]
    assert sorted(tests) == [
        "test_fixtures.py::test_fails",
        "test_fixtures.py::test_first",
        "test_fixtures.py::test_late",
        "test_fixtures.py::test_more[1]",
        "test_fixtures.py::test_more[2]",
    ]
    first = tests["test_fixtures.py::test_first"]
    # The module fixture sleeps 0.3 s: charged to it, not to the test's setup (margins of
    # 0.1 s either way; a sleep never returns early).
    assert first["shared"][-1] >= 0.29
    assert first["setup"][-1] < 0.2
    assert tests["test_fixtures.py::test_more[2]"]["shared"][-1] < 0.2
    assert all("call" in entry for entry in tests.values())
