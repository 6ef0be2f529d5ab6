"""Coverage floors: parsing, the pure aggregation, and real runs with pytest-cov.

Runs that measure coverage use ``runpytest_subprocess``: an in-process run would start a
second ``coverage.Coverage`` inside the one measuring this suite.

The sample project (:func:`project`) has exact numbers. Statements only:
``core/a.py`` 2 of 2, ``core/b.py`` 4 of 6 (lines 3 and 8 missed), ``glue.py`` 5 of 5, so
``core/*`` is 6 of 8 = 75% and ``total`` 11 of 13 = 84.6%. With branches: ``b.py`` misses
2->3 and ``glue.py`` 3->5 (one of two exits each): ``core/*`` 7 of 10 = 70%, ``glue.py``
6 of 7 = 85.7%, ``total`` 13 of 17 = 76.5%.
"""

from __future__ import annotations

import math
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tempo import __version__
from pytest_tempo._coverage import DataSource
from pytest_tempo.coverage_floors import (
    FileCoverage,
    FloorResult,
    Verdict,
    check,
    evaluate,
    fail_under_note,
    floor_precision,
    markdown,
    measure,
    percent_covered,
    relative_path,
    summary_line,
    terminal_rows,
)
from pytest_tempo.plugin import COVERAGE, ORDERING, header_line
from pytest_tempo.settings import Floor, SettingError, Settings, parse_cov_floors, parse_percent

from .conftest import HAS_COV, HAS_XDIST, assert_usage_error, xdist_params

if TYPE_CHECKING:
    from pathlib import Path

    from coverage import Coverage

needs_cov = pytest.mark.skipif(not HAS_COV, reason="pytest-cov is not installed")

#: Like ``xdist_params``, with the ``-n 2`` run (over a second to start) marked slow.
xdist_params_slow_n2 = pytest.mark.parametrize(
    "xdist_args",
    [
        pytest.param([], id="serial"),
        pytest.param(
            ["-n", "2"],
            id="xdist",
            marks=[
                pytest.mark.skipif(not HAS_XDIST, reason="pytest-xdist is not installed"),
                pytest.mark.slow,
            ],
        ),
    ],
)

# --- parsing -------------------------------------------------------------------------------


def test_parse_cov_floors() -> None:
    lines = ["", "# critical", "total: 85", "src/app/auth/*: 100", "src\\app\\x.py:92.5%"]
    assert parse_cov_floors(lines) == (
        Floor("total", 85.0),
        Floor("src/app/auth/*", 100.0),
        Floor("src/app/x.py", 92.5),
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("src/x", "line 'src/x' is not of the form 'PATTERN: PCT'"),
        (": 90", "line ': 90' is not of the form 'PATTERN: PCT'"),
        ("src/x:101", "line 'src/x:101': '101' is not a percentage from 0 to 100"),
        ("src/x:-5", "line 'src/x:-5': '-5' is not a percentage from 0 to 100"),
        ("src/x:abc", "line 'src/x:abc': 'abc' is not a percentage such as 90 or 92.5"),
        ("src/x:", "line 'src/x:': '' is not a percentage such as 90 or 92.5"),
        ("src/x:nan", "line 'src/x:nan': 'nan' is not a percentage such as 90 or 92.5"),
        (
            "src/x:\u0669\u0660",
            "line 'src/x:\u0669\u0660': '\u0669\u0660' is not a percentage such as 90 or 92.5",
        ),
        ("src/x**: 90", "line 'src/x\\*\\*: 90': File pattern can't include 'x\\*\\*'"),
    ],
)
def test_parse_cov_floors_errors(line: str, message: str) -> None:
    with pytest.raises(SettingError, match=f"^{message}$"):
        parse_cov_floors([line])


def test_parse_cov_floors_rejects_unprintable_patterns() -> None:
    with pytest.raises(SettingError, match="the pattern has characters that are not printable"):
        parse_cov_floors(["f\n\r\x95: 50"])


def test_parse_cov_floors_duplicate_pattern() -> None:
    with pytest.raises(SettingError, match="the pattern 'total' already has a floor"):
        parse_cov_floors(["total: 80", "total: 90"])


