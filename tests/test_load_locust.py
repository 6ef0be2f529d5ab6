from __future__ import annotations

import sys
import textwrap
from typing import TYPE_CHECKING, Any

import pytest

from pytest_tempo.load import process
from pytest_tempo.load.locust import (
    LoadMetrics,
    check_abort,
    locust_available,
    resolve_user,
    run_locust,
    series_for,
)
from pytest_tempo.load.process import Completed, group_alive, run_in_group
from pytest_tempo.load.profiles import Profile, Stage, build_profile
from pytest_tempo.load.thresholds import ThresholdError

from .load_server import Server, processes_mentioning, serve

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

UNAVAILABLE = locust_available()
needs_locust = pytest.mark.skipif(UNAVAILABLE is not None, reason=UNAVAILABLE or "")

LOCUSTFILE = """\
from locust import HttpUser, constant, task


class Web(HttpUser):
    wait_time = constant(0.05)

    @task(3)
    def root(self):
        self.client.get("/", name="root")

    @task
    def fail(self):
        self.client.get("/fail", name="failing")


class Idle(HttpUser):
    wait_time = constant(0.05)

    @task
    def nothing(self):
        pass


class Hostless(HttpUser):
    host = None
"""


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    yield from serve()


@pytest.fixture
def locustfile(tmp_path: Path) -> Path:
    path = tmp_path / "locustfile.py"
    path.write_text(LOCUSTFILE)
    return path


def short(users: int = 2, seconds: float = 1.5) -> Profile:
    """A quick ramp-hold-down shape."""
    return Profile("smoke", users, (Stage(0.2, users), Stage(seconds, users), Stage(0.1, 0)))


def run(locustfile: Path, user: str, **kwargs: object) -> tuple[LoadMetrics | None, str | None]:
    options: dict[str, object] = {
        "base": locustfile.parent,
        "profile": short(),
        "host": None,
        "thresholds": None,
        "processes": 1,
        "timeout": 30.0,
        "allow_empty": False,
    }
    options.update(kwargs)
    return run_locust(f"{locustfile}:{user}", **options)  # type: ignore[arg-type]


# --- pure parts -------------------------------------------------------------------------------

ENTRIES = [
    {
        "name": "root",
        "method": "GET",
        "num_requests": 4,
        "num_failures": 0,
        "total_response_time": 40,
        "min_response_time": 5,
        "max_response_time": 20,
        "total_content_length": 12,
        "response_times": {"5": 1, "10": 2, "20": 1},
    },
    {
        "name": "failing",
        "method": "POST",
        "num_requests": 2,
        "num_failures": 2,
        "total_response_time": 300,
        "min_response_time": 100,
        "max_response_time": 200,
        "total_content_length": 0,
        "response_times": {"100": 1, "200": 1},
    },
]


def test_series_maps_locust_stats_to_k6_metrics() -> None:
    duration = series_for("http_req_duration", ENTRIES, 2.0)
    assert duration.samples == 6
    assert duration.aggregate("avg") == pytest.approx(340 / 6)
    assert duration.aggregate("min") == 5
    assert duration.aggregate("max") == 200
    assert duration.aggregate("med") == 15  # between 10 and 20
    assert series_for("http_req_failed", ENTRIES, 2.0).aggregate("rate") == pytest.approx(2 / 6)
    assert series_for("http_reqs", ENTRIES, 2.0).aggregate("rate") == 3.0
    assert series_for("data_received", ENTRIES, 2.0).aggregate("count") == 12
    assert series_for("http_req_duration{name:root}", ENTRIES, 2.0).aggregate("max") == 20
    assert series_for("http_req_failed{method:POST}", ENTRIES, 2.0).aggregate("rate") == 1.0
    assert series_for("http_reqs{name:none}", ENTRIES, 2.0).samples == 0
    assert series_for("vus_max", ENTRIES, 2.0, peak_users=3).aggregate("value") == 3


def test_check_abort_waits_for_delay_and_samples() -> None:
    rule = {"metric": "http_req_failed", "threshold": "rate<0.1", "delay": 5.0}
    assert check_abort(ENTRIES, [rule], elapsed=1.0) is None
    assert check_abort(ENTRIES, [rule], elapsed=6.0) == "http_req_failed: rate<0.1"
    empty = {"metric": "http_req_failed{name:none}", "threshold": "rate<0.1", "delay": 0}
    assert check_abort(ENTRIES, [empty], elapsed=6.0) is None


