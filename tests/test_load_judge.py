"""k6 summaries made elsewhere: reading, merging runners, ``pytest-tempo load-judge``.

The pure parts on plain data; the command on summaries the real k6 binary wrote, two runs at
once against a local server, as a distributed run's runners would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tempo.cli import main
from pytest_tempo.load.k6 import find_k6
from pytest_tempo.load.k6 import read_summary as item_reads
from pytest_tempo.load.summaries import SummaryError, judge, merge, read_summary
from pytest_tempo.load.thresholds import parse_thresholds, percentile

from .load_server import Server

if TYPE_CHECKING:
    from pathlib import Path

K6 = find_k6()
needs_k6 = pytest.mark.skipif(K6 is None, reason="k6 is not installed (the [load] extra)")


def export(
    reqs: int, seconds: float, failed: int, p95: float, avg: float, **extra: Any
) -> dict[str, Any]:
    """A ``--summary-export`` as k6 writes it, with the figures that matter here."""
    return {
        "metrics": {
            "http_reqs": {"count": reqs, "rate": reqs / seconds},
            "http_req_failed": {"passes": failed, "fails": reqs - failed,
                                "value": failed / reqs, "thresholds": {"rate<0.01": False}},
            "http_req_duration": {"avg": avg, "min": 1.0, "med": avg, "max": p95 * 2,
                                  "p(95)": p95, "count": reqs,
                                  "thresholds": {"p(95)<500": False}},
            "vus_max": {"value": 5, "min": 5, "max": 5},
            "vus": {"value": 0, "min": 0, "max": 5},
            "iteration_duration": {"avg": 10.0, "med": 10.0, "p(95)": 12.0},
            **extra,
        },
        "root_group": {},
    }  # fmt: skip


A = export(100, 10.0, 1, 40.0, 20.0)
B = export(300, 12.0, 0, 60.0, 30.0)


def test_read_summary_export_and_handle_summary_alike() -> None:
    legacy = read_summary(A)
    handled = read_summary(
        {
            "metrics": {
                "http_reqs": {"type": "counter", "values": {"count": 100, "rate": 10.0}},
                "http_req_failed": {
                    "type": "rate",
                    "values": {"rate": 0.01, "passes": 1, "fails": 99},
                    "thresholds": {"rate<0.01": {"ok": True}},
                },
            },
            "state": {"testRunDurationMs": 10_000},
        }
    )
    for name in ("http_reqs", "http_req_failed"):
        assert handled.metrics[name].kind == legacy.metrics[name].kind
        assert handled.metrics[name].aggregate("rate") == legacy.metrics[name].aggregate("rate")
    assert handled.crossed == {("http_req_failed", "rate<0.01"): False}
    assert (legacy.seconds, handled.seconds) == (10.0, 10.0)  # from the counter, from state
    assert legacy.thresholds == {
        "http_req_failed": ["rate<0.01"],
        "http_req_duration": ["p(95)<500"],
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "no 'metrics' object"),
        ({"metrics": []}, "no 'metrics' object"),
        ({"metrics": {"x": 3}}, "metric 'x' is not an object"),
    ],
    ids=["list", "metrics-list", "metric-number"],
)
def test_read_summary_refuses_what_is_not_a_summary(data: object, message: str) -> None:
    with pytest.raises(SummaryError, match=message):
        read_summary(data)


def test_merge_adds_counts_and_recomputes_rates() -> None:
    merged, seconds = merge([read_summary(A), read_summary(B)])
    assert seconds == 12.0  # the longest runner
    assert merged["http_reqs"].values == {"count": 400, "rate": 400 / 12.0}
    failed = merged["http_req_failed"]
    assert (failed.values["passes"], failed.values["fails"]) == (1, 399)
    assert failed.values["rate"] == 1 / 400
    trend = merged["http_req_duration"]
    assert trend.values["count"] == 400
    assert trend.values["avg"] == pytest.approx((100 * 20 + 300 * 30) / 400)  # weighted
    assert (trend.values["min"], trend.values["max"]) == (1.0, 120.0)
    assert trend.ranges["p(95)"] == (40.0, 60.0)  # only known between the runners'
    assert merged["vus_max"].values["value"] == 10  # each ran its share of the users
    assert merged["iteration_duration"].ranges["avg"] == (10.0, 10.0)  # no count: a range
    assert merged["iteration_duration"].exact("avg")


def test_judge_one_summary_as_the_k6_item_does() -> None:
    sets = parse_thresholds({"http_req_duration": ["p(95)<500"], "http_req_failed": ["rate<0.01"]})
    results, _ = judge(sets, [read_summary(A)])
    assert results == item_reads(A, {"http_req_duration": ["p(95)<500"],
                                     "http_req_failed": ["rate<0.01"]}).results  # fmt: skip


def test_judge_merged_percentiles_on_the_side_that_is_conservative() -> None:
    sets = parse_thresholds(
        {
            "http_req_duration": ["p(95)<50", "p(95)>50", "p(95)==60", "avg<28", "max<200"],
            "http_reqs": ["count>=400"],
            "http_req_failed": ["rate<0.01"],
        }
    )
    results, metrics = judge(sets, [read_summary(A), read_summary(B)])
    rows = [(r.threshold, r.observed, r.passed, r.reason) for r in results]
    assert rows == [
        ("p(95)<50", 60.0, False, "largest of 2 runners"),
        ("p(95)>50", 40.0, False, "smallest of 2 runners"),
        ("p(95)==60", None, False, "not exact when merged"),
        ("avg<28", 27.5, True, ""),
        ("max<200", 120.0, True, ""),
        ("count>=400", 400.0, True, ""),
        ("rate<0.01", 0.0025, True, ""),
    ]
    assert metrics["http_req_duration"].aggregate("p(95)") == 60.0  # the key figures: the bound


sample_lists = st.lists(
    st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=40), min_size=1, max_size=4
)


@given(sample_lists)
def test_merged_exact_figures_equal_the_whole_runs(runners: list[list[float]]) -> None:
    def summary(samples: list[float]) -> dict[str, Any]:
        ordered = sorted(samples)
        return {"metrics": {"http_req_duration": {
            "avg": sum(samples) / len(samples), "min": ordered[0], "max": ordered[-1],
            "med": percentile(ordered, 50), "p(95)": percentile(ordered, 95),
            "count": len(samples)}}}  # fmt: skip

    merged, _ = merge([read_summary(summary(r)) for r in runners])
    whole = sorted(x for r in runners for x in r)
    trend = merged["http_req_duration"]
    assert trend.values["count"] == len(whole)
    assert trend.values["min"] == whole[0]
    assert trend.values["max"] == whole[-1]
    assert trend.values["avg"] == pytest.approx(sum(whole) / len(whole), rel=1e-9, abs=1e-6)
    low, high = trend.ranges["p(95)"]
    if len(runners) == 1:
        assert low == high == percentile(whole, 95)


# --- the command on real k6 summaries ----------------------------------------------------------

SCRIPT = """\
import http from 'k6/http';

