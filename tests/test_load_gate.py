"""Real k6 and Locust runs against a target process the tests control: a baseline recorded,
then a regression when the target answers 150 ms slower; a leaking target's RSS growth
caught and a steady one's not; every profile runs ``tests/load/*``; k6 from PATH."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_tempo.load import k6bin
from pytest_tempo.load.k6 import find_k6
from pytest_tempo.load.locust import locust_available

from .conftest import xdist_params

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

K6 = find_k6()
needs_k6 = pytest.mark.skipif(K6 is None, reason="k6 is not installed (see docs/load.md)")
UNAVAILABLE = locust_available()
needs_locust = pytest.mark.skipif(UNAVAILABLE is not None, reason=UNAVAILABLE or "")
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands in for k6")

TARGET = Path(__file__).with_name("load_target.py")
#: The slower release: 150 ms more per request, against about 1 ms.
SLOWER_MS = 150
#: Limits with room for a loaded machine's noise, far under what 150 ms more does.
LIMITS = "load_regression = p95:+75ms, rps:-40%, error_rate:+0.5pp"
#: Smoke at 6% of its length (3.3 s), 5 users: 50 requests and more even 150 ms slower.
K6_RUN = ["--load-profile=smoke", "--load-vus=5", "--load-time-scale=0.06", "-p", "no:tempo-timing"]

K6_SCRIPT = """\
// tempo: stages
import http from 'k6/http';
import { sleep } from 'k6';

export const options = {
  thresholds: { http_req_failed: ['rate<0.01'], 'http_req_duration{name:root}': ['p(95)<5000'] },
};

export default function () {
  http.get(`${__ENV.BASE_URL}/`, { tags: { name: 'root' } });
  sleep(0.05);
}
"""

LOCUSTFILE = """\
from locust import HttpUser, constant, task


class Web(HttpUser):
    wait_time = constant(0.05)

    @task
    def root(self):
        self.client.get("/", name="root")
