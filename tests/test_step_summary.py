"""Every Markdown table of the step summary keeps its shape whatever a cell holds.

Tables are read back with markdown-it-py's CommonMark parser and its GitHub-style tables, so
a cell that splits, breaks its row or turns into emphasis shows up as different text.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from pytest_tempo.coverage_floors import FileCoverage, evaluate, markdown
from pytest_tempo.hygiene import Finding
from pytest_tempo.hygiene.render import render_markdown as hygiene_markdown
from pytest_tempo.load.render import markdown_table, summary_rows
from pytest_tempo.settings import Floor
from pytest_tempo.step_summary import md_cell
from pytest_tempo.timing import TestTiming, summarize
from pytest_tempo.timing import render_markdown as timing_markdown
from pytest_tempo.types_summary import TypeRow
from pytest_tempo.types_summary import render_markdown as types_markdown

from .conftest import xdist_params

_MD = MarkdownIt("commonmark").enable("table")

#: A node id with everything that used to break a table: a pipe, a backtick, a line break,
#: and Markdown's emphasis, HTML and link syntax.
HOSTILE_ID = "t.py::test_a[x|y`z\n*w* _u_ <b>&amp; [l](m) \\|]"
#: How it reads once shown: the line break as pytest writes it in ids.
SHOWN_ID = "t.py::test_a[x|y`z\\n*w* _u_ <b>&amp; [l](m) \\|]"


def tables(text: str) -> list[list[list[str]]]:
    """The tables of ``text`` as rendered: rows of cells, each cell's text as a reader sees
    it (code spans and plain text alike), the header row first."""
    found: list[list[list[str]]] = []
    row: list[str] = []
    inside = False
    for token in _MD.parse(text):
        if token.type in ("table_open", "table_close"):
            inside = token.type == "table_open"
            found += [[]] if inside else []
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close":
            found[-1].append(row)
        elif token.type == "inline" and inside:
            row.append("".join(child.content for child in token.children or ()))
    return found


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _one_cell(cell: str) -> list[list[list[str]]]:
    return tables(f"| head |\n|---|\n| {cell} |\n")


@given(st.text(), st.booleans())
def test_any_text_stays_one_cell_and_reads_the_same(text: str, code: bool) -> None:
    shown = _printable(text)
    # A table trims the blanks around a cell; a code span keeps them, unless all are blank.
    expected = shown if code and shown.strip(" ") else shown.strip(" ")
    assert _one_cell(md_cell(text, code=code)) == [[["head"], [expected]]]


@pytest.mark.parametrize(
    ("text", "code", "cell"),
    [
        ("a|b", True, "`a\\|b`"),
        ("a`b", True, "``a`b``"),
        ("`a", True, "`` `a ``"),
        ("a\nb", True, "`a\\nb`"),
        ("a|b", False, "a\\|b"),
        ("*a* `b`", False, "\\*a\\* \\`b\\`"),
        ("  ", True, ""),
    ],
)
def test_md_cell_examples(text: str, code: bool, cell: str) -> None:
    assert md_cell(text, code=code) == cell


def _timing(nodeid: str) -> TestTiming:
    return TestTiming(nodeid, setup=0.0, call=2.0, teardown=0.0, worker="gw|0",
                      marked_slow=False, ran_call=True)  # fmt: skip


def test_slow_tests_section_escapes_node_ids() -> None:
    text = timing_markdown(summarize([_timing(HOSTILE_ID)], [], 1.0), 10)
    slow, unmarked = tables(text)
    assert slow[1] == [SHOWN_ID, "2.00s", "0.00s", "0.00s", "gw|0", "no"]
    assert unmarked[1] == [SHOWN_ID, "2.00s"]


def test_test_types_section_escapes_names_and_notes() -> None:
    rows = [TypeRow("a|b`c", tests=1, passed=1, seconds=0.5)]
    text = types_markdown(rows, 1, with_coverage=False, note="no *contexts* | here")
    (table,) = tables(text)
    assert table[1] == ["a|b`c", "1", "1", "0", "0", "0.50s"]
    assert "No \\*contexts\\* \\| here." in text


def test_hygiene_section_escapes_locations_and_examples() -> None:
    findings = [
        Finding("strict", HOSTILE_ID, "@pytest.mark.xfail(reason='a|b')", tests=1),
        Finding("ids", HOSTILE_ID, "ids of argument a|b", tests=2, examples=(HOSTILE_ID,)),
    ]
    strict, ids = tables(hygiene_markdown(findings))
    assert strict[1] == [SHOWN_ID, "@pytest.mark.xfail(reason='a|b')", "1"]
    assert ids[1] == [SHOWN_ID, f"ids of argument a|b, such as {SHOWN_ID}", "2"]


def test_coverage_floors_section_escapes_patterns_and_paths() -> None:
    files = [FileCoverage("src/a|b`c.py", statements=4, missing=2, missed="1, 2")]
    verdict = evaluate([Floor("src/a|b`*", 90), Floor("src/*.x|y", 10)], files, precision=0)
    text = markdown(verdict)
    floors, worst = tables(text)
    assert [row[0] for row in floors[1:]] == ["src/a|b`*", "src/*.x|y"]
    assert worst[1] == ["src/a|b`*", "src/a|b`c.py", "2 lines missed", "1, 2"]
    # The verdict line outside the tables names the patterns without turning * into emphasis.
    assert "<em>" not in _MD.render(text)


def test_load_section_escapes_node_ids() -> None:
    data = {"requests": 3, "failed_rate": 0.0, "p95_ms": 1.5, "rps": 2.0, "seconds": 1.0}
    (table,) = tables("\n".join(markdown_table(summary_rows([(HOSTILE_ID, "passed", data)]))))
    assert table[1] == [SHOWN_ID, "passed", "3", "0.00%", "1.5", "2.0", "-", "1.0"]


@xdist_params
def test_step_summary_of_a_real_run_keeps_odd_ids(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, xdist_args: list[str]
) -> None:
    summary = pytester.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.makepyfile(
        test_odd="""
        import pytest

        @pytest.mark.parametrize("v", ["a|b", "c`d", "*e*"])
        def test_p(v):
            pass
        """
    )
    pytester.runpytest("--slow-threshold=0", *xdist_args).assert_outcomes(passed=3)
    slow, unmarked, types = tables(summary.read_text())
    expected = {f"test_odd.py::test_p[{v}]" for v in ("a|b", "c`d", "*e*")}
    assert {row[0] for row in slow[1:]} == expected
    assert {row[0] for row in unmarked[1:]} == expected
    assert all(len(row) == len(table[0]) for table in (slow, unmarked, types) for row in table)


def test_advice_tables_in_the_step_summary() -> None:
    """Every table of the advice: its header, one row per finding, cells escaped."""
    from pytest_tempo.advice.flaky import Flaky
    from pytest_tempo.advice.parallel import Forecast, Row
    from pytest_tempo.advice.render import Advice
    from pytest_tempo.advice.render import render_markdown as advice_markdown
    from pytest_tempo.advice.scope import ScopeAdvice
    from pytest_tempo.advice.sleeps import Sleeper
    from pytest_tempo.advice.slower import Slower

    wider = (("module", 2, 1.0), ("session", 1, 0.5))
    advice = Advice(
        1.0,
        scopes=[ScopeAdvice("db|conn", "function", "conftest.py:3", 12, 0.5, 6.0, wider)],
        sleepers=[Sleeper("t.py::test_`s`", 2.0, 2.5)],
        forecast=Forecast(10.0, 1, 0.5, (Row(2, 5.5, 6.0), Row(4, 3.0, None)), None,
                          "the longest test", ("t.py::test_x", 1.5)),
        slower=[Slower("t.py::test_x", 0.2, 0.6, 4)],
        flaky=[Flaky("t.py::test_f", 2, 10, 1)],
    )  # fmt: skip
    assert advice_markdown(advice).split("\n") == [
        "### Advice",
        "",
        "| fixture | scope | set-ups | each | total | wider scope would pay |",
        "|---|---|---|---|---|---|",
        "| `db\\|conn` | function | 12 | 0.50s | 6.00s | module 1.00s, session 0.50s |",
        "",
        "| sleeping test | slept | call |",
        "|---|---|---|",
        "| `` t.py::test_`s` `` | 2.00s | 2.50s |",
        "",
        "| workers | --tempo-dist=duration | xdist's default |",
        "|---|---|---|",
        "| -n 2 | 5.50s | 6.00s |",
        "| -n 4 | 3.00s |  |",
        "",
        "| got slower | before (median) | now |",
        "|---|---|---|",
        "| `t.py::test_x` | 0.20s | 0.60s |",
        "",
        "| flaky test | record |",
        "|---|---|",
        "| `t.py::test_f` | failed 2 of the last 10 runs; failed once and passed on a rerun in "
        "this run |",
        "",
        "",
    ]
