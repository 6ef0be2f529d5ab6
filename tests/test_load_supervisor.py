"""The supervisor between pytest and a load engine, and the sweep of stale engine folders."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_tempo.load.process import (
    FOLDER_PREFIXES,
    SUPERVISOR,
    engine_folder,
    folder_owner,
    group_alive,
    run_in_group,
    stale_folders,
    sweep_stale,
)

from .conftest import xdist_params
from .load_server import command_line, kernel_threads, processes_mentioning

if TYPE_CHECKING:
    from pathlib import Path

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux: /proc")


def dead_pid() -> int:
    """The pid of a process that has just ended (and was reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# --- folder names and the sweep ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "owner"),
    [
        ("tempo-k6-4242-ab_c9", 4242),
        ("tempo-locust-1-x", 1),
        ("tempo-k6-0-x", None),  # no process 0
        ("tempo-k6-abc-x", None),
        ("tempo-k6--x", None),
        ("tempo-k6-4242", None),  # the old, pid-less names are not ours to judge
        ("tempo-k6-12345678901-x", None),  # more digits than any pid
        ("tempo-k6-42-x/..", None),
        ("pytest-of-me", None),
    ],
)
def test_folder_owner(name: str, owner: int | None) -> None:
    assert folder_owner(name) == owner


@given(
    st.lists(
        st.one_of(
            st.tuples(st.sampled_from(FOLDER_PREFIXES), st.integers(1, 99999), st.text("ab1_"))
            .filter(lambda t: t[2])
            .map(lambda t: f"{t[0]}{t[1]}-{t[2]}"),
            st.text(max_size=20),
        )
    ),
    st.sets(st.integers(1, 99999)),
)
def test_stale_folders_are_ours_with_a_dead_owner(names: list[str], alive: set[int]) -> None:
    stale = stale_folders(names, alive.__contains__)
    assert stale == sorted(stale)
    for name in names:
        owner = folder_owner(name)
        assert (name in stale) == (owner is not None and owner not in alive)


@linux_only
def test_sweep_removes_only_folders_of_dead_processes(tmp_path: Path) -> None:
    dead = dead_pid()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("x")
    base = tmp_path / "tmp"
    base.mkdir()
    stale = [f"tempo-k6-{dead}-abc", f"tempo-locust-{dead}-q_1"]
    for name in stale:
        (base / name).mkdir()
        (base / name / "summary.json").write_text("{}")
        os.symlink(outside, base / name / "link")  # removed as a link, not followed
    kept = [
        f"tempo-k6-{os.getpid()}-live",  # a live run
        "tempo-k6-1-init",  # process 1 lives
        "tempo-k6-abc-x",
        "tempo-k6-0-x",
        "tempo-k6-99999999999-x",
        "unrelated",
    ]
    for name in kept:
        (base / name).mkdir()
    (base / f"tempo-k6-{dead}-file").write_text("not a folder")
    os.symlink(outside, base / f"tempo-locust-{dead}-link")
    removed = sweep_stale(str(base))
    assert removed == sorted(stale)
    assert sorted(p.name for p in base.iterdir()) == sorted(
        [*kept, f"tempo-k6-{dead}-file", f"tempo-locust-{dead}-link"]
    )
    assert (outside / "keep.txt").read_text() == "x"
    assert sweep_stale(str(tmp_path / "missing")) == []


@linux_only
@xdist_params
def test_a_run_sweeps_stale_folders_at_its_start(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, xdist_args: list[str]
) -> None:
    base = pytester.path / "tmp"
    base.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(base))
    dead = dead_pid()
    (base / f"tempo-k6-{dead}-x").mkdir()
    (base / f"tempo-k6-{os.getpid()}-x").mkdir()
    pytester.makepyfile("def test_x(): pass")
    pytester.runpytest(*xdist_args).assert_outcomes(passed=1)
    assert [p.name for p in base.iterdir()] == [f"tempo-k6-{os.getpid()}-x"]


def test_engine_folder_is_named_after_this_process() -> None:
    with engine_folder("tempo-k6-") as path:
        assert path.is_dir()
        assert folder_owner(path.name) == os.getpid()
    assert not path.exists()


# --- the supervisor ---------------------------------------------------------------------------

