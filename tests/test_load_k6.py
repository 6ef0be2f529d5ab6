from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from typing import TYPE_CHECKING

import pytest

from pytest_tempo.load import k6bin
from pytest_tempo.load.k6 import (
    build_command,
    failure_report,
    find_k6,
    read_summary,
    run_script,
    trend_stats,
    wants_stages,
)
from pytest_tempo.load.process import Completed, group_alive, run_in_group
from pytest_tempo.load.profiles import build_profile

from .childproc import default_signals
from .conftest import assert_usage_error, xdist_params
from .load_server import Server, processes_mentioning, serve

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

K6 = find_k6()
needs_k6 = pytest.mark.skipif(K6 is None, reason="k6 is not installed (the [load] extra)")
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="process groups are POSIX")

#: Inner runs: smoke at 2% of its length (55 s -> 1.1 s), 2 users.
FAST = ["--load-profile=smoke", "--load-vus=2", "--load-time-scale=0.02", "-p", "no:tempo-timing"]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    yield from serve()


def script(body: str, url: str, options: str = "vus: 1, duration: '1s'") -> str:
    return textwrap.dedent(
        f"""\
        import http from 'k6/http';
        export const options = {{ {options} }};
        export default function () {{ {body.replace("URL", url)} }}
        """
    )


# --- pure parts -------------------------------------------------------------------------------


def test_wants_stages() -> None:
    assert wants_stages("// tempo: stages\nexport default function () {}")
    assert wants_stages("import x from 'y';\n  //tempo:stages\n")
    assert not wants_stages("// stages are ours\n")


def test_trend_stats_adds_the_percentiles_thresholds_use() -> None:
    stats = trend_stats(
        {"http_req_duration": ["p(99.9)<1", {"threshold": "p(95)<5"}], "x": "p(50)<3", "y": 3}
    )
    assert stats.split(",") == [
        "avg",
        "min",
        "med",
        "max",
        "count",
        "p(90)",
        "p(95)",
        "p(99)",
        "p(99.9)",
        "p(50)",
    ]


def test_build_command_env_by_default_and_stages_on_request(tmp_path: Path) -> None:
    profile = build_profile("smoke", 3, 0.1)
    cmd = build_command("k6", tmp_path / "a.k6.js", profile, tmp_path / "s.json", stages=False,
                        stats="avg")  # fmt: skip
    assert cmd[:7] == ["k6", "run", "--quiet", "--no-color", "--address", "", "--no-usage-report"]
    assert "--stage" not in cmd
    assert cmd[cmd.index("LOAD_PROFILE=smoke") - 1 :][:2] == ["-e", "LOAD_PROFILE=smoke"]
    assert "LOAD_VUS=3" in cmd
    assert "LOAD_STAGES=1000ms:3,3500ms:3,1000ms:0" in cmd
    staged = build_command("k6", tmp_path / "a.k6.js", profile, tmp_path / "s.json", stages=True,
                           stats="avg")  # fmt: skip
    assert staged[-7:] == [
        "--stage",
        "1000ms:3",
        "--stage",
        "3500ms:3",
        "--stage",
        "1000ms:0",
        str(tmp_path / "a.k6.js"),
    ]


def test_read_summary_inverted_booleans_and_no_samples() -> None:
    export = {
        "metrics": {
            "http_req_duration": {
                "avg": 1.0,
                "p(95)": 2.0,
                "count": 10,
                # k6: true means the threshold was crossed
                "thresholds": {"p(95)<500": False, "p(95)<1": True},
            },
            "never": {"avg": 0, "count": 0, "thresholds": {"avg<5": False}},
        }
    }
    summary = read_summary(export, None)
    assert [(r.metric, r.threshold, r.passed, r.reason) for r in summary.results] == [
        ("http_req_duration", "p(95)<500", True, ""),
        ("http_req_duration", "p(95)<1", False, ""),
        ("never", "avg<5", False, "no samples"),
    ]
    # thresholds known from `k6 inspect` also cover a metric missing from the export
    summary = read_summary(export, {"http_req_duration": ["p(95)<500"], "gone": ["count>1"]})
    assert [(r.metric, r.passed, r.reason) for r in summary.results] == [
        ("http_req_duration", True, ""),
        ("gone", False, "no samples"),
    ]


