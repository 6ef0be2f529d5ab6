"""Locust's master for workers from elsewhere: ``load_test(..., workers=N)``.

Real Locust workers (``python -m locust --worker``), each its own process on loopback,
stand in for other machines. They are started by the test that needs them and terminated in
its ``finally``; every real run ends with a check that no process of it is left.
"""

from __future__ import annotations

import os
import socket
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tempo.load.distributed import (
    MAX_WORKERS,
    Master,
    check_distribution,
    count_worker_report,
    parse_bind,
)
from pytest_tempo.load.locust import locust_available, run_locust
from pytest_tempo.load.options import parse_master_bind, parse_workers, parse_workers_wait
from pytest_tempo.load.profiles import Profile, Stage
from pytest_tempo.load.render import notes_lines
from pytest_tempo.parsers import SettingError

from .conftest import HAS_XDIST, assert_usage_error
from .load_server import Server, serve

if TYPE_CHECKING:
    from collections.abc import Iterator

UNAVAILABLE = locust_available()
needs_locust = pytest.mark.skipif(UNAVAILABLE is not None, reason=UNAVAILABLE or "")

LOCUSTFILE = """\
from locust import HttpUser, constant, task


class Web(HttpUser):
    wait_time = constant(0.05)

    @task
    def root(self):
        self.client.get("/", name="root")
"""


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    yield from serve()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- pure parts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0.0.0.0:5557", ("0.0.0.0", 5557)),
        (" 127.0.0.1:0 ", ("127.0.0.1", 0)),
        ("127.0.0.1", ("127.0.0.1", 0)),
        ("locust-master:5557", ("locust-master", 5557)),
        ("master.example.com", ("master.example.com", 0)),
        ("[::]:5557", ("::", 5557)),
        ("[::1]", ("::1", 0)),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_parse_bind_accepts(raw: str, expected: tuple[str, int]) -> None:
    assert parse_bind(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", ":5557", "host:", "host:port", "host:70000", "1.2.3:5557", "300.1.1.1:1", "::1:5557",
     "[::1]:x", "[nope]:1", "a b:1", "-host:1", "host:-1", "host:+1", "host:١٢"],
)  # fmt: skip
def test_parse_bind_refuses(raw: str) -> None:
    with pytest.raises(ValueError, match=r"expected HOST:PORT such as 0\.0\.0\.0:5557"):
        parse_bind(raw)


@given(st.ip_addresses(v=4), st.integers(0, 65535))
def test_parse_bind_round_trips_ipv4(address: object, port: int) -> None:
    assert parse_bind(f"{address}:{port}") == (str(address), port)


@pytest.mark.parametrize(
    ("processes", "workers", "problem"),
    [
        (1, None, None),
        (2, 3, None),
        (1, 0, "load_test(): workers must be a whole number from 1 to 1000 (or None for "
               "--load-workers), not 0"),
        (1, -2, "*workers must be*not -2"),
        (1, True, "*workers must be*not True"),
        (1, 2.0, "*workers must be*not 2.0"),
        (1, MAX_WORKERS + 1, "*workers must be*not 1001"),
        (0, None, "load_test(): processes must be a whole number from 1 to 1000, not 0"),
        ("2", None, "*processes must be*not '2'"),
    ],
)  # fmt: skip
def test_check_distribution(processes: object, workers: object, problem: str | None) -> None:
    found = check_distribution(processes, workers)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert "\n" not in found
        import fnmatch

        assert fnmatch.fnmatchcase(found, problem), found


def test_master_says_how_to_join(tmp_path: Path) -> None:
    master = Master("127.0.0.1", 5557, external=2, local=0, wait=60.0)
    locustfile = tmp_path / "perf" / "locustfile.py"
    assert master.join_command(locustfile, tmp_path) == (
        "locust -f perf/locustfile.py --worker --master-host=127.0.0.1 --master-port=5557"
    )
    assert master.announcement(locustfile, tmp_path) == (
        "load_test: Locust master on 127.0.0.1:5557 waits up to 60s for 2 worker(s); start "
        "each with: locust -f perf/locustfile.py --worker --master-host=127.0.0.1 "
        "--master-port=5557"
    )
    assert master.join_command(locustfile, tmp_path / "elsewhere").endswith(
        f"-f {locustfile} --worker --master-host=127.0.0.1 --master-port=5557"
    )
    assert master.expected == 2
    assert master.spec() == {
        "bind": "127.0.0.1", "port": 5557, "connect": "127.0.0.1", "external": 2, "wait": 60.0,
    }  # fmt: skip