@given(st.text(max_size=30), st.floats(min_value=0, max_value=100, allow_nan=False))
def test_parse_cov_floors_round_trip(pattern: str, percent: float) -> None:
    line = f"{pattern}: {percent!r}"
    message = ""
    try:
        floors = parse_cov_floors([line])
    except SettingError as exc:
        message = str(exc)
    if message:
        assert message.startswith("line ")
        return
    if not floors:  # a blank or comment line
        assert not pattern.strip() or pattern.strip().startswith("#")
        return
    (floor,) = floors
    assert floor.percent == percent
    assert floor.pattern == pattern.partition(":")[0].strip().replace("\\", "/")


@given(st.lists(st.text(max_size=40), max_size=8))
def test_parse_cov_floors_accepts_or_rejects_cleanly(lines: list[str]) -> None:
    message = ""
    try:
        floors = parse_cov_floors(lines)
    except SettingError as exc:
        message = str(exc)
    if message:
        assert message.startswith("line ")
        return
    assert len(floors) <= len(lines)
    assert all(0 <= f.percent <= 100 for f in floors)
    assert len({f.pattern for f in floors}) == len(floors)


@given(st.text(max_size=12))
def test_parse_percent_in_range_or_error(raw: str) -> None:
    try:
        value = parse_percent(raw)
    except SettingError:
        return
    assert math.isfinite(value)
    assert 0 <= value <= 100


# --- pure aggregation ------------------------------------------------------------------------

A = FileCoverage("src/pkg/core/a.py", statements=2, missing=0)
B = FileCoverage("src/pkg/core/b.py", statements=6, missing=2, missed="3, 8")
GLUE = FileCoverage("src/pkg/glue.py", statements=5, missing=0)
EMPTY = FileCoverage("src/pkg/__init__.py", statements=0, missing=0)
FILES = [EMPTY, A, B, GLUE]


def test_percent_covered_statements_and_branches() -> None:
    assert percent_covered([]) == 100.0
    assert percent_covered([EMPTY]) == 100.0
    assert percent_covered([A, B]) == 75.0
    with_branches = FileCoverage("x.py", statements=6, missing=2, branches=2, missing_branches=1)
    assert percent_covered([with_branches]) == 62.5


def test_evaluate_total_globs_and_overlaps() -> None:
    floors = [
        Floor("total", 80),
        Floor("src/pkg/core/*", 90),
        Floor("src/pkg/core/a.py", 100),
        Floor("glue.py", 100),
        Floor("src/**/b.py", 50),
    ]
    verdict = evaluate(floors, FILES, precision=0)
    rows = [(r.floor.pattern, r.files, r.status) for r in verdict.results]
    assert rows == [
        ("total", 4, "PASS"),
        ("src/pkg/core/*", 2, "FAIL"),
        ("src/pkg/core/a.py", 1, "PASS"),
        ("glue.py", 1, "PASS"),
        ("src/**/b.py", 1, "PASS"),
    ]
    assert verdict.results[1].percent == 75.0
    assert verdict.results[1].worst == (B,)
    assert verdict.failed == (verdict.results[1],)
    assert verdict.fails_run
    assert verdict.unmatched == ()


def test_evaluate_star_stays_in_its_directory_unless_trailing() -> None:
    deep = FileCoverage("src/pkg/core/sub/deep.py", statements=1, missing=1)
    verdict = evaluate(
        [Floor("src/pkg/*/a.py", 0), Floor("src/pkg/core/*", 0), Floor("src/*.py", 0)],
        [*FILES, deep],
        precision=0,
    )
    assert [r.files for r in verdict.results] == [1, 3, 0]


def test_evaluate_pattern_matching_nothing() -> None:
    verdict = evaluate([Floor("src/pgk/*", 50)], FILES, precision=0)
    (result,) = verdict.results
    assert (result.status, result.files, result.percent) == ("NO FILES", 0, None)
    assert verdict.unmatched == ("src/pgk/*",)
    assert not verdict.fails_run  # reported as a configuration error instead


