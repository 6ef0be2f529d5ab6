"""The coverage adapter: one test per function, on real coverage data.

These pin the coverage.py and pytest-cov internals the plugin relies on; the scheduled
upstream workflow runs them against the development branches. Data written here with
``CoverageData`` is exact and needs no tracing; the functions that read pytest-cov's plugin
run in real pytest-cov runs (a subprocess: an in-process run would start a second
``Coverage`` inside the one measuring this suite) whose conftest calls the adapter where the
features call it and writes what it saw to a JSON file.
"""

from __future__ import annotations

import json
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest

from pytest_tempo._coverage import (
    COVERAGE_RUN_XDIST,
    NO_COV,
    NOT_ACTIVE,
    CovOptions,
    DataSource,
    FileNumbers,
    GlobError,
    analyses,
    contexts_by_file,
    display_percent,
    file_numbers,
    find_coverage,
    glob_regex,
    measured_contexts,
    paused,
    pytest_cov_options,
    report_precision,
)

from .conftest import HAS_COV, xdist_params

if TYPE_CHECKING:
    from pathlib import Path

    from coverage import Coverage

needs_cov = pytest.mark.skipif(not HAS_COV, reason="pytest-cov is not installed")

#: Four statements; ``pick(True)`` misses line 4 and, with branches, the arc 2->4.
PICK = "def pick(flag):\n    if flag:\n        return 1\n    return 2\n"


def saved(root: Path, *, contexts: bool = False, precision: int | None = None) -> Coverage:
    """A ``Coverage`` loaded from data written here: ``pick.py`` ran lines 1-3, under the
    contexts ``""`` (line 1, its import) and ``test_p.py::test_pick|run`` (2, 3) when asked;
    ``gone.py`` was measured and has no source any more."""
    from coverage import Coverage, CoverageData

    (root / "pick.py").write_text(PICK)
    data = CoverageData(basename=str(root / ".coverage"))
    pick = str(root / "pick.py")
    if contexts:
        data.set_context("")
        data.add_lines({pick: [1]})
        data.set_context("test_p.py::test_pick|run")
        data.add_lines({pick: [2, 3]})
    else:
        data.add_lines({pick: [1, 2, 3], str(root / "gone.py"): [1]})
    data.write()
    if precision is not None:
        (root / ".coveragerc").write_text(f"[report]\nprecision = {precision}\n")
    config = str(root / ".coveragerc") if precision is not None else False
    cov = Coverage(data_file=str(root / ".coverage"), config_file=config)
    cov.load()
    return cov


def test_analyses_reports_parsable_files_and_restores_ignore_errors(tmp_path: Path) -> None:
    from coverage.exceptions import CoverageWarning

    cov = saved(tmp_path)
    with pytest.warns(CoverageWarning, match="Couldn't parse .*gone.py"):
        found = list(analyses(cov))
    assert [name for name, _ in found] == [str(tmp_path / "pick.py")]
    assert found[0][1].numbers.n_statements == 4
    assert cov.get_option("report:ignore_errors") is False


def test_analyses_raise_no_data_without_measured_files(tmp_path: Path) -> None:
    from coverage import Coverage
    from coverage.exceptions import NoDataError

    with pytest.raises(NoDataError):
        list(analyses(Coverage(data_file=str(tmp_path / ".coverage"), config_file=False)))


@pytest.mark.filterwarnings("ignore:Couldn't parse")
def test_file_numbers_of_lines(tmp_path: Path) -> None:
    assert file_numbers(saved(tmp_path)) == [
        FileNumbers(str(tmp_path / "pick.py"), statements=4, missing=1, missed="4")
    ]


def test_file_numbers_of_branches(tmp_path: Path) -> None:
    from coverage import Coverage, CoverageData

    (tmp_path / "pick.py").write_text(PICK)
    data = CoverageData(basename=str(tmp_path / ".coverage"))
    pick = str(tmp_path / "pick.py")
    data.add_arcs({pick: [(-1, 1), (1, -1), (-1, 2), (2, 3), (3, -1)]})
    data.write()
    cov = Coverage(data_file=str(tmp_path / ".coverage"), config_file=False)
    cov.load()
    assert file_numbers(cov) == [
        FileNumbers(pick, statements=4, missing=1, branches=2, missing_branches=1, missed="4")
    ]


