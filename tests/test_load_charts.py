"""The load tests on the HTML page: SVG charts, escaping, and real k6 and Locust runs."""

from __future__ import annotations

import json
import os
import re
import textwrap
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pytest_tempo.load.k6 import find_k6
from pytest_tempo.load.locust import locust_available
from pytest_tempo.load.series import Timeline, chart, read_chart
from pytest_tempo.report.charts import charts_of, load_section
from pytest_tempo.report.svg import Line, line_chart

from .conftest import xdist_params
from .load_server import Server, serve

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

#: text the page must show escaped, with a character XML does not allow
NASTY = "a<b>&\"c'\x01"


def series(seconds: int = 5, *, server: bool = False) -> dict[str, Any]:
    timeline = Timeline(
        0.0,
        requests=dict.fromkeys(range(seconds), 10),
        failures={2: 1},
        p95=dict.fromkeys(range(seconds), 12.5),
        users={s: float(s) for s in range(seconds)},
    )
    data = chart(timeline)
    if server:
        data["cpu"] = [50.0] * seconds
        data["rss_mb"] = [None, *([30.0] * (seconds - 1))]
    return data


def svgs(fragment: str) -> list[ET.Element]:
    """Every SVG of a fragment, each parsed as XML (which fails on a malformed one)."""
    return [ET.fromstring(m) for m in re.findall(r"<svg\b.*?</svg>", fragment, flags=re.S)]


# --- one chart --------------------------------------------------------------------------------


values_st = st.lists(st.one_of(st.none(), st.floats(0, 1e9)), min_size=1, max_size=60)


@given(st.text(max_size=40), st.text(max_size=10), values_st, st.sampled_from([1, 2, 15, 300]))
@example("tiny", "ms", [5e-324], 1)  # a y axis of a denormal once had no tick step
def test_line_chart_is_well_formed_xml_and_escapes_text(
    title: str, unit: str, values: list[float | None], step: int
) -> None:
    t = [i * step for i in range(len(values))]
    svg = line_chart(title, unit, t, [Line(title, values, "rps")], step=step)
    root = ET.fromstring(svg)
    texts = [e.text or "" for e in root.iter("text")]
    clean = re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]", "\ufffd", title)
    assert texts[0] == clean.replace("\r\n", "\n").replace("\r", "\n")  # XML's line ends
    points = sum(len((p.get("points") or "").split()) for p in root.iter("polyline"))
    dots = len(list(root.iter("circle")))
    assert points + dots == sum(v is not None for v in values)  # every known value drawn once
    for polyline in root.iter("polyline"):
        for pair in (polyline.get("points") or "").split():
            x, y = map(float, pair.split(","))
            assert 0 <= x <= float(root.get("width", 0))
            assert 0 <= y <= float(root.get("height", 0))


def test_line_chart_axes_have_units_and_gaps_split_the_line() -> None:
    values = [5, 6, None, 8, None, None, None, 9, 9]
    svg = line_chart("p95", "ms", range(9), [Line("p95", values, "p95")], step=1)
    root = ET.fromstring(svg)
    texts = [e.text for e in root.iter("text")]
    assert "ms" in texts
    assert "seconds since the load began" in texts
    lines = [(p.get("points") or "").split() for p in root.iter("polyline")]
    assert [len(points) for points in lines] == [3, 2]  # one missing second is bridged
    long = line_chart("rps", "req/s", [0, 600], [Line("r", [1, 2], "rps")], step=600)
    assert "minutes since the load began" in long


def test_line_chart_without_samples_says_so() -> None:
    svg = line_chart("Error rate", "%", [0, 1], [Line("e", [None, None], "err")], step=1)
    assert "no samples" in svg
    ET.fromstring(svg)


# --- the section ------------------------------------------------------------------------------


def test_section_charts_per_test_and_server_charts_only_when_sampled() -> None:
    fragment = load_section(
        [
            ("t.k6.js::k6", "passed", {"engine": "k6", "requests": 50.0, "series": series()}),
            (
                "test_l.py::test_web",
                "failed",
                {"engine": "locust", "series": series(server=True), "usage": "pid 3: ..."},
            ),
        ]
    )
    charts = svgs(fragment)
    assert len(charts) == 4 + 6
    titles = [c.findtext("text") for c in charts]
    assert titles[:4] == [
        "Requests per second",
        "p95 request duration",
        "Error rate",
        "Active users (VUs)",
    ]
    assert titles[8:] == ["Server CPU", "Server memory (RSS)"]
    assert "t.k6.js::k6" in fragment
    assert '<span class="tag f">failed</span>' in fragment
    assert "Server: pid 3: ..." in fragment


def test_section_escapes_every_text() -> None:
    data = {
        "engine": NASTY,
        "baseline": NASTY,
        "usage": NASTY,
        "series": series(),
        "comparison": [
            ["metric", "baseline", "now", "change", "limit", "result"],
            [NASTY, "1", "2", "+100%", "p95:+20%", "REGRESSION"],
        ],
    }
    fragment = load_section([(f"t.py::test[{NASTY}]", "passed", data)])
    assert "a<b>" not in fragment
    assert "a&lt;b&gt;&amp;&quot;c&#x27;\ufffd" in fragment
    ET.fromstring(f"<div>{fragment}</div>")  # the whole fragment parses as XML too