def test_evaluate_rounds_like_coverage() -> None:
    two_thirds = [FileCoverage("b.py", statements=3, missing=1)]
    assert evaluate([Floor("total", 67)], two_thirds, precision=0).results[0].met
    assert not evaluate([Floor("total", 67)], two_thirds, precision=2).results[0].met
    # a floor with decimals is compared with as many decimals as it has
    assert evaluate([Floor("total", 66.67)], two_thirds, precision=0).results[0].met
    assert not evaluate([Floor("total", 66.68)], two_thirds, precision=0).results[0].met
    # 100 must really be 100
    almost = [FileCoverage("c.py", statements=1000, missing=1)]
    assert not evaluate([Floor("total", 100)], almost, precision=0).results[0].met


def test_worst_files_most_missed_first_at_most_five() -> None:
    files = [FileCoverage(f"m{i}.py", statements=10, missing=i, missed=f"1-{i}") for i in range(8)]
    files.append(FileCoverage("br.py", statements=10, missing=5, branches=4, missing_branches=4))
    (result,) = evaluate([Floor("total", 100)], files, precision=0).results
    assert [f.path for f in result.worst] == ["m7.py", "m6.py", "br.py", "m5.py", "m4.py"]


def test_floor_precision() -> None:
    assert floor_precision(90, 0) == 0
    assert floor_precision(92.5, 0) == 1
    assert floor_precision(92.25, 1) == 2
    assert floor_precision(92.5, 3) == 3


def test_relative_path(tmp_path: Path) -> None:
    root = str(tmp_path)
    assert relative_path(str(tmp_path / "src" / "a.py"), root) == "src/a.py"
    outside = tmp_path.parent / "elsewhere.py"
    assert relative_path(str(outside), root) == str(outside).replace("\\", "/")


# --- reading coverage data --------------------------------------------------------------------

GLUE_SOURCE = "def pick(flag):\n    value = 0\n    if flag:\n        value = 1\n    return value\n"


def saved_coverage(root: Path, *, branch: bool) -> Coverage:
    """A ``Coverage`` loaded from a data file written here (nothing is traced).

    ``glue.py`` ran ``pick(True)``: with branches, its arc 3->5 is missed; with lines only,
    nothing is. ``gone.py`` was measured but has no source any more; ``page.html``, a
    non-Python file, was measured by some plugin.
    """
    from coverage import Coverage, CoverageData
    from coverage.parser import PythonParser

    src = root / "src"
    src.mkdir()
    glue = src / "glue.py"
    glue.write_text(GLUE_SOURCE)
    data = CoverageData(basename=str(root / ".coverage"))
    if branch:
        parser = PythonParser(filename=str(glue))
        parser.parse_source()
        data.add_arcs({str(glue): [arc for arc in parser.arcs() if arc != (3, 5)]})
    else:
        data.add_lines({str(glue): [1, 2, 3, 4, 5], str(src / "gone.py"): [1]})
    data.write()
    cov = Coverage(data_file=str(root / ".coverage"), config_file=False)
    cov.load()
    return cov


def test_measure_lines(tmp_path: Path) -> None:
    from coverage.exceptions import CoverageWarning

    cov = saved_coverage(tmp_path, branch=False)
    with pytest.warns(CoverageWarning, match="Couldn't parse .*gone.py"):
        files = measure(cov, str(tmp_path))
    assert files == [FileCoverage("src/glue.py", statements=5, missing=0)]
    assert cov.get_option("report:ignore_errors") is False  # restored


def test_measure_branches(tmp_path: Path) -> None:
    files = measure(saved_coverage(tmp_path, branch=True), str(tmp_path))
    assert files == [
        FileCoverage(
            "src/glue.py", statements=5, missing=0, branches=2, missing_branches=1, missed="3->5"
        )
    ]