def test_resolve_user(tmp_path: Path, locustfile: Path) -> None:
    assert resolve_user("locustfile.py", tmp_path) == (locustfile, [])
    assert resolve_user("locustfile.py:Web,Idle", tmp_path) == (locustfile, ["Web", "Idle"])
    with pytest.raises(FileNotFoundError, match=r"no locustfile 'nope\.py'"):
        resolve_user("nope.py", tmp_path)
    with pytest.raises(TypeError, match="takes a User class or a path"):
        resolve_user(42, tmp_path)


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ({"http_req_duration": ["p95<500"]}, "unknown method 'p95'"),
        ({"http_req_duration": ["rate<0.1"]}, "'rate' does not apply to a trend metric"),
        ({"checks": ["rate>0.99"]}, "unknown metric 'checks'"),
        ({"http_req_duration{status:200}": ["avg<1"]}, "tag 'status' is not available"),
    ],
    ids=["unknown-method", "rate-on-trend", "unknown-metric", "unknown-tag"],
)
def test_bad_thresholds_fail_before_any_run(
    locustfile: Path, thresholds: dict[str, list[str]], message: str
) -> None:
    with pytest.raises(ThresholdError, match=message):
        run(locustfile, "Web", thresholds=thresholds)


# --- real Locust ------------------------------------------------------------------------------


@needs_locust
@pytest.mark.slow
def test_pass_with_submetrics_and_returned_metrics(locustfile: Path, server: Server) -> None:
    metrics, report = run(
        locustfile,
        "Web",
        host=server.url,
        thresholds={
            "http_req_duration": ["p(95)<2000", "avg<2000"],
            "http_req_duration{name:root}": ["max<5000"],
            "http_req_failed{name:root}": ["rate==0"],
            "http_req_failed{name:failing}": ["rate==1"],
            "http_reqs": ["count>5"],
            "vus_max": ["value==2"],
        },
    )
    assert report is None
    assert metrics is not None
    assert metrics.requests > 5
    assert 0 < metrics.failures < metrics.requests
    assert all(r.passed for r in metrics.results)
    assert metrics.value("http_req_failed{name:failing}", "rate") == 1.0
    assert metrics.peak_users == 2


@needs_locust
@pytest.mark.slow
def test_crossed_threshold_fails_with_the_table(locustfile: Path, server: Server) -> None:
    metrics, report = run(
        locustfile,
        "Web",
        host=server.url,
        thresholds={"http_req_failed": ["rate<0.01"], "http_req_duration": ["p(95)<5000"]},
    )
    assert metrics is not None
    assert report is not None
    lines = report.splitlines()
    assert lines[0] == "load_test: thresholds failed"
    assert lines[2].split() == ["metric", "threshold", "observed", "result"]
    assert lines[3].split()[:2] == ["http_req_failed", "rate<0.01"]
    assert lines[3].split()[-1] == "FAIL"
    assert lines[4].split()[:2] == ["http_req_duration", "p(95)<5000"]
    assert lines[4].split()[-1] == "PASS"


@needs_locust
def test_zero_requests_fail(locustfile: Path, server: Server) -> None:
    metrics, report = run(locustfile, "Idle", host=server.url, profile=short(1, 0.5))
    assert metrics is not None
    assert metrics.requests == 0
    assert report is not None
    assert report.startswith("load_test: Locust made no request in ")
    assert "(locustfile.py:Idle); check the host and the User's tasks" in report


@needs_locust
@pytest.mark.slow
def test_zero_samples_threshold_fails_unless_allowed(locustfile: Path, server: Server) -> None:
    thresholds = {"http_req_duration{name:never}": ["p(95)<500"]}
    _metrics, report = run(locustfile, "Web", host=server.url, thresholds=thresholds)
    assert report is not None
    assert "FAIL (no samples)" in report
    _metrics, report = run(
        locustfile, "Web", host=server.url, thresholds=thresholds, allow_empty=True
    )
    assert report is None


@needs_locust
def test_missing_host(locustfile: Path) -> None:
    metrics, report = run(locustfile, "Web", host=None)
    assert report == (
        "load_test: no host: pass host='http://127.0.0.1:PORT' to load_test or set host on "
        "the User class"
    )  # one line: nothing ran
    assert metrics is not None


@needs_locust
def test_locustfile_without_user_class(tmp_path: Path, locustfile: Path, server: Server) -> None:
    path = tmp_path / "empty_locustfile.py"
    path.write_text("import locust\n")
    _metrics, report = run_locust(
        str(path), base=tmp_path, profile=short(), host=server.url, thresholds=None,
        processes=1, timeout=30, allow_empty=False,
    )  # fmt: skip
    assert report is not None
    assert report.startswith(f"load_test: no User class in {path}")
    _metrics, report = run(locustfile, "Nope", host=server.url)
    assert report is not None
    assert report.startswith("load_test: no User class 'Nope' in ")


@needs_locust
def test_abort_on_fail_stops_early(locustfile: Path, server: Server) -> None:
    thresholds = {"http_req_failed": [{"threshold": "rate<0.01", "abortOnFail": True}]}
    metrics, report = run(
        locustfile, "Web", host=server.url, thresholds=thresholds, profile=short(2, 20)
    )
    assert metrics is not None
    assert metrics.aborted == "http_req_failed: rate<0.01"
    assert metrics.seconds < 5
    assert report is not None
    assert report.startswith(
        "load_test: aborted because a threshold with abortOnFail failed: http_req_failed: rate<0.01"
    )