def test_master_listening_everywhere_names_this_machine() -> None:
    master = Master("0.0.0.0", 5557, external=1, local=2, wait=5.0)
    assert master.join_host == socket.gethostname()
    assert master.local_host == "127.0.0.1"  # its own workers stay on loopback
    assert master.expected == 3
    assert "(and 2 of its own)" in master.announcement(Path("lf.py"))
    six = Master("::", 1, external=1, local=0, wait=1.0)
    assert (six.join_host, six.local_host) == (socket.gethostname(), "::1")
    assert Master("::1", 1, 1, 0, 1.0).join_host == "[::1]"


def test_count_worker_report_adds_each_workers_requests() -> None:
    tally: dict[str, int] = {}
    count_worker_report(tally, "a", {"stats_total": {"num_requests": 5}, "stats": []})
    count_worker_report(tally, "b", {"stats": [{"num_requests": 2}, {"num_requests": 1}]})
    count_worker_report(tally, "a", {"stats_total": {"num_requests": 3}})
    count_worker_report(tally, "c", None)
    assert tally == {"a": 8, "b": 3}


def test_the_load_section_shows_how_the_requests_were_shared() -> None:
    entries = [
        ("test_a.py::test_dist", "passed", {"worker_requests": [61, 59]}),
        ("test_a.py::test_local", "passed", {}),
    ]
    assert notes_lines(entries) == [
        "Locust workers under test_a.py::test_dist: 2, requests 61 + 59"
    ]