def test_check_with_saved_data(tmp_path: Path) -> None:
    source = DataSource(cov=saved_coverage(tmp_path, branch=True))
    verdict = check(source, [Floor("total", 90), Floor("src/*", 70)], str(tmp_path))
    assert [(r.status, round(r.percent or 0, 2)) for r in verdict.results] == [
        ("FAIL", 85.71),
        ("PASS", 85.71),
    ]
    assert verdict.precision == 0
    assert verdict.failed[0].worst[0].missed == "3->5"


def test_check_without_data(tmp_path: Path) -> None:
    from coverage import Coverage

    empty = Coverage(data_file=str(tmp_path / ".coverage"), config_file=False)
    verdict = check(DataSource(cov=empty, precision=1), [Floor("total", 80)], str(tmp_path))
    assert verdict.unmatched == ("total",)
    assert verdict.precision == 1
    unchecked = check(DataSource(reason="why"), [Floor("total", 80)], "", required=True)
    assert (unchecked.unchecked, unchecked.fails_run) == ("why", True)


def test_fail_under_note() -> None:
    assert fail_under_note(None) == ()
    assert fail_under_note(0) == ()
    (note,) = fail_under_note(92.5)
    assert note.startswith("(pytest-cov's --cov-fail-under=92.5 is checked separately")


# --- rendering -------------------------------------------------------------------------------


def _verdict() -> Verdict:
    floors = [Floor("total", 80), Floor("src/pkg/core/*", 90)]
    return evaluate(floors, FILES, precision=0)


def test_terminal_rows() -> None:
    rows = terminal_rows(_verdict())
    assert [text for text, _ in rows] == [
        "pattern         files  covered  floor  result",
        "total               4      85%    80%  PASS",
        "src/pkg/core/*      2      75%    90%  FAIL",
        "    src/pkg/core/b.py: 2 lines missed: 3, 8",
        "FAIL: 1 of 2 coverage floors not met",
    ]
    assert [colour for _, colour in rows] == ["", "green", "red", "", "red"]


def test_terminal_rows_unchecked() -> None:
    warn = Verdict(unchecked="coverage is not active", floors=2)
    assert terminal_rows(warn) == [
        ("WARNING: 2 coverage floors not checked: coverage is not active", "red")
    ]
    assert not warn.fails_run
    required = Verdict(unchecked="coverage is not active", floors=1, required=True)
    assert summary_line(required) == (
        "ERROR: 1 coverage floor not checked: coverage is not active (cov_floors_required = true)"
    )
    assert required.fails_run


def test_markdown() -> None:
    text = markdown(_verdict())
    assert text.splitlines() == [
        "### Coverage floors",
        "",
        "| pattern | files | covered | floor | result |",
        "|---|---:|---:|---:|---|",
        "| `total` | 4 | 85% | 80% | PASS |",
        "| `src/pkg/core/*` | 2 | 75% | 90% | **FAIL** |",
        "",
        "Files with the most missed lines under the failing floors:",
        "",
        "| floor | file | missed | lines |",
        "|---|---|---|---|",
        "| `src/pkg/core/*` | `src/pkg/core/b.py` | 2 lines missed | 3, 8 |",
        "",
        "FAIL: 1 of 2 coverage floors not met",
        "",
    ]
    assert text.endswith("\n\n")  # a blank line before whatever is appended next


def test_summary_line_names_unmatched_patterns() -> None:
    verdict = evaluate([Floor("src/a/*", 50), Floor("b/*", 50)], FILES, precision=0)
    assert summary_line(verdict) == "ERROR: no measured file matches 'src/a/*', 'b/*'"
    assert terminal_rows(verdict)[-1] == (summary_line(verdict), "red")


def test_markdown_unchecked_and_escaping() -> None:
    assert "**WARNING: 1 coverage floor not checked: x**" in markdown(
        Verdict(unchecked="x", floors=1)
    )
    result = FloorResult(Floor("a|b.py", 10), files=1, percent=50.0, met=True)
    assert "| `a\\|b.py` |" in markdown(Verdict(results=(result,)))


def test_header_line() -> None:
    settings = Settings(cov_floors=(Floor("total", 90), Floor("src/*", 80)))
    assert header_line(settings, {ORDERING, COVERAGE}).endswith("order=tiers, cov-floors=2")
    assert "cov-floors" not in header_line(settings, {ORDERING})


