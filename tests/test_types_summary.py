"""The "test types" summary: the pure rows and coverage, and real runs serial and with -n 2.

Runs that measure coverage use ``runpytest_subprocess``: an in-process run would start a
second ``coverage.Coverage`` inside the one measuring this suite.

The sample project (:func:`project`) has exact numbers. ``app/calc.py`` has 6 statements: the
two ``def`` lines run at import, ``add``'s body (1 line) runs in the unit tests, ``div``'s body
(3 lines, one of them only for zero) in the integration test, which reaches 2 of the 3. So
unit covers 2 + 1 = 3 of 6 (50%), integration 2 + 2 = 4 of 6 (66.7%). ``app/io.py`` (3
statements) is run only by the untyped test: 3 of 3 (100%).
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tempo.timing import TestTiming
from pytest_tempo.types_summary import (
    NO_CONTEXTS,
    OTHER,
    TypeRow,
    context_nodeid,
    coverage_by_type,
    render_markdown,
    render_terminal,
    type_rows,
)

from .conftest import HAS_COV, HAS_XDIST, xdist_params

if TYPE_CHECKING:
    from pathlib import Path

needs_cov = pytest.mark.skipif(not HAS_COV, reason="pytest-cov is not installed")
needs_xdist = pytest.mark.skipif(not HAS_XDIST, reason="pytest-xdist is not installed")

# --- pure parts ------------------------------------------------------------------------------


def timing(
    nodeid: str, types: tuple[str, ...], outcome: str = "passed", call: float = 0.5
) -> TestTiming:
    return TestTiming(nodeid, setup=0.25, call=call, types=types, outcome=outcome, ran_call=True)


def test_type_rows_count_outcomes_and_seconds_in_configured_order() -> None:
    timings = [
        timing("t::a", ("integration",)),
        timing("t::b", ("unit",), "failed"),
        timing("t::c", ("unit",), "error"),
        timing("t::d", ("unit",), "skipped", call=0.0),
        timing("t::e", ()),
        timing("t::f", ("unit", "db")),
    ]
    rows = type_rows(timings, ("unit", "integration", "e2e", "db"))
    assert [r.name for r in rows] == ["unit", "integration", "db", OTHER]  # e2e ran nothing
    unit = rows[0]
    assert (unit.tests, unit.passed, unit.failed, unit.errors, unit.skipped) == (4, 1, 1, 1, 1)
    assert unit.seconds == pytest.approx(0.75 * 3 + 0.25)
    assert rows[2].tests == rows[3].tests == 1
    assert unit.coverage is None


def test_type_rows_keep_a_type_the_settings_do_not_name() -> None:
    rows = type_rows([timing("t::a", ("api",))], ("unit",))
    assert [(r.name, r.tests) for r in rows] == [("api", 1)]


def test_type_rows_of_no_tests() -> None:
    assert type_rows([], ("unit",)) == []


@pytest.mark.parametrize(
    ("context", "nodeid"),
    [
        ("tests/test_a.py::test_x|run", "tests/test_a.py::test_x"),
        ("tests/test_a.py::test_x[a|b]|setup", "tests/test_a.py::test_x[a|b]"),
        ("t.py::T::test|teardown", "t.py::T::test"),
        ("", None),
        ("test_a.test_x", None),  # coverage's own dynamic_context = test_function
        ("t.py::test|call", None),
    ],
)
def test_context_nodeid(context: str, nodeid: str | None) -> None:
    assert context_nodeid(context) == nodeid


@given(st.text(), st.sampled_from(["|setup", "|run", "|teardown"]))
def test_context_nodeid_round_trips(nodeid: str, phase: str) -> None:
    assert context_nodeid(nodeid + phase) == nodeid


@given(st.text().filter(lambda s: not s.endswith(("|setup", "|run", "|teardown"))))
def test_context_nodeid_ignores_other_contexts(context: str) -> None:
    assert context_nodeid(context) is None


def test_coverage_by_type_counts_import_lines_for_every_type_that_ran_the_file() -> None:
    files = [
        (
            [1, 2, 3, 5, 6, 7],
            {
                1: [""],
                5: [""],
                2: ["t::u1|run", "t::u2|run"],
                6: ["t::i|run"],
                7: ["t::i|run", "t::gone|run"],
                9: ["t::i|run"],  # not a statement (a docstring line, say): ignored
            },
        ),
        ([1, 2, 3], {1: ["t::o|setup"], 2: ["t::o|run"], 3: ["t::o|teardown"]}),
        ([1, 2], {1: [""]}),  # imported, run by no test: no type's file
    ]
    types_of = {"t::u1": ("unit",), "t::u2": ("unit",), "t::i": ("integration",), "t::o": ()}
    assert coverage_by_type(files, types_of) == {
        "unit": (3, 6),
        "integration": (4, 6),
        OTHER: (3, 3),
    }


def test_coverage_by_type_counts_a_test_with_two_types_in_both() -> None:
    files = [([1, 2], {1: ["t::a|run"]})]
    assert coverage_by_type(files, {"t::a": ("unit", "db")}) == {"unit": (1, 2), "db": (1, 2)}


def test_render_terminal_aligns_and_explains() -> None:
    rows = [
        TypeRow("unit", tests=2, passed=1, failed=1, seconds=0.5, statements=6, covered=3),
        TypeRow("integration", tests=1, passed=1, seconds=12.25, statements=6, covered=6),
        TypeRow("db", tests=1, skipped=1),
    ]
    assert render_terminal(rows, 3, with_coverage=True) == [
        "type         tests  passed  failed  skipped  seconds  coverage",
        "unit             2       1       1        0    0.50s     50.0%",
        "integration      1       1       0        0   12.25s      100%",
        "db               1       0       0        1    0.00s         -",
        "(a test carrying two type markers counts under each)",
        "(coverage: of the files a type's tests ran, the statements they ran)",
    ]
    assert render_terminal(rows[:1], 2, with_coverage=False, note=NO_CONTEXTS) == [
        "type  tests  passed  failed  skipped  seconds",
        "unit      2       1       1        0    0.50s",
        f"({NO_CONTEXTS})",
    ]


def test_render_terminal_shows_errors_only_when_a_test_errored() -> None:
    rows = [TypeRow("unit", tests=2, passed=1, errors=1, seconds=0.5)]
    assert render_terminal(rows, 2, with_coverage=False) == [
        "type  tests  passed  failed  errors  skipped  seconds",
        "unit      2       1       0       1        0    0.50s",
    ]


def test_render_markdown() -> None:
    rows = [TypeRow("unit", tests=2, passed=2, seconds=0.5, statements=4, covered=1)]
    assert render_markdown(rows, 2, with_coverage=True) == (
        "### Test types\n\n"
        "| type | tests | passed | failed | skipped | seconds | coverage |\n"
        "|---|---:|---:|---:|---:|---:|---:|\n"
        "| `unit` | 2 | 2 | 0 | 0 | 0.50s | 25.0% |\n\n"
        "Coverage: of the files a type's tests ran, the statements they ran.\n\n"
    )


# --- real runs -------------------------------------------------------------------------------


def project(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        textwrap.dedent(
            """
            [tool.pytest.ini_options]
            console_output_style = "classic"
            pythonpath = ["."]
            test_types = ["tests/unit/*: unit", "tests/integration/*: integration db"]
            """
        )
    )
    app = pytester.mkpydir("app")
    (app / "calc.py").write_text(
        textwrap.dedent(
            """\
            def add(a, b):
                return a + b
            def div(a, b):
                if b == 0:
                    raise ZeroDivisionError("b")
                return a / b
            """
        )
    )
    (app / "io.py").write_text("def read():\n    value = 1\n    return value\n")
    unit = pytester.mkdir("tests") / "unit"
    unit.mkdir()
    (unit / "test_calc.py").write_text(
        textwrap.dedent(
            """\
            import pytest
            from app.calc import add

            def test_add():
                assert add(1, 2) == 3

            def test_add_wrong():
                assert add(1, 1) == 3

            @pytest.mark.skip(reason="not today")
            def test_skipped():
                pass

            @pytest.mark.xfail(reason="known", strict=True)
            def test_xfail():
                assert add(1, 1) == 3
            """
        )
    )
    integration = pytester.path / "tests" / "integration"
    integration.mkdir()
    (integration / "test_div.py").write_text(
        "from app.calc import div\n\ndef test_div():\n    assert div(4, 2) == 2\n"
    )
    (pytester.path / "tests" / "test_io.py").write_text(
        "from app.io import read\n\ndef test_read():\n    assert read() == 1\n"
    )


SECTION = [
    "*= test types =*",
    "type         tests  passed  failed  skipped  xfailed  seconds*",
    "unit             4       1       1        1        1    *s*",
    "integration      1       1       0        0        0    *s*",
    "db               1       1       0        0        0    *s*",
    "other            1       1       0        0        0    *s*",
    "(a test carrying two type markers counts under each)",
]


@xdist_params
def test_summary_counts_every_type(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    project(pytester)
    result = pytester.runpytest(*xdist_args)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(SECTION)
    assert "coverage" not in result.stdout.str()  # no data: no column, no hint


@needs_cov
@pytest.mark.slow
@pytest.mark.parametrize(
    "xdist_args",
    [
        pytest.param([], id="serial"),
        pytest.param(["-n", "2"], id="xdist", marks=needs_xdist),
    ],
)
def test_coverage_column_from_test_contexts(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    project(pytester)
    result = pytester.runpytest_subprocess(
        "--cov=app", "--cov-context=test", "--cov-report=", *xdist_args
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*= test types =*",
            "type         tests  passed  failed  skipped  xfailed  seconds  coverage",
            "unit             4       1       1        1        1    *s     50.0%",
            "integration      1       1       0        0        0    *s     66.7%",
            "db               1       1       0        0        0    *s     66.7%",
            "other            1       1       0        0        0    *s      100%",
            "(a test carrying two type markers counts under each)",
            "(coverage: of the files a type's tests ran, the statements they ran)",
        ]
    )


@needs_cov
def test_coverage_without_test_contexts_says_how_to_get_the_column(
    pytester: pytest.Pytester,
) -> None:
    project(pytester)
    result = pytester.runpytest_subprocess("--cov=app", "--cov-report=")
    result.stdout.fnmatch_lines(
        [
            "type         tests  passed  failed  skipped  xfailed  seconds",
            "unit             4       1       1        1        1    *s",
            "*",
            "*",
            "*",
            "(a test carrying two type markers counts under each)",
            f"({NO_CONTEXTS})",
        ]
    )


@xdist_params
def test_summary_goes_to_the_github_step_summary(
    pytester: pytest.Pytester,
    xdist_args: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project(pytester)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.runpytest(*xdist_args)
    text = summary.read_text()
    head = "| type | tests | passed | failed | skipped | xfailed | seconds |"
    assert f"### Test types\n\n{head}\n" in text
    assert "| `unit` | 4 | 1 | 1 | 1 | 1 | " in text
    assert "| `other` | 1 | 1 | 0 | 0 | 0 | " in text


def test_untyped_suite_has_one_row(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(): pass\ndef test_b(): pass\n")
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(
        [
            "*= test types =*",
            "type   tests  passed  failed  skipped  seconds",
            "other      2       2       0        0    *s",
            "*= 2 passed in *",
        ]
    )


@pytest.mark.parametrize("blocked", ["tempo-summary", "tempo-timing"])
def test_summary_can_be_turned_off(pytester: pytest.Pytester, blocked: str) -> None:
    pytester.makepyfile("def test_a(): pass\n")
    result = pytester.runpytest("-p", f"no:{blocked}")
    result.assert_outcomes(passed=1)
    assert "test types" not in result.stdout.str()


def test_no_summary_when_nothing_ran(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(): pass\n")
    result = pytester.runpytest("--collect-only")
    assert "test types" not in result.stdout.str()


@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from(["unit", "db", "api"]), unique=True, max_size=2),
            st.sampled_from(["passed", "failed", "error", "skipped", "xfailed", "xpassed"]),
            st.floats(min_value=0, max_value=10),
        ),
        max_size=30,
    )
)
def test_type_rows_count_each_test_in_each_of_its_rows(
    tests: list[tuple[list[str], str, float]],
) -> None:
    """Counting tests by kind (types and outcome) gives, per row, what counting each test
    in each of its rows gives, rows in the order of the settings, then first seen."""
    timings = [timing(f"t::{i}", tuple(names), outcome, call) for i, (names, outcome, call)
               in enumerate(tests)]  # fmt: skip
    expected: dict[str, dict[str, float]] = {"unit": {}, OTHER: {}}
    for t in timings:
        for name in t.types or (OTHER,):
            row = expected.setdefault(name, {})
            row["tests"] = row.get("tests", 0) + 1
            row[t.outcome] = row.get(t.outcome, 0) + 1
            row["seconds"] = row.get("seconds", 0.0) + t.total
    rows = type_rows(timings, ("unit",))
    assert [r.name for r in rows] == [name for name, row in expected.items() if row]
    for r in rows:
        want = expected[r.name]
        counts = (r.tests, r.passed, r.failed, r.errors, r.skipped, r.xfailed, r.xpassed)
        assert counts == tuple(
            want.get(k, 0)
            for k in ("tests", "passed", "failed", "error", "skipped", "xfailed", "xpassed")
        )
        assert r.seconds == pytest.approx(want["seconds"])


def test_type_rows_of_every_test_count_each_test_once() -> None:
    timings = [timing("t::a", ("unit", "db")), timing("t::b", (), "failed")]
    (total,) = type_rows(timings, ("unit",), every="all tests")
    assert (total.name, total.tests, total.passed, total.failed) == ("all tests", 2, 1, 1)
    assert total.seconds == pytest.approx(1.5)