def _done(code: int, *, timed_out: bool = False, stderr: str = "") -> Completed:
    return Completed(("k6", "run", "a b.js"), code, "", stderr, timed_out, 1.0, 1)


@pytest.mark.parametrize(
    ("code", "first_line"),
    [
        (104, "k6 exited with 104: invalid configuration or threshold"),
        (105, "k6 exited with 105: aborted by a signal"),
        (107, "k6 exited with 107: script error"),
        (108, "k6 exited with 108: the script aborted the test (exec.test.abort())"),
        (110, "k6 exited with 110: the script marked the test failed (exec.test.fail())"),
        (255, "k6 exited with 255: usage error or script not found"),
        (3, "k6 exited with 3: unexpected exit code"),
        (99, "k6 exited with 99: thresholds crossed"),
    ],
)
def test_failure_report_exit_codes(code: int, first_line: str) -> None:
    report = failure_report(_done(code, stderr="level=error msg=boom"), None, 5, 0)
    assert report is not None
    lines = report.splitlines()
    assert lines[0] == first_line
    assert lines[-1] == "command: k6 run 'a b.js'"
    if code != 99:
        assert "level=error msg=boom" in lines


def test_failure_report_passes_and_timeouts() -> None:
    assert failure_report(_done(0), None, 5, 0) is None
    report = failure_report(_done(-15, timed_out=True), None, 2.5, 0)
    assert report is not None
    assert report.startswith("k6 timed out after 2.5s; the process group was killed")
    report = failure_report(_done(0, stderr="x source=stacktrace"), None, 5, 1)
    assert report is not None
    assert report.startswith("k6 exited with 0, but 1 iteration(s) threw an exception")