# --- real runs -------------------------------------------------------------------------------

PROJECT = {
    "src/pkg/__init__.py": "",
    "src/pkg/core/__init__.py": "",
    "src/pkg/core/a.py": """
        def add(a, b):
            return a + b
    """,
    "src/pkg/core/b.py": """
        def sign(n):
            if n < 0:
                return -1
            return 1


        def unused():
            return 0
    """,
    "src/pkg/glue.py": """
        def pick(flag):
            value = 0
            if flag:
                value = 1
            return value
    """,
    "tests/test_pkg.py": """
        from pkg.core.a import add
        from pkg.core.b import sign
        from pkg.glue import pick


        def test_add():
            assert add(1, 2) == 3


        def test_sign():
            assert sign(5) == 1


        def test_pick():
            assert pick(True) == 1
    """,
}

FLOORS = """
    total: 80
    src/pkg/core/*: 90
    src/pkg/core/a.py: 100
    glue.py: 90
"""


def project(pytester: pytest.Pytester, floors: str = FLOORS, extra_ini: str = "") -> None:
    """The sample project, measured from ``src/pkg`` (see the module docstring)."""
    for name, text in PROJECT.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    floor_lines = textwrap.indent(textwrap.dedent(floors).strip(), "    ")
    pytester.makeini(
        "[pytest]\n"
        "console_output_style = classic\n"
        "pythonpath = src\n"
        "testpaths = tests\n"
        f"cov_floors =\n{floor_lines}\n"
        f"{extra_ini}"
        "[coverage:run]\n"
        "source = src/pkg\n"
    )


def run_cov(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """A run measured by pytest-cov, in a subprocess (see the module docstring)."""
    return pytester.runpytest_subprocess("--cov", "--cov-report=term-missing", *args)


def section(result: pytest.RunResult) -> list[str]:
    """The lines of the "coverage floors" section."""
    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if "coverage floors" in line)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("=")), len(lines))
    return lines[start + 1 : end]