def test_file_numbers_without_data_is_empty(tmp_path: Path) -> None:
    from coverage import Coverage

    assert file_numbers(Coverage(data_file=str(tmp_path / ".c"), config_file=False)) == []


def test_measured_contexts_and_contexts_by_file(tmp_path: Path) -> None:
    cov = saved(tmp_path, contexts=True)
    assert measured_contexts(cov) == {"", "test_p.py::test_pick|run"}
    ((statements, by_line),) = contexts_by_file(cov)
    assert statements == {1, 2, 3, 4}
    assert by_line == {1: [""], 2: ["test_p.py::test_pick|run"], 3: ["test_p.py::test_pick|run"]}


def test_contexts_by_file_without_data_is_empty(tmp_path: Path) -> None:
    from coverage import Coverage

    cov = Coverage(data_file=str(tmp_path / ".c"), config_file=False)
    assert measured_contexts(cov) == set()
    assert contexts_by_file(cov) == []


@pytest.mark.parametrize("precision", [None, 0, 3])
def test_report_precision(tmp_path: Path, precision: int | None) -> None:
    assert report_precision(saved(tmp_path, precision=precision)) == (precision or 0)


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("src/*", ["src/b.py", "src/a/b.py"], ["x/src/b.py", "SRC/B.PY"]),
        ("src/*.py", ["src/b.py"], ["src/a/b.py"]),
        ("src/**/b.py", ["src/b.py", "src/a/b.py"], ["src/a/c.py"]),
        ("b.py", ["b.py", "x/y/b.py"], ["ab.py"]),
        ("src/b.py", ["src\\b.py"], []),
    ],
    ids=["star", "star-py", "double-star", "file-name", "backslash"],
)
def test_glob_regex(pattern: str, matches: list[str], misses: list[str]) -> None:
    regex = glob_regex(pattern, case_insensitive=False)
    assert [m for m in matches if regex.match(m)] == matches
    assert [m for m in misses if regex.match(m)] == []


def test_glob_regex_case_and_errors() -> None:
    assert glob_regex("src/*", case_insensitive=True).match("SRC/B.PY")
    with pytest.raises(GlobError, match=r"can't include 'a\*\*'"):
        glob_regex("a**b")
    with pytest.raises(GlobError, match=r"can't include '\['"):
        glob_regex("src/[a")


@pytest.mark.parametrize(
    ("value", "decimals", "shown"),
    [
        (99.99, 1, "99.9%"),
        (0.01, 0, "1%"),
        (100.0, 2, "100.00%"),
        (0.0, 1, "0.0%"),
        (50.5, 0, "50%"),
    ],
)
def test_display_percent(value: float, decimals: int, shown: str) -> None:
    assert display_percent(value, decimals) == shown


def test_find_coverage_without_pytest_cov(tmp_path: Path) -> None:
    from coverage import Coverage

    cov = Coverage(data_file=str(tmp_path / ".coverage"), config_file=False)
    assert find_coverage(None) == DataSource(reason=NOT_ACTIVE)
    assert find_coverage(None, no_cov=True) == DataSource(reason=NO_COV)
    assert find_coverage(None, current=cov) == DataSource(cov=cov, running=True)
    assert find_coverage(None, current=cov, xdist=True) == DataSource(reason=COVERAGE_RUN_XDIST)


def test_pytest_cov_options_without_pytest_cov() -> None:
    assert pytest_cov_options(None) == CovOptions()


def test_paused_stops_and_restarts_a_running_coverage(tmp_path: Path) -> None:
    from coverage import Coverage

    cov = Coverage(data_file=str(tmp_path / ".coverage"), config_file=False)
    with paused(DataSource(cov=cov)):  # not running: left alone
        assert Coverage.current() is not cov
    cov.start()
    try:
        with paused(DataSource(cov=cov, running=True)):
            assert Coverage.current() is not cov
        assert Coverage.current() is cov
    finally:
        cov.stop()


