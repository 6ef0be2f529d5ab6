"""Chaos: kill a real ``pytest -n 2`` while k6 or Locust sends load, then look for leftovers.

Each test starts pytest in a session of its own on a small project whose two load tests hit
two local targets, waits for a point of the run chosen by a seeded random generator from what
the run shows (every engine running, then a random number of requests seen by the targets),
and kills it: SIGTERM of pytest, SIGKILL of its whole process group, or SIGKILL of one xdist
worker. Afterwards no process of the killed run may be left (its descendants and anything
naming its folders, by pid and start time from ``/proc``), the targets get no request any
more, no ``tempo-k6-*``/``tempo-locust-*`` folder is left in the run's temp dir, and a second
run of the same project passes. ``TEMPO_CHAOS_SEED`` changes the kill points.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from pytest_tempo.load.k6 import find_k6
from pytest_tempo.load.locust import locust_available
from pytest_tempo.load.process import FOLDER_PREFIXES

from .conftest import HAS_XDIST
from .load_server import Server, read_process

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)"),
    pytest.mark.skipif(not HAS_XDIST, reason="pytest-xdist is not installed"),
]

SEED = int(os.environ.get("TEMPO_CHAOS_SEED", "1313"))
MODES = ["sigterm", "sigkill-group", "sigkill-worker"]
#: Seconds for every process of the killed run to go (they take about one).
DEADLINE = 30.0
#: Seconds the targets are watched for a stray request once the killed run is gone.
QUIET = 0.5
#: Killed runs: the smoke profile at 40% (22 s): still running when the kill comes. The
#: run that loses one worker goes on with the other test, so it is shorter (20%, 11 s).
SCALE = {"sigterm": 0.4, "sigkill-group": 0.4, "sigkill-worker": 0.2}
#: The second run: 4% (2.2 s).
SECOND_SCALE = 0.04

K6 = find_k6()
LOCUST = locust_available()


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    start: int
    cmdline: str

    @property
    def key(self) -> tuple[int, int]:
        return self.pid, self.start


def processes() -> dict[int, Proc]:
    """Every live (non-zombie) process but this one, from ``/proc``."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        found = read_process(int(entry))
        if found is not None:
            fields, raw = found
            cmdline = raw.replace(b"\0", b" ").decode("utf-8", "replace")
            table[int(entry)] = Proc(int(entry), int(fields[1]), int(fields[19]), cmdline)
    return table


def family(table: dict[int, Proc], root: int) -> set[tuple[int, int]]:
    """``root`` and its descendants in ``table``."""
    children: dict[int, list[Proc]] = defaultdict(list)
    for proc in table.values():
        children[proc.ppid].append(proc)
    found: set[tuple[int, int]] = set()
    todo = [table[root]] if root in table else []
    while todo:
        proc = todo.pop()
        found.add(proc.key)
        todo.extend(children[proc.pid])
    return found


class Watch:
    """Every process of one pytest run: its descendants, and anything naming its folders."""

    def __init__(self, root: int, marks: tuple[str, ...]) -> None:
        self.root = root
        self.marks = marks
        self.seen: dict[tuple[int, int], str] = {}

    def poll(self) -> dict[int, Proc]:
        table = processes()
        for key in family(table, self.root):
            self.seen[key] = table[key[0]].cmdline
        for proc in table.values():
            if any(mark in proc.cmdline for mark in self.marks):
                self.seen[proc.key] = proc.cmdline
        return table

    def left(self) -> list[str]:
        table = self.poll()
        return [cmd for (pid, start), cmd in self.seen.items()
                if pid in table and table[pid].start == start]  # fmt: skip

    def wait_gone(self, deadline: float) -> list[str]:
        while True:
            left = self.left()
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.05)


def leftover_folders(tmpdir: Path) -> list[str]:
    return sorted(p.name for p in tmpdir.iterdir() if p.name.startswith(FOLDER_PREFIXES))


@pytest.fixture
def targets() -> Iterator[tuple[Server, Server]]:
    with Server() as a, Server() as b:
        yield a, b


K6_SCRIPT = """\
// tempo: stages
import http from 'k6/http';
import {{ sleep }} from 'k6';
export const options = {{ thresholds: {{ http_req_failed: ['rate<0.01'] }} }};
export default function () {{ http.get('{url}/'); sleep(0.05); }}
"""

LOCUSTFILE = """\
from locust import HttpUser, constant, task


class Web(HttpUser):
    wait_time = constant(0.05)

    @task
    def root(self):
        self.client.get("/")
"""

LOCUST_TESTS = """\
def test_one_process(load_test):
    load_test("locustfile.py:Web", host="{a}", thresholds={{"http_req_failed": ["rate<0.01"]}})


def test_two_processes(load_test):
    load_test(
        "locustfile.py:Web",
        host="{b}",
        processes=2,
        thresholds={{"http_req_failed": ["rate<0.01"]}},
    )
"""


def k6_project(path: Path, a: Server, b: Server) -> Callable[[Proc], bool]:
    (path / "a.k6.js").write_text(K6_SCRIPT.format(url=a.url))
    (path / "b.k6.js").write_text(K6_SCRIPT.format(url=b.url))
    project = str(path)

    def is_engine(proc: Proc) -> bool:
        return (
            " run " in proc.cmdline
            and f"{project}/" in proc.cmdline
            and "_supervisor.py" not in proc.cmdline
        )

    return is_engine