@needs_locust
@pytest.mark.skipif(sys.platform == "win32", reason="process groups are POSIX")
@pytest.mark.slow
@pytest.mark.parametrize("processes", [1, 2])
def test_timeout_leaves_no_orphan(
    locustfile: Path, server: Server, processes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    groups: list[int] = []

    def recording(*args: Any, **kwargs: Any) -> Completed:
        done = run_in_group(*args, **kwargs)
        groups.append(done.pgid)
        return done

    monkeypatch.setattr(process, "run_in_group", recording)
    metrics, report = run(
        locustfile,
        "Web",
        host=server.url,
        profile=short(2, 60),
        timeout=4.0 if processes == 1 else 10.0,  # two processes start slower under load
        processes=processes,
    )
    assert report is not None
    assert report.startswith("load_test: Locust timed out after ")
    assert "the process group was killed" in report
    assert processes_mentioning(str(locustfile)) == []
    assert len(groups) == 1
    assert not group_alive(groups[0])
    # SIGTERM let the child write its partial results
    assert metrics is not None
    assert metrics.requests > 0


@needs_locust
@pytest.mark.slow
def test_processes_2_uses_locust_workers(locustfile: Path, server: Server) -> None:
    metrics, report = run(
        locustfile,
        "Web",
        host=server.url,
        processes=2,
        thresholds={"http_req_duration": ["p(95)<5000"], "http_reqs": ["count>5"]},
    )
    assert report is None
    assert metrics is not None
    assert metrics.workers == 2
    assert metrics.requests > 5
    assert processes_mentioning(str(locustfile)) == []


def _observed(metrics: LoadMetrics) -> list[int]:
    return [users for _, users, _ in metrics.history]


@needs_locust
@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "scale"),
    [
        ("smoke", 0.04),
        ("load", 0.005),
        ("stress", 0.003),
        ("spike", 0.008),
        ("soak", 0.00015),
    ],
)
def test_profile_shapes_from_locust_history(
    locustfile: Path, server: Server, name: str, scale: float
) -> None:
    profile = build_profile(name, 2, scale)
    metrics, report = run(locustfile, "Web", host=server.url, profile=profile)
    assert report is None, report
    assert metrics is not None
    users = _observed(metrics)
    # ramped up (never starts at full load), reached the peak, ramped back down
    assert users[0] < profile.peak
    assert max(users) == profile.peak
    assert users[-1] == 0
    planned = [planned for _, _, planned in metrics.history]
    if name == "smoke":
        assert profile.peak == 2
    if name == "stress":
        # steps at 1x, 2x and 3x, each held
        for level in (2, 4, 6):
            assert users.count(level) >= 3, (level, users)
    if name == "spike":
        assert profile.peak == 20
        assert users.count(2) >= 3  # held at 1x before and after the jump
        assert users.count(20) >= 3
    if name in ("load", "soak"):
        # most of the run is the plateau at the expected users
        assert users.count(2) > len(users) / 2
    # what ran followed the plan
    assert max(planned) == profile.peak


# --- the fixture ------------------------------------------------------------------------------


def test_fixture_skips_without_profile(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "def test_web(load_test):\n    load_test('locustfile.py', host='http://127.0.0.1:1')\n"
    )
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*load test: run with --load-profile=NAME*"])


@needs_locust
@pytest.mark.slow
def test_fixture_in_a_run(pytester: pytest.Pytester, server: Server) -> None:
    pytester.makepyfile(locustfile=LOCUSTFILE)
    pytester.makepyfile(
        test_web=textwrap.dedent(
            f"""\
            import pytest

            def test_pass(load_test):
                metrics = load_test(
                    "locustfile.py:Web",
                    host="{server.url}",
                    thresholds={{"http_req_duration": ["p(95)<5000"]}},
                )
                assert metrics.requests > 0

            def test_fail(load_test):
                load_test(
                    "locustfile.py:Web",
                    host="{server.url}",
                    thresholds={{"http_req_failed": ["rate<0.01"]}},
                )

            @pytest.mark.soak
            def test_soak_only(load_test):
                raise AssertionError("not under smoke's sibling profiles")
            """
        )
    )
    result = pytester.runpytest(
        "--load-profile=load", "--load-vus=2", "--load-time-scale=0.004", "-rs",
        "-p", "no:tempo-timing",
    )  # fmt: skip
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "E * load_test: thresholds failed",
            "E * http_req_failed * rate<0.01 * FAIL",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*= load (load, 2 vus) =*",
            "test_web.py::test_pass * passed *",
            "test_web.py::test_fail * failed *",
        ]
    )
    result.stdout.fnmatch_lines(["*load test marked soak: not run with the load profile"])