"""


class Target:
    """A load target process (tests/load_target.py)."""

    def __init__(self, folder: Path, delay_ms: int = 0, leak_kb: int = 0) -> None:
        port = folder / f"target-{delay_ms}-{leak_kb}-{time.monotonic_ns()}.port"
        self.proc = subprocess.Popen(
            [sys.executable, str(TARGET), str(port), str(delay_ms), str(leak_kb)]
        )
        deadline = time.monotonic() + 30
        while not port.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail("the load target did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{port.read_text()}"
        self.pid = self.proc.pid

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Callable[..., Target]]:
    started: list[Target] = []

    def start(delay_ms: int = 0, leak_kb: int = 0) -> Target:
        for old in started:
            old.stop()
        started.append(Target(tmp_path, delay_ms, leak_kb))
        return started[-1]

    yield start
    for old in started:
        old.stop()


def _store(pytester: pytest.Pytester) -> dict[str, object]:
    data: dict[str, object] = json.loads(
        (pytester.path / ".pytest_cache" / "d" / "tempo-load" / "baselines.json").read_text()
    )
    return data


# --- baselines --------------------------------------------------------------------------------


@needs_k6
@xdist_params
@pytest.mark.slow
def test_k6_baseline_recorded_then_regression_fails_with_the_table(
    pytester: pytest.Pytester,
    target: Callable[..., Target],
    monkeypatch: pytest.MonkeyPatch,
    xdist_args: list[str],
) -> None:
    pytester.makeini(f"[pytest]\nconsole_output_style = classic\n{LIMITS}\nload_watch = 0x\n")
    (pytester.path / "tests" / "load").mkdir(parents=True)
    (pytester.path / "tests" / "load" / "web.k6.js").write_text(K6_SCRIPT)
    (pytester.path / "tests" / "load" / "other.k6.js").write_text(K6_SCRIPT)

    def run(delay_ms: int) -> pytest.RunResult:
        server = target(delay_ms)
        monkeypatch.setenv("BASE_URL", server.url)
        (pytester.path / "0x").write_text(str(server.pid))  # the PID file ini load_watch names
        return pytester.runpytest(*K6_RUN, *xdist_args)

    first = run(0)
    first.assert_outcomes(passed=2)
    first.stdout.fnmatch_lines(["baselines: 2 recorded"])
    first.stdout.fnmatch_lines(["server under tests/load/web.k6.js::k6: pid *: CPU peak *"])
    items = _store(pytester)["items"]
    assert isinstance(items, dict)
    assert sorted(items) == ["tests/load/other.k6.js::k6", "tests/load/web.k6.js::k6"]
    [records] = items["tests/load/web.k6.js::k6"].values()
    assert sorted(records[0]["groups"]) == ["", "name:root"]

    second = run(0)
    second.assert_outcomes(passed=2)
    second.stdout.fnmatch_lines(["baselines: 2 within limits"])

    slower = run(SLOWER_MS)
    slower.assert_outcomes(failed=2)
    slower.stdout.fnmatch_lines(
        [
            "load baseline: regression against the median of the last 2 passing run(s) of "
            "smoke/5vus/x0.06 (last recorded *)",
            "",
            "metric * baseline * now * change * limit * result",
            "p95 ms * REGRESSION",
            "req/s * -* -40% * REGRESSION",
            "error rate * 0.00% * 0.00% * +0.0pp * +0.5pp * ok",
            "p95 ms {name:root} * +75ms * REGRESSION",
        ]
    )
    slower.stdout.fnmatch_lines(["baselines: 2 regressed"])
    # a regressed run is not recorded: the baseline stays the fast one
    [records] = _store(pytester)["items"]["tests/load/web.k6.js::k6"].values()  # type: ignore[index]
    assert len(records) == 2


@needs_locust
@pytest.mark.slow
def test_locust_baseline_update_then_regression(
    pytester: pytest.Pytester, target: Callable[..., Target], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini(f"[pytest]\nconsole_output_style = classic\n{LIMITS}\n")
    pytester.makepyfile(locustfile=LOCUSTFILE)
    pytester.makepyfile(
        test_web="""\
        import os

        def test_web(load_test):
            load_test("locustfile.py:Web", host=os.environ["BASE_URL"])
        """
    )
    run = K6_RUN

    monkeypatch.setenv("BASE_URL", target(0).url)
    missing = pytester.runpytest(*run, "--load-baseline=compare")
    missing.assert_outcomes(failed=1)
    missing.stdout.fnmatch_lines(
        [
            "E * load baseline: none recorded for smoke/5vus/x0.06; record one with "
            "--load-baseline=update (or a run with the default auto mode)"
        ]
    )
    pytester.runpytest(*run, "--load-baseline=update").assert_outcomes(passed=1)
    assert len(_store(pytester)["items"]["test_web.py::test_web"]["smoke/5vus/x0.06"]) == 1  # type: ignore[index]

    monkeypatch.setenv("BASE_URL", target(SLOWER_MS).url)
    pytester.runpytest(*run, "--load-baseline=off").assert_outcomes(passed=1)
    slower = pytester.runpytest(*run)
    slower.assert_outcomes(failed=1)
    slower.stdout.fnmatch_lines(
        [
            "E *LoadTestFailed: load baseline: regression against the median of the last 1 *",
            "E * metric * baseline * now * change * limit * result",
            "E * p95 ms * REGRESSION",
            "E * p95 ms {name:root} * REGRESSION",
        ]
    )


# --- the watched server -----------------------------------------------------------------------


@needs_locust
@xdist_params
@pytest.mark.slow
def test_rss_growth_of_a_leaking_target_fails_and_a_steady_one_passes(
    pytester: pytest.Pytester, target: Callable[..., Target], xdist_args: list[str]
) -> None:
    """A soak rehearsed in 7.5 s, sampled every second: the leak keeps 256 KB per request."""
    leaking = target(0, 256)
    steady = Target(pytester.path, 0, 0)
    try:
        pytester.makeini(
            "[pytest]\nconsole_output_style = classic\nload_rss_growth_limit = 500MB/h\n"
        )
        pytester.makepyfile(locustfile=LOCUSTFILE)
        pytester.makepyfile(
            test_servers=textwrap.dedent(
                f"""\
                import pytest

                @pytest.mark.parametrize("url, pid", [
                    ("{leaking.url}", {leaking.pid}),
                    ("{steady.url}", {steady.pid}),
                ], ids=["leaking", "steady"])
                def test_server(load_test, url, pid):
                    metrics = load_test("locustfile.py:Web", host=url, watch=pid)
                    print(metrics.usage.describe())
                """
            )
        )
        result = pytester.runpytest(
            "--load-profile=soak", "--load-vus=3", "--load-time-scale=0.0005",
            "-p", "no:tempo-timing", "--load-baseline=off", *xdist_args,
        )  # fmt: skip
    finally:
        steady.stop()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "E *LoadTestFailed: load: RSS grew * MB/h, r² * over * samples, above the limit "
            "of 500 MB/h (ini load_rss_growth_limit)",
            f"E * pid {leaking.pid}: CPU peak *%, RSS peak * MB * (steady growth)",
        ]
    )
    result.stdout.fnmatch_lines(
        [f"server under test_servers.py::test_server?steady?: pid {steady.pid}: CPU peak *"]
    )
    steady_line = next(
        line for line in result.outlines if line.startswith("server under") and "steady]" in line
    )
    assert "(steady growth)" not in steady_line


def test_a_watch_that_cannot_be_resolved_fails_before_any_load(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "def test_web(load_test):\n"
        "    load_test('locustfile.py', host='http://127.0.0.1:1', watch='missing.pid')\n"
    )
    pytester.makepyfile(locustfile=LOCUSTFILE)
    result = pytester.runpytest("--load-profile=smoke")
    if UNAVAILABLE:
        result.assert_outcomes(skipped=1)
        return
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["watch='*/missing.pid': cannot read the PID file: *"])
    result.stdout.no_fnmatch_line("*another exception occurred*")


# --- profiles and types -------------------------------------------------------------------


@needs_k6
@needs_locust
@xdist_params
@pytest.mark.slow
def test_stress_profile_runs_every_test_in_tests_load(
    pytester: pytest.Pytester, target: Callable[..., Target], xdist_args: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The default test_types make tests/load/* of type `load`; stress still runs them."""
    server = target(0)
    monkeypatch.setenv("BASE_URL", server.url)
    load = pytester.path / "tests" / "load"
    load.mkdir(parents=True)
    (load / "web.k6.js").write_text(K6_SCRIPT)
    (load / "locustfile.py").write_text(LOCUSTFILE)
    (load / "test_web.py").write_text(
        textwrap.dedent(
            """\
            import os
            import pytest

            def test_locust(load_test):
                assert load_test("locustfile.py:Web", host=os.environ["BASE_URL"]).requests

            @pytest.mark.load_profiles("soak")
            def test_soak_only(load_test):
                raise AssertionError("not under stress")

            @pytest.mark.load_profiles("stresss")
            def test_typo(load_test):
                raise AssertionError("never runs")
            """
        )
    )
    result = pytester.runpytest(
        "--load-profile=stress", "--load-vus=1", "--load-time-scale=0.003", "-rs",
        "-p", "no:tempo-timing", "--load-baseline=off", *xdist_args,
    )  # fmt: skip
    result.assert_outcomes(passed=2, skipped=1, errors=1)  # a bad marker: a set-up error
    result.stdout.fnmatch_lines(["*load test marked load_profiles('soak'): not run with the "
                                 "stress profile"])  # fmt: skip
    result.stdout.fnmatch_lines(["*load_profiles('stresss'): unknown profile; expected one of "
                                 "smoke, load, stress, spike, soak"])  # fmt: skip
    result.stdout.fnmatch_lines(["*= load (stress, 1 vus) =*"])
    result.stdout.fnmatch_lines(["tests/load/web.k6.js::k6 * passed *"])
    result.stdout.fnmatch_lines(["tests/load/test_web.py::test_locust * passed *"])