def test_option_parsers_accept_and_unset() -> None:
    assert parse_workers(" 4 ") == 4
    assert parse_workers("") is None
    assert parse_master_bind("0.0.0.0:5557") == ("0.0.0.0", 5557)
    assert parse_master_bind("  ") is None
    assert parse_workers_wait("90s") == 90.0
    assert parse_workers_wait("0.5") == 0.5
    for bad in ("1001", "1.5", "x"):
        with pytest.raises(SettingError, match="expected a whole number from 1 to 1000"):
            parse_workers(bad)
    with pytest.raises(SettingError, match="expected seconds over 0 and up to 86400"):
        parse_workers_wait("86401")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--load-workers=0"], "ERROR: --load-workers: '0' is not valid: expected a whole "
                               "number from 1 to 1000"),
        (["--load-master-bind=host:99999"], "ERROR: --load-master-bind: 'host:99999' is not "
                                            "valid: the port is over 65535; expected HOST:PORT*"),
        (["--load-master-bind=a b"], "ERROR: --load-master-bind: 'a b' is not valid: expected "
                                     "HOST:PORT such as 0.0.0.0:5557 or 127.0.0.1:0*"),
        (["--load-workers-timeout=0"], "ERROR: --load-workers-timeout: '0' is not valid: "
                                       "expected seconds over 0 and up to 86400, such as 60"),
        (["-o", "load_workers_timeout=-5"], "ERROR: load_workers_timeout (ini): '-5' is not "
                                            "valid: expected seconds over 0*"),
    ],
    ids=["workers", "port", "host", "timeout", "timeout-ini"],
)  # fmt: skip
def test_bad_values_are_one_line_usage_errors(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    result = assert_usage_error(pytester, args, message)
    assert len([line for line in result.stderr.lines if line.strip()]) == 1


# --- real runs --------------------------------------------------------------------------------


def quick(users: int = 2, seconds: float = 1.5) -> Profile:
    return Profile("smoke", users, (Stage(0.2, users), Stage(seconds, users), Stage(0.1, 0)))


def leftovers(folder: Path) -> list[int]:
    """Live processes working in ``folder`` (the test's own: the Locust child, its
    supervisor, its workers, the workers the test started), this one excepted."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
            with open(f"/proc/{entry}/stat", encoding="utf-8") as fh:
                stat = fh.read()
        except OSError:
            continue
        zombie = stat[stat.rfind(")") + 2 :].split()[0] == "Z"
        if not zombie and (cwd == str(folder) or cwd.startswith(f"{folder}/")):
            found.append(int(entry))
    return found


@needs_locust
def test_no_worker_in_time_fails_with_the_count_and_leaves_nothing(
    tmp_path: Path, server: Server
) -> None:
    locustfile = tmp_path / "locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    lines: list[str] = []
    port = free_port()
    metrics, report = run_locust(
        f"{locustfile}:Web", base=tmp_path, profile=quick(), host=server.url, thresholds=None,
        processes=1, timeout=60.0, allow_empty=False,
        master=Master("127.0.0.1", port, external=1, local=0, wait=0.5), announce=lines.append,
    )  # fmt: skip
    assert metrics is not None
    assert metrics.requests == 0
    assert report == (
        f"load_test: only 0 of 1 Locust workers joined the master on 127.0.0.1:{port} within "
        f"0.5s; workers join with: locust -f {locustfile} --worker --master-host=127.0.0.1 "
        f"--master-port={port}"
    )
    assert lines == [Master("127.0.0.1", port, 1, 0, 0.5).announcement(locustfile)]
    assert leftovers(tmp_path) == []


@needs_locust
def test_a_port_in_use_is_a_clear_failure(tmp_path: Path, server: Server) -> None:
    locustfile = tmp_path / "locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        _, report = run_locust(
            f"{locustfile}:Web", base=tmp_path, profile=quick(), host=server.url,
            thresholds=None, processes=1, timeout=60.0, allow_empty=False,
            master=Master("127.0.0.1", port, external=1, local=0, wait=5.0),
        )  # fmt: skip
    assert report is not None
    assert report.startswith(
        f"load_test: cannot listen on 127.0.0.1:{port} for Locust's workers: the port is in use"
    )
    assert leftovers(tmp_path) == []


#: The inner conftest: starts N real Locust workers for the test that asks, on the port the
#: outer test fixed, and terminates them in its ``finally``.
WORKERS_CONFTEST = """\
import subprocess
import sys

import pytest


@pytest.fixture
def external_workers():
    started = []

    def start(count):
        for _ in range(count):
            started.append(subprocess.Popen(
                [sys.executable, "-m", "locust", "-f", "locustfile.py", "--worker",
                 "--master-host=127.0.0.1", "--master-port={port}", "--loglevel", "WARNING"],
                stdin=subprocess.DEVNULL,
            ))

    try:
        yield start
    finally:
        for worker in started:
            worker.terminate()
        for worker in started:
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
"""

TWO_WORKERS = """\
def test_two_workers(load_test, external_workers):
    external_workers(2)
    metrics = load_test(
        "locustfile.py:Web",
        host="{url}",
        workers=2,
        thresholds={{
            "http_req_duration": ["p(95)<5000"],
            "http_req_failed": ["rate<0.01"],
            "http_reqs": ["count>5"],
        }},
    )
    assert metrics.workers == 2
    assert sorted(metrics.worker_requests) != []
    assert len(metrics.worker_requests) == 2
    assert min(metrics.worker_requests.values()) > 0  # both workers sent requests
    assert sum(metrics.worker_requests.values()) == metrics.requests
    assert [(r.metric, r.passed) for r in metrics.results] == [
        ("http_req_duration", True), ("http_req_failed", True), ("http_reqs", True),
    ]
"""

THRESHOLD_FAILS = """\
def test_threshold_fails(load_test, external_workers):
    external_workers(2)
    load_test("locustfile.py:Web", host="{url}", workers=2, thresholds={{"http_reqs": ["count<1"]}})
"""


def distributed_project(pytester: pytest.Pytester, port: int, *, timeout: float = 60) -> None:
    pytester.makeini(
        "[pytest]\nconsole_output_style = classic\n"
        f"load_master_bind = 127.0.0.1:{port}\nload_workers_timeout = {timeout:g}\n"
    )
    pytester.makeconftest(WORKERS_CONFTEST.format(port=port))
    pytester.makepyfile(locustfile=LOCUSTFILE)


LOAD_ARGS = (
    "--load-profile=smoke",
    "--load-vus=4",
    "--load-time-scale=0.05",
    "-p",
    "no:tempo-timing",
)


@needs_locust
@pytest.mark.slow
def test_two_external_workers_share_the_run_judged_as_a_local_one(
    pytester: pytest.Pytester, server: Server
) -> None:
    port = free_port()
    distributed_project(pytester, port)
    pytester.makepyfile(
        test_dist=TWO_WORKERS.format(url=server.url)
        + "\n\n"
        + THRESHOLD_FAILS.format(url=server.url)
    )
    result = pytester.runpytest(*LOAD_ARGS)
    result.assert_outcomes(passed=1, failed=1)
    announcement = (
        f"load_test: Locust master on 127.0.0.1:{port} waits up to 60s for 2 worker(s); start "
        f"each with: locust -f locustfile.py --worker --master-host=127.0.0.1 --master-port={port}"
    )
    result.stderr.fnmatch_lines([announcement, announcement])  # one per test, live
    result.stdout.fnmatch_lines(
        ["E * load_test: thresholds failed", "E * http_reqs * count<1 * FAIL"]
    )
    result.stdout.fnmatch_lines(
        [
            "*= load (smoke, 4 vus) =*",
            "test_dist.py::test_two_workers * passed *",
            "test_dist.py::test_threshold_fails * failed *",
            "Locust workers under test_dist.py::test_two_workers: 2, requests * + *",
            "Locust workers under test_dist.py::test_threshold_fails: 2, requests * + *",
        ]
    )
    assert leftovers(pytester.path) == []


@needs_locust
@pytest.mark.slow
def test_one_worker_of_two_fails_cleanly_and_leaves_no_process(
    pytester: pytest.Pytester, server: Server
) -> None:
    port = free_port()
    # Long enough for the one worker to start and join on a loaded machine (it imports
    # Locust first); the second never comes, so the test always waits this long.
    distributed_project(pytester, port, timeout=15)
    pytester.makepyfile(
        test_short=textwrap.dedent(
            f"""\
            def test_short(load_test, external_workers):
                external_workers(1)
                load_test("locustfile.py:Web", host="{server.url}", workers=2)
            """
        )
    )
    result = pytester.runpytest(*LOAD_ARGS)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"E * load_test: only 1 of 2 Locust workers joined the master on 127.0.0.1:{port} "
            f"within 15s; workers join with: locust -f locustfile.py --worker "
            f"--master-host=127.0.0.1 --master-port={port}"
        ]
    )
    assert leftovers(pytester.path) == []


@needs_locust
@pytest.mark.slow
@pytest.mark.skipif(not HAS_XDIST, reason="pytest-xdist is not installed")
def test_external_workers_under_xdist(pytester: pytest.Pytester, server: Server) -> None:
    """Under ``-n 2`` the announcement reaches the terminal from the xdist worker and the
    controller reports the workers; one fixed port serves one such test at a time."""
    port = free_port()
    distributed_project(pytester, port)
    pytester.makepyfile(
        test_dist=TWO_WORKERS.format(url=server.url) + "\n\ndef test_plain():\n    pass\n"
    )
    result = pytester.runpytest_subprocess("-n", "2", *LOAD_ARGS)
    result.assert_outcomes(passed=2)
    result.stderr.fnmatch_lines([f"load_test: Locust master on 127.0.0.1:{port} waits *"])
    result.stdout.fnmatch_lines(
        ["Locust workers under test_dist.py::test_two_workers: 2, requests * + *"]
    )
    assert leftovers(pytester.path) == []


@needs_locust
def test_bad_workers_argument_fails_the_test_in_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "def test_zero(load_test):\n"
        "    load_test('locustfile.py', host='http://127.0.0.1:1', workers=0)\n"
    )
    result = pytester.runpytest("--load-profile=smoke", "-p", "no:tempo-timing")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "_*_ test_zero _*_",
            "load_test(): workers must be a whole number from 1 to 1000 (or None for "
            "--load-workers), not 0",
            "=*= short test summary info =*=",
        ],
        consecutive=True,
    )
    assert "Traceback" not in result.stdout.str()