def test_section_baseline_table_and_missing_series() -> None:
    rows = [["metric", "baseline", "now", "change", "limit", "result"]]
    rows.append(["p95 ms", "10.0", "11.0", "+10.0%", "p95:+20%", "ok"])
    fragment = load_section([("t.py::test_a", "passed", {"comparison": rows, "series": "junk"})])
    assert "<th>metric</th><th>baseline</th><th>now</th><th>change</th><th>limit</th>" in fragment
    assert "<td>p95 ms</td><td>10.0</td><td>11.0</td><td>+10.0%</td>" in fragment
    assert "No time series was recorded for this test." in fragment
    assert load_section([]) == ""


def test_long_runs_say_their_buckets() -> None:
    chart_ = read_chart(chart(Timeline(0.0, requests=dict.fromkeys(range(900), 3))))
    assert chart_ is not None
    assert chart_.step == 5
    first = ET.fromstring(charts_of(chart_)[0])
    assert first.findtext("text") == "Requests per second (5 s buckets)"
    points = (first.find("polyline").get("points") or "").split()  # type: ignore[union-attr]
    assert len(points) == 180
    assert len({p.split(",")[1] for p in points}) == 1  # 3 requests a second, every bucket


# --- real runs --------------------------------------------------------------------------------

K6 = find_k6()
UNAVAILABLE = locust_available()
needs_engines = pytest.mark.skipif(
    K6 is None or UNAVAILABLE is not None, reason=UNAVAILABLE or "k6 is not installed"
)

#: smoke at 6% of its 55 s: about 3.3 s of load, in four buckets of a second or so
RUN = ["--load-profile=smoke", "--load-vus=2", "--load-time-scale=0.06"]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    yield from serve()


def _project(pytester: pytest.Pytester, server: Server) -> None:
    (pytester.path / "server.pid").write_text(str(os.getpid()))  # the server runs here
    pytester.makeini(
        "[pytest]\nconsole_output_style = classic\nload_watch = server.pid\n"
        "load_regression = p95:+1000%\n"
    )
    pytester.makefile(
        ".k6.js",
        shop=textwrap.dedent(
            f"""\
            // tempo: stages
            import http from 'k6/http';
            import {{ sleep }} from 'k6';
            export default function () {{ http.get('{server.url}/'); sleep(0.005); }}
            """
        ),
    )
    pytester.makepyfile(
        locustfile="""
            from locust import HttpUser, constant, task

            class Web(HttpUser):
                wait_time = constant(0.005)

                @task
                def root(self):
                    self.client.get("/")
        """,
        test_web=f"""
            def test_web(load_test):
                load_test("locustfile.py:Web", host="{server.url}")
        """,
    )


@needs_engines
@pytest.mark.slow
@xdist_params
def test_real_k6_and_locust_runs_on_the_page_and_in_the_json(
    pytester: pytest.Pytester, server: Server, xdist_args: list[str], tmp_path: Path
) -> None:
    _project(pytester, server)
    page_path, report_path = tmp_path / "run.html", tmp_path / "run.json"
    result = pytester.runpytest(
        *RUN, f"--tempo-html={page_path}", f"--slow-report-json={report_path}", *xdist_args
    )
    result.assert_outcomes(passed=2)
    document = json.loads(report_path.read_text())
    load = {item["nodeid"]: item for item in document["load"]}
    assert sorted(load) == ["shop.k6.js::k6", "test_web.py::test_web"]
    page = page_path.read_text()
    section = page[page.index("<h2>Load tests</h2>") : page.index("<h2>Worker timeline</h2>")]
    charts = svgs(section)
    assert len(charts) == 2 * 6  # four of the load and two of the watched server, per test
    for nodeid, item in load.items():
        data = item["series"]
        count = len(data["t"])
        assert 3 <= count <= 8  # about 3.3 s of load in buckets of one second
        assert data["step"] == 1
        assert sum(data["requests"]) == item["requests"] > 0  # the run's total, to the request
        assert max(u for u in data["users"] if u is not None) == 2
        assert any(v is not None for v in data["cpu"])
        assert any(v is not None for v in data["rss_mb"])
        assert nodeid in section
        mine = charts[6 * sorted(load).index(nodeid) :][:6]
        rps = mine[0].find("polyline")
        assert rps is not None
        assert len((rps.get("points") or "").split()) == count
    jsonschema = pytest.importorskip("jsonschema")
    from importlib.resources import files

    schema = json.loads(files("pytest_tempo").joinpath("schemas/slow-report.json").read_text())
    jsonschema.validate(document, schema)

    # A second run compares with the first: the page shows the baseline table.
    pytester.runpytest(*RUN, f"--tempo-html={page_path}", *xdist_args).assert_outcomes(passed=2)
    page = page_path.read_text()
    assert page.count("<th>metric</th><th>baseline</th><th>now</th><th>change</th>") == 2
    assert page.count("<td>+1000%</td>") >= 2


@needs_engines
@pytest.mark.slow
def test_no_page_no_points(pytester: pytest.Pytester, server: Server) -> None:
    """Without the page or the JSON report, no series is kept (nor points written by k6)."""
    _project(pytester, server)
    pytester.makeconftest(
        """
        import pytest

        @pytest.hookimpl(wrapper=True)
        def pytest_runtest_makereport(item, call):
            report = yield
            for key, value in report.user_properties:
                if key == "tempo_load":
                    assert "series" not in value, item.nodeid
            return report
        """
    )
    pytester.runpytest(*RUN).assert_outcomes(passed=2)