def test_find_k6_falls_back_to_the_scripts_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.setattr("sysconfig.get_path", lambda name: str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    assert find_k6() is None
    binary = tmp_path / "k6"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    assert find_k6() == str(binary)


# --- the real k6 binary -----------------------------------------------------------------------


def _run(path: Path, scale: float = 0.02, vus: int = 2, limit: float = 30, name: str = "smoke"):  # type: ignore[no-untyped-def]
    assert K6 is not None
    return run_script(K6, path, build_profile(name, vus, scale), limit, path.parent)


@needs_k6
@pytest.mark.parametrize(
    ("body", "options", "code", "first_line"),
    [
        ("http.get('URL/');", "vus: 1, iterations: 1", 0, None),
        ("export default function( {", None, 107, "k6 exited with 107: script error"),
        (
            "http.get('URL/');",
            "vus: 1, iterations: 1, thresholds: {nosuch: ['avg<1']}",
            104,
            "k6 exited with 104: invalid configuration or threshold",
        ),
        (
            "http.get('URL/');",
            "vus: 1, iterations: 1, thresholds: {http_req_duration: ['rate<1']}",
            104,
            "k6 exited with 104: invalid configuration or threshold",
        ),
        (
            "exec.test.abort('stop');",
            "vus: 1, iterations: 1",
            108,
            "k6 exited with 108: the script aborted the test (exec.test.abort())",
        ),
        (
            "exec.test.fail('nope');",
            "vus: 1, iterations: 1",
            110,
            "k6 exited with 110: the script marked the test failed (exec.test.fail())",
        ),
        (
            "throw new Error('boom');",
            "vus: 1, iterations: 2",
            0,
            "k6 exited with 0, but 2 iteration(s) threw an exception",
        ),
    ],
    ids=["pass", "syntax", "unknown-metric", "bad-aggregation", "abort", "fail", "exception"],
)
def test_exit_code_classes(
    tmp_path: Path,
    server: Server,
    body: str,
    options: str | None,
    code: int,
    first_line: str | None,
) -> None:
    path = tmp_path / "x.k6.js"
    if options is None:
        path.write_text(body)
    else:
        text = "import exec from 'k6/execution';\n" + script(body, server.url, options)
        path.write_text(text)
    done, _summary, report = _run(path)
    assert done.returncode == code
    if first_line is None:
        assert report is None
    else:
        assert report is not None
        assert report.splitlines()[0] == first_line
        if code not in (0, 99):
            assert "stderr (last lines):" in report


@needs_k6
def test_missing_script_is_a_usage_error(tmp_path: Path) -> None:
    done, _summary, report = _run(tmp_path / "gone.k6.js")
    assert done.returncode == 255
    assert report is not None
    assert report.startswith("k6 exited with 255: usage error or script not found")


@needs_k6
def test_thresholds_pass_cross_submetrics_and_zero_samples(tmp_path: Path, server: Server) -> None:
    path = tmp_path / "t.k6.js"
    path.write_text(
        script(
            "http.get('URL/', {tags: {name: 'root'}}); http.get('URL/fail');",
            server.url,
            "vus: 1, duration: '1s', thresholds: {"
            "http_req_duration: ['p(95)<500', 'p(99.9)<10000'],"
            "'http_req_duration{name:root}': ['max<5000'],"
            "'http_req_duration{name:none}': ['avg<10'],"
            "http_req_failed: ['rate<0.01'],"
            "'http_req_failed{name:root}': ['rate==0'] }",
        )
    )
    done, summary, report = _run(path)
    assert done.returncode == 99
    assert summary is not None
    got = {(r.metric, r.threshold): (r.passed, r.reason) for r in summary.results}
    assert got == {
        ("http_req_duration", "p(95)<500"): (True, ""),
        ("http_req_duration", "p(99.9)<10000"): (True, ""),
        ("http_req_duration{name:root}", "max<5000"): (True, ""),
        ("http_req_duration{name:none}", "avg<10"): (False, "no samples"),
        ("http_req_failed", "rate<0.01"): (False, ""),
        ("http_req_failed{name:root}", "rate==0"): (True, ""),
    }
    # p(99.9) was asked of k6 because a threshold uses it
    observed = {r.threshold: r.observed for r in summary.results}
    assert observed["p(99.9)<10000"] is not None
    assert observed["rate<0.01"] == pytest.approx(0.5, abs=0.05)
    assert report is not None
    assert "http_req_failed{name:root}    rate==0" in report


@needs_k6
@pytest.mark.slow
def test_abort_on_fail_stops_the_run_early(tmp_path: Path, server: Server) -> None:
    path = tmp_path / "a.k6.js"
    path.write_text(
        script(
            "http.get('URL/');",
            server.url,
            "vus: 1, duration: '20s', thresholds: {"
            "http_req_duration: [{threshold: 'max<0.0001', abortOnFail: true}] }",
        )
    )
    done, summary, report = _run(path)
    assert done.returncode == 99
    assert done.seconds < 10
    assert summary is not None
    assert [r.passed for r in summary.results] == [False]
    assert report is not None
    assert "max<0.0001" in report


@needs_k6
@pytest.mark.slow
def test_profile_reaches_the_script_as_env_or_as_stages(tmp_path: Path, server: Server) -> None:
    env_script = tmp_path / "env.k6.js"
    env_script.write_text(
        script(
            "http.get('URL/');",
            server.url,
            "vus: Number(__ENV.LOAD_VUS), iterations: 3 * Number(__ENV.LOAD_VUS),"
            "thresholds: {[`http_reqs{profile:${__ENV.LOAD_PROFILE}}`]: ['count==9']},"
            "tags: {profile: __ENV.LOAD_PROFILE}",
        )
    )
    done, _summary, report = _run(env_script, vus=3, name="spike")
    assert (done.returncode, report) == (0, None), report
    staged = tmp_path / "staged.k6.js"
    staged.write_text(
        "// tempo: stages\n"
        + script(
            "http.get('URL/'); sleep(0.05);",
            server.url,
            # the script's own scenario is replaced by the profile's stages
            "vus: 1, duration: '30s', thresholds: {vus_max: ['value==4'], vus: ['value>=0']}",
        ).replace("import http", "import { sleep } from 'k6';\nimport http")
    )
    done, summary, report = _run(staged, vus=4, scale=0.03)
    assert (done.returncode, report) == (0, None)
    assert done.seconds < 10
    assert summary is not None
    # the smoke shape peaks at min(5, vus) users
    assert summary.metrics["vus_max"].aggregate("value") == 4


@needs_k6
@posix_only
def test_timeout_kills_the_group_and_leaves_no_orphan(tmp_path: Path, server: Server) -> None:
    path = tmp_path / "hang.k6.js"
    path.write_text(
        "import { sleep } from 'k6';\n"
        + script("http.get('URL/'); sleep(60);", server.url, "vus: 2, duration: '60s'")
    )
    done, _summary, report = _run(path, limit=1.5)
    assert done.timed_out
    assert done.seconds < 8
    assert not group_alive(done.pgid)
    assert processes_mentioning(str(path)) == []
    assert report is not None
    assert report.startswith("k6 timed out after 1.5s; the process group was killed")


@posix_only
def test_run_in_group_kills_children_left_behind() -> None:
    # the leader exits at once, leaving a grandchild that would run for a minute
    code = "import subprocess; subprocess.Popen(['sleep', '60'])"
    done = run_in_group([sys.executable, "-c", code], timeout=10)
    assert done.returncode == 0
    assert not group_alive(done.pgid)


# --- as pytest items --------------------------------------------------------------------------


def _layout(pytester: pytest.Pytester, server: Server) -> None:
    pytester.makefile(
        ".k6.js",
        ok=script(
            "http.get('URL/');",
            server.url,
            "vus: 1, duration: '1s', thresholds: {http_req_duration: ['p(95)<5000']}",
        ),
        bad=script(
            "http.get('URL/fail');",
            server.url,
            "vus: 1, duration: '1s', thresholds: {http_req_failed: ['rate<0.01']}",
        ),
    )


@xdist_params
def test_items_skip_without_profile(
    pytester: pytest.Pytester, server: Server, xdist_args: list[str]
) -> None:
    _layout(pytester, server)
    result = pytester.runpytest("-rs", *xdist_args)
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*load test: run with --load-profile=NAME*"])


@needs_k6
@xdist_params
@pytest.mark.slow
def test_items_pass_fail_and_summary(
    pytester: pytest.Pytester, server: Server, xdist_args: list[str]
) -> None:
    _layout(pytester, server)
    result = pytester.runpytest(*FAST, *xdist_args)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*k6: bad.k6.js*",
            "thresholds failed",
            "metric           threshold  observed  result",
            "http_req_failed  rate<0.01  1         FAIL",
            "command: *k6 run --quiet --no-color --address '' --no-usage-report*",
            "*= load (smoke, 2 vus) =*",
            "test * result * requests * failed * p95 ms * req/s * peak users * time s",
        ]
    )
    result.stdout.fnmatch_lines(["bad.k6.js::k6 * failed * 100.00%*"])
    result.stdout.fnmatch_lines(["ok.k6.js::k6 * passed * 0.00%*"])