OWNER = """\
import sys
from pathlib import Path
from pytest_tempo.load.process import engine_folder, run_in_group

with engine_folder("tempo-k6-") as folder:
    print(folder, flush=True)
    # an engine that would run for a minute
    run_in_group(
        [sys.executable, "-c", "import time; time.sleep(60)", "chaos-engine-" + sys.argv[1]],
        timeout=120,
        owned=folder,
    )
"""


def _engines(tag: str) -> list[int]:
    """The running engines of ``tag``: not the supervisor, nor its child before the exec."""
    return processes_mentioning(f"chaos-engine-{tag}", without="_supervisor.py")


@linux_only
@pytest.mark.parametrize("how", ["sigkill", "sigkill-group", "sigterm-no-handler"])
def test_engine_and_folder_go_when_the_owner_dies(
    tmp_path: Path, how: str, request: pytest.FixtureRequest
) -> None:
    tag = f"{request.node.name}-{os.getpid()}"
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, tag],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert owner.stdout is not None
    folder = owner.stdout.readline().strip()
    deadline = time.monotonic() + 30
    # The supervisor's command line names the engine's too: wait for the engine itself.
    while not (engines := _engines(tag)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(engines) == 1
    if how == "sigkill":
        owner.kill()
    elif how == "sigkill-group":
        os.killpg(owner.pid, signal.SIGKILL)
    else:  # a plain Python process: SIGTERM kills it without any clean-up of its own
        owner.terminate()
    owner.wait()
    owner.stdout.close()
    deadline = time.monotonic() + 30
    while (processes_mentioning(f"chaos-engine-{tag}") or os.path.exists(folder)) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.02)
    assert processes_mentioning(f"chaos-engine-{tag}") == []
    assert not os.path.exists(folder)
    assert not group_alive(engines[0])


@linux_only
def test_engine_dies_with_a_killed_supervisor(tmp_path: Path) -> None:
    tag = f"supervisor-{os.getpid()}"
    supervisor = subprocess.Popen(
        [sys.executable, "-I", SUPERVISOR, "--owner", str(os.getpid()), "--",
         sys.executable, "-c", "import time; time.sleep(60)", tag],
        stdin=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not processes_mentioning(tag, without="_supervisor.py") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert processes_mentioning(tag, without="_supervisor.py")
    supervisor.kill()  # no clean-up of its own: the kernel's parent-death signal acts
    supervisor.wait()
    assert supervisor.stdin is not None
    supervisor.stdin.close()
    deadline = time.monotonic() + 10
    while processes_mentioning(tag) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert processes_mentioning(tag) == []


@linux_only
def test_parent_death_signal_is_available() -> None:
    code = (
        "import signal\n"
        "from pytest_tempo.load._supervisor import set_parent_death_signal\n"
        "print(set_parent_death_signal(signal.SIGTERM))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)  # fmt: skip
    assert done.stdout.strip() == "True"


def test_status_carries_exit_codes_and_signals() -> None:
    done = run_in_group([sys.executable, "-c", "import sys; sys.exit(7)"], timeout=30)
    assert done.returncode == 7
    assert done.pgid > 0
    killed = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    assert run_in_group([sys.executable, "-c", killed], timeout=30).returncode == -9
    with pytest.raises(FileNotFoundError, match="no-such-engine"):
        run_in_group([str(os.path.join(os.sep, "no-such-engine"))], timeout=30)


@linux_only
def test_command_lines_are_read_of_live_processes_only() -> None:
    """The leftover check's reading: a live process's arguments; nothing for a zombie or a
    kernel thread (whose command line is always empty, so it is never waited for)."""
    live = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()", "marker-x"],
                            stdin=subprocess.PIPE)  # fmt: skip
    zombie = subprocess.Popen([sys.executable, "-c", "pass", "marker-z"])
    try:
        deadline = time.monotonic() + 30
        while (line := command_line(live.pid)) is not None and b"marker-x" not in line:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert line is not None
        assert line.split(b"\0")[-2:] == [b"marker-x", b""]
        os.waitid(os.P_PID, zombie.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped
        assert command_line(zombie.pid) is None
        assert command_line(dead_pid()) is None
        for pid in kernel_threads()[:3]:  # their command line is empty, never filled in
            assert command_line(pid) is None
    finally:
        assert live.stdin is not None
        live.stdin.close()
        live.wait()
        zombie.wait()
