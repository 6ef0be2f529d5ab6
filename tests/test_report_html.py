"""The worker timeline page: a pure renderer, tested on constructed runs."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_tempo.report.html import render_html
from pytest_tempo.report.timeline import MIN_PX, PLOT
from pytest_tempo.timing import FixtureTiming, TestTiming, summarize

T0 = 1_700_000_000.0


def timing(
    nodeid: str,
    worker: str,
    start: float,
    seconds: float,
    outcome: str = "passed",
    types: tuple[str, ...] = (),
    marked_slow: bool = False,
) -> TestTiming:
    """A test that ran from ``start`` (seconds after T0) for ``seconds``, all in its call."""
    return TestTiming(
        nodeid,
        setup=0.0,
        call=seconds,
        teardown=0.0,
        worker=worker,
        marked_slow=marked_slow,
        ran_call=outcome != "skipped",
        start=T0 + start,
        stop=T0 + start + seconds,
        outcome=outcome,
        types=types,
    )


def page_of(
    timings: list[TestTiming],
    fixtures: list[FixtureTiming] | None = None,
    threshold: float = 1.0,
    title: str = "pytest-tempo run",
) -> str:
    return render_html(summarize(timings, fixtures or [], threshold), timings, title=title)


def svg_of(page: str) -> ET.Element:
    """The SVG part of the page, parsed as XML (fails on anything not well-formed)."""
    start, end = page.index("<svg"), page.index("</svg>") + len("</svg>")
    assert page.count("<svg") == 1
    return ET.fromstring(page[start:end])


def table_after(page: str, heading: str) -> ET.Element:
    """The first table after an ``<h2>`` heading, parsed as XML."""
    rest = page[page.index(f"<h2>{heading}</h2>") :]
    return ET.fromstring(rest[rest.index("<table>") : rest.index("</table>") + len("</table>")])


def rows_of(table: ET.Element) -> dict[str, list[str]]:
    rows = {}
    for tr in table.iter("tr"):
        cells = ["".join(td.itertext()) for td in tr.findall("td")]
        if cells:
            rows[cells[0]] = cells[1:]
    return rows


def bars(svg: ET.Element) -> dict[str, ET.Element]:
    """Each drawn rect with a hover text, by the first line of that text."""
    found = {}
    for rect in svg.iter("rect"):
        title = rect.find("title")
        if title is not None and title.text:
            found[title.text.split("\n")[0]] = rect
    return found


def lane_names(svg: ET.Element) -> list[str]:
    return [t.text or "" for t in svg.iter("text") if "wn" in t.get("class", "").split()]


def card(page: str, label: str) -> str:
    match = re.search(rf"<dt>{re.escape(label)}</dt><dd>([^<]*)", page)
    assert match, label
    return match.group(1).strip()


NASTY = "tests/test_x.py::test_y[<b>&amp;-\"q\"-'s'-</title><script>alert(1)</script>]"


def two_workers() -> list[TestTiming]:
    return [
        timing("tests/unit/test_a.py::test_one", "gw0", 0.0, 1.0, types=("unit",)),
        timing(NASTY, "gw0", 1.0, 3.0, outcome="failed", types=("unit",)),
        timing("tests/integration/test_db.py::test_io", "gw1", 0.0, 2.0, types=("integration",)),
        timing("tests/test_misc.py::test_skip", "gw1", 2.0, 0.5, outcome="skipped"),
    ]


def test_node_ids_are_escaped_everywhere() -> None:
    page = page_of(two_workers(), threshold=0.5)
    assert "<script" not in page
    assert "<b>" not in page
    assert "</title><script>" not in page
    escaped = "test_y[&lt;b&gt;&amp;amp;-&quot;q&quot;-&#x27;s&#x27;-&lt;/title&gt;"
    assert page.count(escaped) >= 2  # in the bar's hover text and in the slowest-tests table
    assert NASTY in bars(svg_of(page))  # the hover text reads back as the node id


def test_the_title_is_escaped() -> None:
    page = page_of(two_workers(), title="run <3 & 'more'")
    assert "<title>run &lt;3 &amp; &#x27;more&#x27;</title>" in page
    assert "<h1>run &lt;3 &amp; &#x27;more&#x27;</h1>" in page


def test_one_lane_per_worker_in_natural_order() -> None:
    timings = [timing(f"t.py::test_{w}", w, 0.0, 1.0) for w in ("gw10", "gw2", "gw0", "gw1")]
    svg = svg_of(page_of(timings))
    assert lane_names(svg) == ["gw0", "gw1", "gw2", "gw10"]
    lanes = [r for r in svg.iter("rect") if r.get("class") == "lane"]
    assert len(lanes) == 4
    assert card(page_of(timings), "workers") == "4"


def test_without_xdist_the_lane_is_master() -> None:
    timings = [timing("t.py::test_a", "master", 0.0, 1.0), timing("t.py::test_b", "master", 1, 1)]
    svg = svg_of(page_of(timings))
    assert lane_names(svg) == ["master"]


def test_bars_span_start_to_stop_and_are_coloured_by_outcome() -> None:
    svg = svg_of(page_of(two_workers()))
    drawn = bars(svg)
    scale = PLOT / 4.0  # the run lasts 4 s (gw0: 0 to 4)
    failed = drawn[NASTY]
    assert failed.get("class", "").split() == ["b", "f"]
    assert float(failed.get("width", 0)) == pytest.approx(3.0 * scale, abs=0.1)
    one = drawn["tests/unit/test_a.py::test_one"]
    assert one.get("class", "").split() == ["b", "p"]
    assert float(failed.get("x", 0)) - float(one.get("x", 0)) == pytest.approx(scale, abs=0.1)
    assert drawn["tests/test_misc.py::test_skip"].get("class", "").split() == ["b", "s"]
    title = failed.find("title")
    assert title is not None
    assert "3.000 s (failed; setup 0.000, call 3.000, teardown 0.000; 1.00 to 4.00 s)" in (
        title.text or ""
    )


def test_error_outcome_has_its_own_colour() -> None:
    svg = svg_of(page_of([timing("t.py::test_e", "gw0", 0.0, 1.0, outcome="error")]))
    assert bars(svg)["t.py::test_e"].get("class", "").split() == ["b", "e"]


def test_the_idle_tail_of_each_worker_is_drawn_and_labelled() -> None:
    timings = [
        timing("t.py::test_long", "gw0", 0.0, 10.0),
        timing("t.py::test_short", "gw1", 0.0, 6.0),
    ]
    page = page_of(timings)
    svg = svg_of(page)
    idle = [r for r in svg.iter("rect") if r.get("class") == "idle"]
    assert len(idle) == 1  # gw0 ran until the end
    scale = PLOT / 10.0
    assert float(idle[0].get("width", 0)) == pytest.approx(4.0 * scale, abs=0.1)
    assert float(idle[0].get("x", 0)) - float(bars(svg)["t.py::test_short"].get("x", 0)) == (
        pytest.approx(6.0 * scale, abs=0.1)
    )
    labels = [t.text for t in svg.iter("text") if t.get("class") == "it"]
    assert labels == ["idle 0.00 s", "idle 4.00 s"]
    title = idle[0].find("title")
    assert title is not None
    assert title.text == "gw1 idle for the last 4.000 s (6.00 to 10.00 s)"


def test_run_totals_and_the_lower_bound() -> None:
    timings = [
        timing("t.py::test_a", "gw0", 0.0, 4.0),
        timing("t.py::test_b", "gw1", 0.0, 1.0),
        timing("t.py::test_c", "gw1", 1.0, 1.0),
        timing("t.py::test_d", "gw1", 2.0, 3.0, outcome="failed"),
    ]
    page = page_of(timings)
    assert card(page, "tests") == "4"
    assert "3 passed, 1 failed" in page
    assert card(page, "wall time") == "5.00 s"
    assert card(page, "sum of test time") == "9.00 s"
    # max(longest 4 s, 9 s / 2 workers) = 4.5 s; 5 s of wall time is 1.11 times that
    assert card(page, "lower bound") == "4.50 s"
    assert card(page, "wall ÷ bound") == "1.11"
    svg = svg_of(page)
    line = next(e for e in svg.iter("line") if e.get("class") == "lb")
    start = float(bars(svg)["t.py::test_a"].get("x", 0))
    assert float(line.get("x1", 0)) - start == pytest.approx(4.5 * PLOT / 5.0, abs=0.1)


def test_the_longest_test_can_set_the_bound() -> None:
    timings = [timing("t.py::test_a", "gw0", 0.0, 8.0), timing("t.py::test_b", "gw1", 0, 1.0)]
    page = page_of(timings)
    assert card(page, "lower bound") == "8.00 s"
    assert card(page, "wall ÷ bound") == "1.00"


def test_per_type_totals_count_untyped_tests_as_other() -> None:
    timings = [
        timing("tests/unit/t.py::test_a", "gw0", 0.0, 1.0, types=("unit",)),
        timing("tests/unit/t.py::test_b", "gw0", 1.0, 2.0, outcome="failed", types=("unit",)),
        timing("tests/it/t.py::test_c", "gw1", 0.0, 0.5, outcome="skipped", types=("integration",)),
        timing("tests/t.py::test_d", "gw1", 0.5, 0.25),
        timing("tests/t.py::test_e", "gw1", 0.75, 0.25, outcome="error"),
    ]
    table = table_after(page_of(timings), "Test types")
    headings = ["".join(th.itertext()) for th in table.iter("th")]
    assert headings == ["type", "tests", "passed", "failed", "error", "skipped", "seconds"]
    assert rows_of(table) == {
        "unit": ["2", "1", "1", "0", "0", "3.00"],
        "integration": ["1", "0", "0", "0", "1", "0.50"],
        "other": ["2", "1", "0", "1", "0", "0.50"],
        "all tests": ["5", "2", "1", "1", "1", "4.00"],
    }


def test_a_test_of_two_types_counts_in_both() -> None:
    timings = [timing("t.py::test_a", "gw0", 0.0, 1.0, types=("integration", "e2e"))]
    page = page_of(timings)
    rows = rows_of(table_after(page, "Test types"))
    assert rows["integration"][0] == rows["e2e"][0] == rows["all tests"][0] == "1"
    assert "counts under each of them" in page


def test_slowest_tests_table() -> None:
    timings = [timing(f"t.py::test_{i:02d}", "gw0", float(i), 0.1 * i) for i in range(30)]
    timings.append(timing("t.py::test_marked", "gw1", 0.0, 2.85, marked_slow=True))
    page = page_of(timings, threshold=2.0)
    rows = rows_of(table_after(page, "Slowest tests"))
    assert len(rows) == 20
    assert list(rows)[:3] == ["t.py::test_29", "t.py::test_marked", "t.py::test_28"]
    assert rows["t.py::test_29"] == ["gw0", "passed", "0.00", "2.90", "0.00", "2.90", "not marked"]
    assert rows["t.py::test_marked"][-1] == "marked"
    assert rows["t.py::test_19"][-1] == ""
    assert "10 of 31 tests slow (call over 2.00 s)" in page


def test_slow_fixtures_table() -> None:
    fixtures = [
        FixtureTiming("database", "session", "tests/<db>", count=2, total=3.0, longest=2.0),
        FixtureTiming("quick", "function", "tests", count=9, total=0.9, longest=0.1),
    ]
    page = page_of(two_workers(), fixtures=fixtures)
    rows = rows_of(table_after(page, "Slow fixtures"))
    assert rows == {"database": ["session", "tests/<db>", "2", "2.00", "3.00"]}
    assert "tests/&lt;db&gt;" in page


def test_no_slow_fixtures() -> None:
    page = page_of(two_workers())
    assert "No fixture set-up took over 1.00 s." in page


def test_self_contained_no_script_no_network() -> None:
    page = page_of(two_workers(), fixtures=[FixtureTiming("f", "session", "", 1, 2.0, 2.0)])
    lowered = page.lower()
    assert "<script" not in lowered
    assert "http://" not in lowered
    assert "https://" not in lowered
    assert "//" not in re.sub(r"<title>.*?</title>", "", page)  # no protocol-relative links
    assert "src=" not in lowered
    assert "href" not in lowered
    assert "@import" not in lowered
    assert re.findall(r"url\(([^)]*)\)", page) == ["#idle"]  # only the page's own pattern
    assert page.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in page


def test_many_quick_tests_are_merged_and_a_quick_failure_stays_visible() -> None:
    timings = [timing("t.py::test_long", "gw0", 0.0, 100.0)]
    timings += [timing(f"t.py::test_quick_{i}", "gw1", i * 0.01, 0.009) for i in range(5000)]
    timings[2500] = timing("t.py::test_quick_2499", "gw1", 24.99, 0.009, outcome="failed")
    svg = svg_of(page_of(timings))
    shapes = [r for r in svg.iter("rect") if r.find("title") is not None]
    assert len(shapes) < 200  # 5000 tests on gw1 in at most a few bars per pixel column
    failed = [r for r in shapes if r.get("class") == "f"]
    assert len(failed) == 1
    assert MIN_PX <= float(failed[0].get("width", 0)) <= 2 * MIN_PX  # not the whole lane red
    title = failed[0].find("title")
    assert title is not None
    text = title.text or ""
    assert "quick tests" in text
    assert "1 failed" in text
    assert "failures: t.py::test_quick_2499" in text
    merged_counts = [
        int(m.group(1))
        for r in shapes
        if (m := re.match(r"(\d+) quick tests?,", (r.findtext("title") or "")))
    ]
    assert sum(merged_counts) == 5000  # every quick test is in exactly one merged bar


def test_a_gap_splits_merged_runs() -> None:
    quick = [timing(f"t.py::test_{i}", "gw0", i * 0.001, 0.0005) for i in range(10)]
    later = [timing(f"t.py::test_later_{i}", "gw0", 50 + i * 0.001, 0.0005) for i in range(10)]
    long = [timing("t.py::test_long", "gw1", 0.0, 100.0)]
    svg = svg_of(page_of(quick + later + long))
    titles = [r.findtext("title") or "" for r in svg.iter("rect")]
    assert sum(t.startswith("10 quick tests") for t in titles) == 2


def test_tests_without_times_are_counted_but_not_drawn() -> None:
    timings = [*two_workers(), TestTiming("t.py::test_no_times", worker="gw0", call=0.5)]
    page = page_of(timings)
    assert card(page, "tests") == "5"
    assert "t.py::test_no_times" not in bars(svg_of(page))
    assert "1 test(s) without start and stop times are not drawn." in page


def test_an_empty_run() -> None:
    page = page_of([])
    svg = svg_of(page)
    assert lane_names(svg) == []
    assert "no tests ran" in page
    assert card(page, "wall time") == "n/a"
    assert card(page, "wall ÷ bound") == "n/a"


def test_control_characters_in_node_ids_keep_the_svg_well_formed() -> None:
    nodeid = "t.py::test_x[\x00\x1b[31m\ufffe\ud800]"
    svg = svg_of(page_of([timing(nodeid, "gw0", 0.0, 1.0)]))
    assert "t.py::test_x[\ufffd\ufffd[31m\ufffd\ufffd]" in bars(svg)


def test_many_workers_get_compact_lanes() -> None:
    timings = [timing(f"t.py::test_{i}", f"gw{i}", 0.0, 1.0 + i) for i in range(40)]
    svg = svg_of(page_of(timings))
    assert len(lane_names(svg)) == 40
    assert int(svg.get("height", 0)) < 40 * 30


def nodeid_like(i: int) -> str:
    """A long, realistic node id that needs escaping."""
    return f"tests/integration/test_module_{i % 97:03d}.py::TestThing::test_case_{i}[p-<{i}>&'x']"


def test_ten_thousand_tests_stay_small() -> None:
    # The worst case for size: every test wide enough to get its own bar (64 lanes).
    timings = [
        timing(nodeid_like(i), f"gw{i % 64}", (i // 64) * 1.0, 1.0, outcome="failed")
        for i in range(10_000)
    ]
    page = page_of(timings)
    assert len(page.encode()) < 3_000_000
    assert len(bars(svg_of(page))) >= 10_000
    # A skewed suite on 4 workers: mostly milliseconds, a few seconds.
    skewed = []
    clock = [0.0] * 4
    for i in range(10_000):
        w = min(range(4), key=clock.__getitem__)
        seconds = 4.0 if i % 100 == 0 else 0.002 + (i % 7) * 0.001
        skewed.append(timing(nodeid_like(i), f"gw{w}", clock[w], seconds))
        clock[w] += seconds
    page = page_of(skewed)
    assert len(page.encode()) < 500_000
    svg_of(page)


outcomes = st.sampled_from(["passed", "failed", "error", "skipped"])
workers = st.sampled_from(["gw0", "gw1", "gw2", "master"])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(max_size=40),
            workers,
            st.floats(0, 100),
            st.floats(0, 20),
            outcomes,
            st.lists(st.sampled_from(["unit", "e2e", "<x&y>"]), max_size=2),
        ),
        max_size=40,
    ),
    st.text(max_size=20),
)
def test_any_run_gives_a_well_formed_svg_and_no_markup_from_input(
    rows: list[tuple[str, str, float, float, str, list[str]]], title: str
) -> None:
    timings = [
        timing(f"t.py::{name}", worker, start, seconds, outcome, tuple(dict.fromkeys(types)))
        for name, worker, start, seconds, outcome, types in rows
    ]
    page = page_of(timings, title=title)
    svg = svg_of(page)
    assert len(lane_names(svg)) == len({t.worker for t in timings})
    assert "<x&y>" not in page
    assert "<script" not in page.lower()
    tables = page[page.index("</svg>") :]
    for heading in ("Test types", "Slowest tests"):
        if timings:
            table_after(tables, heading)


def test_shared_fixture_set_up_shows_in_the_hover_text() -> None:
    # The bar runs from start to stop; a session fixture's set-up inside it is not the test's.
    t = timing("t.py::test_first", "gw0", 0.0, 0.5)
    t = t._replace(stop=t.stop + 1.5)
    svg = svg_of(page_of([t]))
    text = bars(svg)["t.py::test_first"].findtext("title") or ""
    assert "0.500 s (passed;" in text
    assert "0.00 to 2.00 s" in text
    assert "plus 1.500 s of shared fixture set-up (charged to the fixture)" in text


def test_a_stop_before_the_start_is_drawn_from_the_durations() -> None:
    t = timing("t.py::test_odd", "gw0", 0.0, 2.0)
    t = t._replace(stop=0.0)
    page = page_of([t, timing("t.py::test_b", "gw1", 0.0, 4.0)])
    assert card(page, "wall time") == "4.00 s"
    rect = bars(svg_of(page))["t.py::test_odd"]
    assert float(rect.get("width", 0)) == pytest.approx(PLOT / 2, abs=0.1)