# --- real runs: pytest-cov's plugin and 'coverage run' ---------------------------------------

PROBE = textwrap.dedent(
    """
    import dataclasses, json, os

    import pytest

    from pytest_tempo import _coverage as adapter


    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtestloop(session):
        result = yield
        config = session.config
        if hasattr(config, "workerinput"):  # an xdist worker's data is partial
            return result
        plugin = adapter.pytest_cov_plugin(config)
        source = adapter.coverage_of_run(config)
        seen = {
            "plugin": plugin is not None,
            "options": dataclasses.asdict(adapter.pytest_cov_options(plugin)),
            "reason": source.reason,
            "precision": source.precision,
            "running": source.running,
            "files": None,
        }
        if source.cov is not None:
            with adapter.paused(source):
                seen["files"] = [
                    [os.path.basename(f.filename), f.statements, f.missing, f.branches,
                     f.missing_branches, f.missed]
                    for f in adapter.file_numbers(source.cov)
                ]
                seen["contexts"] = sorted(adapter.measured_contexts(source.cov))
        with open("seen.json", "w") as out:
            json.dump(seen, out)
        return result
    """
)


def probe_project(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(PROBE)
    pytester.makepyfile(
        pick=PICK,
        test_pick="from pick import pick\n\ndef test_pick():\n    assert pick(True) == 1\n",
    )
    pytester.makeini("[pytest]\naddopts = -p no:randomly -p no:cacheprovider\n")


def seen(pytester: pytest.Pytester) -> dict[str, object]:
    result: dict[str, object] = json.loads((pytester.path / "seen.json").read_text())
    return result


@needs_cov
@pytest.mark.slow  # a subprocess measuring coverage: over a second
@xdist_params
def test_coverage_of_run_under_pytest_cov_after_finish(
    pytester: pytest.Pytester, xdist_args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COVERAGE_RUN", raising=False)
    probe_project(pytester)
    result = pytester.runpytest_subprocess(
        "--cov=pick",
        "--cov-branch",
        "--cov-context=test",
        "--cov-precision=3",
        "--cov-fail-under=10",
        "--no-cov-on-fail",
        "--cov-report=",
        *xdist_args,
    )
    result.assert_outcomes(passed=1)
    assert seen(pytester) == {
        "plugin": True,
        "options": {"precision": 3, "fail_under": 10.0, "no_cov_on_fail": True},
        "reason": "",
        "precision": 3,
        "running": False,
        # combined from the workers under xdist: the data is there after our yield
        "files": [["pick.py", 4, 1, 2, 1, "4"]],
        "contexts": ["", "test_pick.py::test_pick|run"],
    }


def test_coverage_of_run_under_no_cov(pytester: pytest.Pytester) -> None:
    probe_project(pytester)
    pytester.runpytest("--cov=pick", "--no-cov").assert_outcomes(passed=1)
    found = seen(pytester)
    assert (found["plugin"], found["reason"], found["files"]) == (True, NO_COV, None)


def test_coverage_of_run_without_coverage(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COVERAGE_RUN", raising=False)
    probe_project(pytester)
    pytester.runpytest("-p", "no:cov").assert_outcomes(passed=1)
    assert seen(pytester) == {
        "plugin": False,
        "options": {"precision": None, "fail_under": None, "no_cov_on_fail": False},
        "reason": NOT_ACTIVE,
        "precision": None,
        "running": False,
        "files": None,
    }


@pytest.mark.slow  # a subprocess measuring coverage: over a second
def test_coverage_of_run_under_coverage_run(pytester: pytest.Pytester) -> None:
    probe_project(pytester)
    result = pytester.run(
        sys.executable, "-m", "coverage", "run", "--source=.", "-m", "pytest", "-p", "no:cov"
    )
    assert result.ret == 0, result.stdout.str()
    found = seen(pytester)
    assert (found["plugin"], found["reason"], found["running"]) == (False, "", True)
    assert ["pick.py", 4, 1, 0, 0, "4"] in found["files"]  # type: ignore[operator]