# --- where k6 comes from ------------------------------------------------------------------


@needs_k6
@posix_only
def test_k6_is_found_on_path_first(
    pytester: pytest.Pytester, target: Callable[..., Target], monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:  # fmt: skip
    """A k6 on PATH (here a wrapper that logs, then runs the real binary) wins over the
    configured one and the wheel's."""
    assert K6 is not None
    folder = tmp_path / "bin"
    folder.mkdir()
    log = tmp_path / "k6.log"
    wrapper = folder / "k6"
    wrapper.write_text(f'#!/bin/sh\necho "$1" >> "{log}"\nexec "{K6}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.setenv("K6_BINARY", "/nowhere/k6")  # PATH comes first
    monkeypatch.setenv("BASE_URL", target(0).url)
    pytester.makefile(".k6.js", web=K6_SCRIPT)
    result = pytester.runpytest(*K6_RUN)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"load: k6 {wrapper} (PATH)"])
    assert log.read_text().split() == ["inspect", "run"]


def test_k6_binary_then_missing_skips_or_fails_under_load_require(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("K6_BINARY", raising=False)
    # the k6 wheel is installed in this environment: stand in for one without it
    monkeypatch.setattr(k6bin, "wheel_folders", list)
    pytester.makefile(".k6.js", web="export default function () {}\n")

    skipped = pytester.runpytest("--load-profile=smoke", "-rs")
    skipped.assert_outcomes(skipped=1)
    skipped.stdout.fnmatch_lines(["load: k6 not found (k6 items will skip)"])
    skipped.stdout.fnmatch_lines([f"SKIPPED [[]1[]] *: {k6bin.INSTALL_HINT}"])
    required = pytester.runpytest("--load-profile=smoke", "-o", "load_require=true")
    required.assert_outcomes(failed=1)
    required.stdout.fnmatch_lines([f"{k6bin.INSTALL_HINT} (ini load_require = true)"])
    monkeypatch.setenv("K6_BINARY", str(tmp_path / "nowhere"))
    wrong = pytester.runpytest("--load-profile=smoke")
    wrong.assert_outcomes(failed=1)
    wrong.stdout.fnmatch_lines(
        [
            f"k6_binary / K6_BINARY: '{tmp_path / 'nowhere'}' is not an executable k6 binary "
            "(and there is no k6 on PATH)"
        ]
    )
    if K6 is not None:  # the configured binary (here its folder) is used when PATH has none
        pytester.makeini(f"[pytest]\nk6_binary = {Path(K6).parent}\n")
        monkeypatch.delenv("K6_BINARY")
        found = pytester.runpytest("--load-profile=smoke", "--load-time-scale=0.01")
        found.stdout.fnmatch_lines([f"load: k6 {K6} (k6_binary)"])
        found.assert_outcomes(passed=1)


def test_locate_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def binary(folder: Path) -> Path:
        folder.mkdir()
        path = folder / "k6"
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
        return path

    on_path, configured, wheel = (
        binary(tmp_path / "p"),
        binary(tmp_path / "c"),
        binary(tmp_path / "w"),
    )
    monkeypatch.setattr(k6bin, "wheel_folders", lambda: [str(wheel.parent)])
    assert k6bin.locate(str(configured), path=str(on_path.parent)) == k6bin.Found(
        str(on_path), "PATH"
    )
    assert k6bin.locate(str(configured), path=str(tmp_path)) == k6bin.Found(
        str(configured), "k6_binary"
    )
    assert k6bin.locate(None, path=str(tmp_path)) == k6bin.Found(str(wheel), "wheel")
    monkeypatch.setattr(k6bin, "wheel_folders", list)
    assert k6bin.locate(None, path=str(tmp_path)) == k6bin.Found(None, "missing")