export const options = {{
  vus: 2,
  duration: '1500ms',
  thresholds: {{
    http_req_duration: ['p(95)<5000', 'avg<5000'],
    http_req_failed: ['rate<0.01'],
    http_reqs: ['count>5'],
  }},
}};

export default function () {{
  http.get('{url}/', {{ tags: {{ name: 'home' }} }});
}}

export function handleSummary(data) {{
  return {{ [__ENV.HANDLED]: JSON.stringify(data) }};
}}
"""


@pytest.fixture(scope="module")
def runners(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two k6 runs at once against one server: each writes --summary-export and
    handleSummary JSON, as the runners of a distributed run do."""
    assert K6 is not None
    folder = tmp_path_factory.mktemp("runners")
    with Server() as server:
        (folder / "load.k6.js").write_text(SCRIPT.format(url=server.url))
        runs = [
            subprocess.Popen(
                [
                    K6,
                    "run",
                    "--quiet",
                    "--no-color",
                    "--address",
                    "",
                    "--no-usage-report",
                    "--summary-trend-stats",
                    "avg,min,med,max,count,p(90),p(95),p(99)",
                    "--summary-export",
                    f"export-{n}.json",
                    "-e",
                    f"HANDLED=handled-{n}.json",
                    "load.k6.js",
                ],
                cwd=folder,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for n in (1, 2)
        ]
        try:
            for run in runs:
                _, stderr = run.communicate(timeout=120)
                assert run.returncode == 0, stderr
        finally:
            for run in runs:
                if run.poll() is None:
                    run.kill()
                    run.wait()
    return folder


def judged(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main(["load-judge", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


@needs_k6
def test_two_real_runners_pass_the_scripts_thresholds(
    runners: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(runners)
    code, out, err = judged(capsys, "export-1.json", "export-2.json", "--script", "load.k6.js")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("2 runner(s): requests ")
    assert "(largest runner)" in lines[0]
    assert lines[-1] == "pytest-tempo load-judge: passed"
    one = json.loads((runners / "export-1.json").read_text())["metrics"]["http_reqs"]["count"]
    two = json.loads((runners / "export-2.json").read_text())["metrics"]["http_reqs"]["count"]
    assert f"requests {one + two}," in lines[0]  # the runners' counts added
    table = "\n".join(lines)
    assert "http_req_duration  p(95)<5000" in table
    assert "PASS (largest of 2 runners)" in table
    assert f"http_reqs          count>5     {one + two}" in table


@needs_k6
def test_one_runner_is_judged_as_the_k6_item_judges_it(runners: Path) -> None:
    data = json.loads((runners / "export-1.json").read_text())
    thresholds = {"http_req_duration": ["p(95)<5000", "avg<5000"], "http_req_failed": ["rate<0.01"],
                  "http_reqs": ["count>5"]}  # fmt: skip
    mine, _ = judge(parse_thresholds(thresholds), [read_summary(data)])
    assert mine == item_reads(data, thresholds).results
    handled = json.loads((runners / "handled-1.json").read_text())
    from_handled, _ = judge(parse_thresholds(thresholds), [read_summary(handled)])
    assert [(r.threshold, r.passed) for r in from_handled] == [
        (r.threshold, r.passed) for r in mine
    ]
    assert [r.observed for r in from_handled] == pytest.approx([r.observed for r in mine])


@needs_k6
def test_handle_summary_json_merges_like_the_export(
    runners: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(runners)
    exported = judged(capsys, "export-1.json", "export-2.json")
    handled = judged(capsys, "handled-1.json", "handled-2.json")
    assert exported[0] == handled[0] == 0
    assert exported[1].splitlines()[0] == handled[1].splitlines()[0]  # the same key figures


@needs_k6
def test_a_threshold_crossed_fails_with_the_table(
    runners: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = judged(
        capsys, runners / "export-1.json", runners / "export-2.json",
        "--thresholds", '{"http_reqs": ["count<1"], "http_req_duration": ["p(95)<5000"]}',
    )  # fmt: skip
    assert code == 1
    assert out.splitlines()[-1] == "pytest-tempo load-judge: thresholds failed"
    assert "http_reqs          count<1" in out
    assert "FAIL" in out


def slower(data: dict[str, Any], ms: float) -> dict[str, Any]:
    """The same summary with every response ``ms`` slower."""
    copy: dict[str, Any] = json.loads(json.dumps(data))
    for name, metric in copy["metrics"].items():
        if name.startswith("http_req_duration"):
            for key in [k for k in metric if k in ("avg", "med", "max") or k.startswith("p(")]:
                metric[key] += ms
    return copy


@needs_k6
def test_baselines_record_compare_and_catch_a_regression(
    runners: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    store = tmp_path / "baselines.json"
    runs = [runners / "export-1.json", runners / "export-2.json"]
    args = [
        "--baselines",
        store,
        "--profile",
        "smoke",
        "--vus",
        "4",
        "--key",
        "perf/load.k6.js::k6",
    ]
    code, out, _ = judged(capsys, *runs, *args)
    assert code == 0
    assert "baseline of perf/load.k6.js::k6 (smoke/4vus): recorded" in out
    assert "recorded in " in out
    assert list(json.loads(store.read_text())["items"]) == ["perf/load.k6.js::k6"]
    code, out, _ = judged(capsys, *runs, *args, "--baseline", "compare")
    assert code == 0
    assert "(smoke/4vus): ok (1 runs)" in out
    late = [tmp_path / "late-1.json", tmp_path / "late-2.json"]
    for source, target in zip(runs, late, strict=True):
        target.write_text(json.dumps(slower(json.loads(source.read_text()), 300.0)))
    code, out, _ = judged(capsys, *late, *args, "--baseline", "compare")
    assert code == 1
    assert "load baseline: regression against the median of the last 1 passing run(s)" in out
    assert out.splitlines()[-1] == "pytest-tempo load-judge: regressed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.json"], "pytest-tempo load-judge: cannot read missing.json: No such file*"),
        (["bad.json"], "pytest-tempo load-judge: bad.json: not JSON: Expecting*"),
        (["empty.json"], "pytest-tempo load-judge: empty.json: no 'metrics' object*"),
        (["ok.json"], "pytest-tempo load-judge: no thresholds to judge*"),
        (["ok.json", "--thresholds", "[1]"], "*--thresholds: expected an object*"),
        (["ok.json", "--thresholds", '{"x": ["p95<1"]}'], "*threshold 'p95<1'*"),
        (["ok.json", "--thresholds", "nofile"], "*--thresholds: cannot read nofile*"),
        (["ok.json", "--baselines", "b.json"], "*--baselines needs --profile*"),
        (["ok.json", "--baselines", "b.json", "--profile", "smoke"], "*--baselines needs --key*"),
        (["ok.json", "--baselines", "b.json", "--profile", "big", "--key", "k"],
         "*unknown profile 'big'*"),
    ],
    ids=["missing", "not-json", "no-metrics", "no-thresholds", "not-object", "bad-threshold",
         "no-file", "no-profile", "no-key", "bad-profile"],
)  # fmt: skip
def test_unusable_input_is_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    args: list[str], message: str,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.json").write_text("{")
    (tmp_path / "empty.json").write_text("{}")
    (tmp_path / "ok.json").write_text(json.dumps({"metrics": {"http_reqs": {"count": 1}}}))
    code, out, err = judged(capsys, *args)
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    import fnmatch

    assert fnmatch.fnmatchcase(err.strip(), message), err


def test_the_command_is_installed() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest_tempo.cli", "load-judge", "--help"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0
    assert "SUMMARY [SUMMARY ...]" in done.stdout
    assert "--baselines FILE" in done.stdout