@needs_cov
@pytest.mark.slow  # a subprocess measuring coverage: over a second
@xdist_params
@pytest.mark.parametrize("branch", [False, True], ids=["lines", "branches"])
def test_floors_verdict(
    pytester: pytest.Pytester,
    xdist_args: list[str],
    branch: bool,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    project(pytester)
    result = run_cov(pytester, *xdist_args, *(["--cov-branch"] if branch else []))
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    if branch:
        expected = [
            "pattern            files  covered  floor  result",
            "total                  5      76%    80%  FAIL",
            "    src/pkg/core/b.py: 2 lines and 1 branch missed: 3, 8",
            "    src/pkg/glue.py: 1 branch missed: 3->5",
            "src/pkg/core/*         3      70%    90%  FAIL",
            "    src/pkg/core/b.py: 2 lines and 1 branch missed: 3, 8",
            "src/pkg/core/a.py      1     100%   100%  PASS",
            "glue.py                1      86%    90%  FAIL",
            "    src/pkg/glue.py: 1 branch missed: 3->5",
            "FAIL: 3 of 4 coverage floors not met",
        ]
    else:
        expected = [
            "pattern            files  covered  floor  result",
            "total                  5      85%    80%  PASS",
            "src/pkg/core/*         3      75%    90%  FAIL",
            "    src/pkg/core/b.py: 2 lines missed: 3, 8",
            "src/pkg/core/a.py      1     100%   100%  PASS",
            "glue.py                1     100%    90%  PASS",
            "FAIL: 1 of 4 coverage floors not met",
        ]
    assert section(result) == expected
    # pytest-cov's own table agrees with the total row
    total = "TOTAL *76%" if branch else "TOTAL *85%"
    result.stdout.fnmatch_lines(["*tests coverage*", total, "*= coverage floors =*"])
    written = summary.read_text()
    assert written.startswith("earlier step\n### Coverage floors\n")
    assert "| `src/pkg/core/*` | 3 | " in written
    assert written.count("### Coverage floors") == 1


@needs_cov
@pytest.mark.slow  # a subprocess measuring coverage: over a second
@xdist_params
def test_precision(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    """``b.py`` is 4 of 6 = 66.67%: a floor of 67 passes at precision 0 (the unit test
    :func:`test_evaluate_rounds_like_coverage`) and fails at precision 2.

    The floors given by flags replace the four of the ini file.
    """
    project(pytester)
    result = run_cov(
        pytester,
        *xdist_args,
        "--cov-precision=2",
        "--cov-floor=src/pkg/core/b.py:67",
        "--cov-floor=total:84.6",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert section(result) == [
        "pattern            files  covered  floor  result",
        "src/pkg/core/b.py      1   66.67%    67%  FAIL",
        "    src/pkg/core/b.py: 2 lines missed: 3, 8",
        "total                  5   84.62%  84.6%  PASS",
        "FAIL: 1 of 2 coverage floors not met",
    ]


@needs_cov
@pytest.mark.slow  # a subprocess measuring coverage: over a second
@xdist_params
def test_pattern_matching_nothing_is_a_configuration_error(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    project(pytester, floors="total: 50\nsrc/pkg/cor/*: 90")
    result = run_cov(pytester, *xdist_args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.assert_outcomes(passed=3)
    assert section(result)[-1] == "ERROR: no measured file matches 'src/pkg/cor/*'"
    result.stderr.fnmatch_lines(["ERROR: coverage floor 'src/pkg/cor/*' matches no measured file*"])


@needs_cov
@pytest.mark.slow  # a subprocess measuring coverage: over a second
@xdist_params
@pytest.mark.parametrize("failing", ["fail-under", "floors"])
def test_with_cov_fail_under(
    pytester: pytest.Pytester, xdist_args: list[str], failing: str
) -> None:
    """Each gate fails the run on its own, and each names its own verdict."""
    fail_under = "90" if failing == "fail-under" else "80"
    floor = "90" if failing == "floors" else "80"
    project(pytester, floors=f"total: {floor}")
    result = run_cov(pytester, *xdist_args, f"--cov-fail-under={fail_under}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    rows = section(result)
    assert rows[-2] == (
        f"(pytest-cov's --cov-fail-under={fail_under} is checked separately; "
        "its verdict is in the coverage section above)"
    )
    if failing == "floors":
        result.stdout.fnmatch_lines(["Required test coverage of 80% reached. *"])
        assert rows[-1] == "FAIL: 1 of 1 coverage floors not met"
    else:
        result.stdout.fnmatch_lines(["FAIL Required test coverage of 90% not reached. *"])
        assert rows[-1] == "PASS: 1 of 1 coverage floors met"


@needs_cov
@xdist_params_slow_n2
def test_no_cov_warns(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    project(pytester)
    result = pytester.runpytest("--cov", "--no-cov", *xdist_args)
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.OK
    assert section(result) == [
        "WARNING: 4 coverage floors not checked: coverage is disabled by --no-cov"
    ]


@xdist_params_slow_n2
@pytest.mark.parametrize("required", [False, True])
def test_floors_without_coverage(
    pytester: pytest.Pytester,
    xdist_args: list[str],
    required: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("COVERAGE_RUN", raising=False)
    project(pytester, extra_ini="cov_floors_required = true\n" if required else "")
    result = pytester.runpytest(*xdist_args)
    result.assert_outcomes(passed=3)
    reason = "4 coverage floors not checked: coverage is not active; run with pytest-cov's "
    if required:
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        assert section(result) == [f"ERROR: {reason}--cov=PACKAGE (cov_floors_required = true)"]
    else:
        assert result.ret == pytest.ExitCode.OK
        assert section(result) == [f"WARNING: {reason}--cov=PACKAGE"]


def test_header_and_switch_off(pytester: pytest.Pytester) -> None:
    project(pytester)
    result = pytester.runpytest()
    result.stdout.fnmatch_lines([f"tempo {__version__}: *cov-floors=4"])
    off = pytester.runpytest("-p", "no:tempo-coverage", "-o", "cov_floors_required=true")
    assert off.ret == pytest.ExitCode.OK
    assert "cov-floors" not in off.stdout.str()
    assert "coverage floors" not in off.stdout.str()


def test_collect_only_checks_nothing(pytester: pytest.Pytester) -> None:
    project(pytester, extra_ini="cov_floors_required = true\n")
    result = pytester.runpytest("--collect-only")
    assert result.ret == pytest.ExitCode.OK
    assert "coverage floors" not in result.stdout.str()


def test_step_summary_that_cannot_be_written(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COVERAGE_RUN", raising=False)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(pytester.path))  # a directory
    project(pytester)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.OK
    assert section(result)[-1].startswith("WARNING: could not append to GITHUB_STEP_SUMMARY: ")


@needs_cov
@pytest.mark.slow  # a subprocess measuring coverage: over a second
def test_no_cov_on_fail(pytester: pytest.Pytester) -> None:
    project(pytester)
    pytester.makepyfile(test_fails="def test_fails():\n    assert False\n")
    result = run_cov(pytester, "--no-cov-on-fail", "tests", "test_fails.py")
    result.assert_outcomes(passed=3, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert section(result) == [
        "WARNING: 4 coverage floors not checked: tests failed and --no-cov-on-fail is given"
    ]


def test_no_floors_no_section(pytester: pytest.Pytester) -> None:
    project(pytester, floors="")
    result = pytester.runpytest("-o", "cov_floors_required=true")
    assert result.ret == pytest.ExitCode.OK
    assert "coverage floors" not in result.stdout.str()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--cov-floor=src/x"],
            "ERROR: --cov-floor: line 'src/x' is not of the form 'PATTERN: PCT'",
        ),
        (
            ["--cov-floor=total:90", "--cov-floor=src/x:101"],
            "ERROR: --cov-floor: line 'src/x:101': '101' is not a percentage from 0 to 100",
        ),
        (
            ["--cov-floor=src/x:-5"],
            "ERROR: --cov-floor: line 'src/x:-5': '-5' is not a percentage from 0 to 100",
        ),
        (
            ["--cov-floor=src/x:abc"],
            "ERROR: --cov-floor: line 'src/x:abc': 'abc' is not a percentage such as 90 or 92.5",
        ),
        (
            ["-o", "cov_floors=src/x 90"],
            "ERROR: cov_floors (ini): line 'src/x 90' is not of the form 'PATTERN: PCT'",
        ),
        (
            ["-o", "cov_floors_required=sometimes"],
            "ERROR: cov_floors_required (ini): 'sometimes' is not valid: expected true or false",
        ),
    ],
    ids=[
        "cov-floor-no-percent",
        "cov-floor-over-100",
        "cov-floor-negative",
        "cov-floor-abc",
        "cov_floors-no-colon",
        "cov_floors_required-sometimes",
    ],
)
def test_bad_input_is_a_usage_error(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    assert_usage_error(pytester, args, message)


def test_bad_ini_line_in_pyproject(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        cov_floors = ["total: 90", "src/app/*: ninety"]
        """
    )
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: cov_floors (ini): line 'src/app/[*]: ninety': "
            "'ninety' is not a percentage such as 90 or 92.5"
        ]
    )


@needs_cov
@pytest.mark.slow  # a subprocess measuring coverage: over a second
@xdist_params
def test_under_coverage_run(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    """``coverage run -m pytest`` works without xdist; with xdist it warns."""
    project(pytester, floors="total: 80\nsrc/pkg/core/*: 90")
    result = pytester.run(sys.executable, "-m", "coverage", "run", "-m", "pytest", *xdist_args)
    result.assert_outcomes(passed=3)
    if xdist_args:
        assert result.ret == pytest.ExitCode.OK
        assert section(result)[0].startswith(
            "WARNING: 2 coverage floors not checked: 'coverage run' combines"
        )
    else:
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        assert section(result)[1:3] == [
            "total               5      85%    80%  PASS",
            "src/pkg/core/*      3      75%    90%  FAIL",
        ]