@needs_k6
def test_markers_restrict_profiles_and_github_summary(
    pytester: pytest.Pytester, server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini(
        "[pytest]\nconsole_output_style = classic\n"
        "test_types =\n    stress/*: stress\n    spiky/*: spike soak\n"
    )
    body = script("http.get('URL/');", server.url, "vus: 1, iterations: 2")
    (pytester.path / "stress").mkdir()
    (pytester.path / "stress" / "s.k6.js").write_text(body)
    (pytester.path / "spiky").mkdir()
    (pytester.path / "spiky" / "p.k6.js").write_text(body)
    (pytester.path / "plain.k6.js").write_text(body)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = pytester.runpytest(*FAST[:-2], "--load-profile=stress", "-rs")
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(["*load test marked soak, spike: not run with the stress profile"])
    text = summary.read_text()
    assert "### load (stress, 2 vus)\n\n| test | result | requests |" in text
    assert "| `plain.k6.js::k6` | passed | 2 |" in text


def test_missing_k6_skips_saying_how_to_install_it(
    pytester: pytest.Pytester, server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _layout(pytester, server)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("K6_BINARY", raising=False)
    monkeypatch.setattr(k6bin, "wheel_folders", list)  # stands in for no k6 wheel installed
    result = pytester.runpytest(*FAST, "-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*k6 is not installed: install it from https://grafana.com/*"])


def test_k6_scripts_ini_and_plugin_switch(pytester: pytest.Pytester, server: Server) -> None:
    pytester.makeini("[pytest]\nk6_scripts = perf/*.js\n")
    (pytester.path / "perf").mkdir()
    (pytester.path / "perf" / "one.js").write_text("export default function () {}\n")
    (pytester.path / "two.k6.js").write_text("export default function () {}\n")
    result = pytester.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(["perf/one.js::k6", "1 test collected*"])
    result = pytester.runpytest("--collect-only", "-q", "-p", "no:tempo-load")
    result.stdout.fnmatch_lines(["no tests collected*"])


def test_header_names_the_profile(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--load-profile=spike", "--load-vus=3")
    result.stdout.fnmatch_lines(["tempo *: *load=spikex3*"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--load-profile=bogus"],
            "--load-profile: 'bogus' is not valid: expected one of smoke, "
            "load, stress, spike, soak",
        ),
        (["--load-vus=0"], "--load-vus: '0' is not valid: expected a whole number from 1 to 10000"),
        (["--load-vus=many"], "--load-vus: 'many' is not valid"),
        (["--load-time-scale=0"], "--load-time-scale: '0' is not valid: expected a number over 0"),
    ],
    ids=["load-profile-bogus", "load-vus-0", "load-vus-many", "load-time-scale-0"],
)
def test_bad_options(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    assert_usage_error(pytester, args, f"ERROR: *{message}*")


def test_bad_ini_profile(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nload_profile = heavy\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert "load_profile (ini): 'heavy' is not valid: expected one of smoke" in result.stderr.str()


def test_summary_export_json_shape_is_what_we_read(tmp_path: Path) -> None:
    """Guard for read_summary against the export layout k6 1.1 writes."""
    export = tmp_path / "s.json"
    export.write_text(
        json.dumps({"root_group": {}, "metrics": {"checks": {"passes": 0, "fails": 0, "value": 0,
                                                             "thresholds": {"rate>0.9": False}}}})
    )  # fmt: skip
    summary = read_summary(json.loads(export.read_text()), None)
    # k6 passes a rate threshold with no samples; pytest-tempo does not
    assert [(r.passed, r.reason) for r in summary.results] == [(False, "no samples")]


@needs_k6
@posix_only
@pytest.mark.parametrize(
    ("sig", "says"),
    [
        (signal.SIGINT, "KeyboardInterrupt"),  # what Ctrl-C sends
        (signal.SIGTERM, "SIGTERM received"),  # timeout, docker stop, a cancelled CI job
        (signal.SIGHUP, "SIGHUP received"),  # a closed terminal
    ],
    ids=["sigint", "sigterm", "sighup"],
)
def test_signal_kills_the_group_and_leaves_no_orphan(
    pytester: pytest.Pytester, server: Server, sig: int, says: str
) -> None:
    pytester.makefile(
        ".k6.js",
        endless="import { sleep } from 'k6';\n"
        + script("http.get('URL/'); sleep(0.2);", server.url, "vus: 2, duration: '60s'"),
    )
    script_path = str(pytester.path / "endless.k6.js")
    command = [sys.executable, "-m", "pytest", "--load-profile=smoke", "-p", "no:randomly"]
    with subprocess.Popen(
        command,
        cwd=pytester.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=default_signals,  # noqa: PLW1509 - only signal.signal in the child
    ) as proc:
        deadline = time.monotonic() + 30
        started = False
        while not started and proc.poll() is None and time.monotonic() < deadline:
            started = bool(processes_mentioning(script_path))
            if not started:
                time.sleep(0.05)
        if not started or proc.poll() is not None:
            proc.kill()
            pytest.fail(f"k6 was not running; pytest printed:\n{proc.communicate()[0]}")
        proc.send_signal(sig)
        output, _ = proc.communicate(timeout=30)
    assert says in output, output
    assert proc.returncode == (2 if sig == signal.SIGINT else 128 + sig)
    assert processes_mentioning(script_path) == []