def locust_project(path: Path, a: Server, b: Server) -> Callable[[Proc], bool]:
    (path / "locustfile.py").write_text(LOCUSTFILE)
    (path / "test_load.py").write_text(textwrap.dedent(LOCUST_TESTS.format(a=a.url, b=b.url)))

    def is_engine(proc: Proc) -> bool:
        cmdline = proc.cmdline
        return (
            "_locust_child" in cmdline
            and "--worker" not in cmdline
            and "_supervisor.py" not in cmdline
        )

    return is_engine


def command(scale: float) -> list[str]:
    return [
        sys.executable, "-m", "pytest", "-n", "2", "-p", "no:locust", "-p", "no:randomly",
        "--load-profile=smoke", "--load-vus=2", f"--load-time-scale={scale}",
    ]  # fmt: skip


def supervised_by(table: dict[int, Proc]) -> dict[int, list[Proc]]:
    """The supervisors in ``table`` by the pid of the pytest process that owns them."""
    owners: dict[int, list[Proc]] = defaultdict(list)
    for proc in table.values():
        found = re.search(r"_supervisor\.py --owner (\d+)", proc.cmdline)
        if found:
            owners[int(found.group(1))].append(proc)
    return owners


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("engine", ["k6", "locust"])
def test_killed_run_leaves_nothing(
    pytester: pytest.Pytester,
    targets: tuple[Server, Server],
    engine: str,
    mode: str,
) -> None:
    if engine == "k6" and K6 is None:
        pytest.skip("k6 is not installed (the [load] extra)")
    if engine == "locust" and LOCUST is not None:
        pytest.skip(LOCUST)
    rng = random.Random(f"{SEED}-{engine}-{mode}")
    path = pytester.path
    tmpdir = path / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    make = k6_project if engine == "k6" else locust_project
    is_engine = make(path, *targets)
    log = path / "killed.log"
    began = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            command(SCALE[mode]), cwd=path, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    watch = Watch(proc.pid, (str(tmpdir), str(path) + "/"))
    killed: set[tuple[int, int]] = set()
    try:
        # The kill point: both engines run, then a random number of requests arrived.
        wanted = rng.randint(1, 40)
        deadline = time.monotonic() + 120
        while True:
            table = watch.poll()
            # Only this run's processes: other runs (and other suites) may share the machine.
            ours = family(table, proc.pid)
            engines = [p for p in table.values() if p.key in ours and is_engine(p)]
            hits = sum(t.requests for t in targets)
            if len(engines) >= 2 and hits >= wanted:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"no kill point reached ({len(engines)} engines, {hits} requests):\n"
                            + log.read_text(errors="replace"))  # fmt: skip
            time.sleep(0.02)
        killed_at = time.monotonic()
        if mode == "sigterm":
            proc.send_signal(signal.SIGTERM)
        elif mode == "sigkill-group":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            owners = supervised_by({p.pid: p for p in table.values() if p.key in ours})
            victim = rng.choice(sorted(owners))
            killed = family(table, victim)
            for supervisor in owners[victim]:
                killed |= family(table, supervisor.pid)
            os.kill(victim, signal.SIGKILL)
        # The run ends (at once, or after the other worker's test); meanwhile its processes
        # keep being recorded, and the killed worker's are timed.
        part_gone: float | None = None
        while proc.poll() is None and time.monotonic() < killed_at + 120:
            table = watch.poll()
            if killed and part_gone is None and not killed & {p.key for p in table.values()}:
                part_gone = time.monotonic() - killed_at
            time.sleep(0.05)
        proc.wait(timeout=30)
        left = watch.wait_gone(time.monotonic() + DEADLINE)
        gone = time.monotonic() - killed_at
        if killed and part_gone is None:
            part_gone = gone
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    output = log.read_text(errors="replace")
    assert left == [], output
    # No engine of the killed run sends anything any more.
    counts = [t.requests for t in targets]
    time.sleep(QUIET)
    assert [t.requests for t in targets] == counts
    last = max(t.last for t in targets) - killed_at
    assert leftover_folders(tmpdir) == []
    if mode == "sigterm":
        assert proc.returncode == 143, output
        assert "SIGTERM received" in output
    elif mode == "sigkill-group":
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == 1, output
        assert "crashed" in output, output
        assert part_gone is not None
    killed_after = killed_at - began
    # A second run of the same project passes and leaves nothing either.
    second_began = time.monotonic()
    second = subprocess.run(
        command(SECOND_SCALE),
        cwd=path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert "2 passed" in second.stdout
    assert leftover_folders(tmpdir) == []
    assert watch.left() == []
    print(f"chaos: {engine} {mode} requests-before-kill>={wanted} killed-after={killed_after:.1f}s "
          f"exit={proc.returncode} all-gone={gone:.2f}s worker-part-gone={part_gone or 0:.2f}s "
          f"last-request={last:+.2f}s second-run={time.monotonic() - second_began:.1f}s "
          f"leftovers=0")  # fmt: skip
