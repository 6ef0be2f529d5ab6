from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from pytest_tempo.signals import (
    HANDLED,
    THREAD_BLOCKED,
    SignalPlugin,
    Terminated,
    exit_status,
    start_thread,
)

from .childproc import default_signals
from .conftest import xdist_params

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM/SIGHUP are POSIX")

SIGNALS = [getattr(signal, name) for name in HANDLED if hasattr(signal, name)]


@pytest.fixture
def default_handlers() -> Iterator[None]:
    """SIGTERM and SIGHUP at Python's default for the test, the outer run's handlers after."""
    saved = {sig: signal.getsignal(sig) for sig in SIGNALS}
    for sig in SIGNALS:
        signal.signal(sig, signal.SIG_DFL)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


# --- the plugin object ------------------------------------------------------------------------


def test_exit_status_is_128_plus_the_signal() -> None:
    assert exit_status(signal.SIGTERM) == 143
    assert exit_status(2) == 130


@posix_only
@pytest.mark.usefixtures("default_handlers")
def test_installs_where_default_and_restores() -> None:
    plugin = SignalPlugin()
    plugin.install()
    assert set(plugin.installed) == set(SIGNALS)
    assert all(signal.getsignal(sig) == plugin._handle for sig in SIGNALS)
    plugin.restore()
    assert all(signal.getsignal(sig) is signal.SIG_DFL for sig in SIGNALS)


@posix_only
@pytest.mark.usefixtures("default_handlers")
def test_a_handler_of_the_users_or_sig_ign_stays() -> None:
    def mine(signum: int, frame: Any) -> None:
        raise AssertionError("not called")

    signal.signal(signal.SIGTERM, mine)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    plugin = SignalPlugin()
    plugin.install()
    assert plugin.installed == ()
    plugin.restore()
    assert signal.getsignal(signal.SIGTERM) is mine
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN


@posix_only
@pytest.mark.usefixtures("default_handlers")
def test_restore_leaves_a_handler_installed_later() -> None:
    plugin = SignalPlugin()
    plugin.install()
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    plugin.restore()
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@posix_only
@pytest.mark.usefixtures("default_handlers")
def test_not_installed_from_another_thread() -> None:
    plugin = SignalPlugin()
    thread = threading.Thread(target=plugin.install)
    thread.start()
    thread.join()
    assert plugin.installed == ()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_handler_raises_once_then_ignores_repeats_and_sigint() -> None:
    sigint = signal.getsignal(signal.SIGINT)
    plugin = SignalPlugin()
    try:
        with pytest.raises(Terminated, match=r"SIGTERM received: .* exit status 143") as info:
            plugin._handle(signal.SIGTERM, None)
        assert isinstance(info.value, KeyboardInterrupt)
        assert info.value.signum == signal.SIGTERM
        assert plugin.received == signal.SIGTERM
        plugin._handle(signal.SIGTERM, None)  # during the clean-up: ignored
        assert plugin.received == signal.SIGTERM
        # xdist's SIGINT to slow workers would cut their teardown short
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        plugin.restore()
        assert signal.getsignal(signal.SIGINT) is sigint
    finally:
        signal.signal(signal.SIGINT, sigint)


@posix_only
def test_the_plugins_threads_block_the_signals_that_end_a_run() -> None:
    """So a signal sent to the process goes to the main thread, and wakes a sleeping test."""
    seen: list[set[int]] = []
    thread = start_thread(lambda: seen.append(set(signal.pthread_sigmask(signal.SIG_BLOCK, []))),
                          "tempo-test")  # fmt: skip
    thread.join(30)
    assert thread.daemon
    ending = {signal.SIGTERM, signal.SIGHUP, signal.SIGINT}
    assert seen
    assert seen[0] >= ending
    assert ending == THREAD_BLOCKED
    # the starting thread's own mask is as it was
    assert not set(signal.pthread_sigmask(signal.SIG_BLOCK, [])) & THREAD_BLOCKED


THREAD_MASKS = """\
import pathlib, signal, threading

def test_first():
    pass

def test_threads_of_the_run():
    found = {t.name: t.native_id for t in threading.enumerate() if t.name.startswith("tempo-")}
    assert "tempo-journal" in found  # the durations journal's writer, started by test_first
    for name, tid in found.items():
        status = pathlib.Path(f"/proc/self/task/{tid}/status").read_text()
        mask = int(next(x for x in status.splitlines() if x.startswith("SigBlk:")).split()[1], 16)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            assert mask >> (sig - 1) & 1, (name, sig)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/task")
def test_a_runs_journal_thread_leaves_the_signals_to_the_main_thread(
    pytester: pytest.Pytester,
) -> None:
    """The thread that took SIGTERM once left a test in time.sleep(60) for the full minute."""
    pytester.makepyfile(test_masks=THREAD_MASKS)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2)


# --- real signals to real pytest processes ----------------------------------------------------

PROJECT = """\
import os, time, pytest

@pytest.fixture
def resource():
    yield
    with open("teardown-" + os.environ.get("PYTEST_XDIST_WORKER", "main"), "w") as f:
        f.write("done")

def test_fast():
    pass

@pytest.mark.parametrize("n", [1, 2])
def test_waits(resource, n):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    try:
        open(f"started-{worker}-{n}", "w").close()
        time.sleep(60)
    except BaseException as exc:
        with open(f"stopped-{worker}", "w") as f:
            f.write(type(exc).__name__)
        raise
"""


def _start(path: Path, args: list[str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "pytest", "-v", "-p", "no:locust", "-p", "no:randomly", *args]
    with open(path / "run.log", "wb") as log:
        return subprocess.Popen(
            command,
            cwd=path,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=default_signals,  # noqa: PLW1509 - only signal.signal in the child
        )


def _wait_for(path: Path, pattern: str, proc: subprocess.Popen[bytes], passed: str = "") -> None:
    """Until a file matching ``pattern`` exists and the output says test ``passed`` passed."""
    deadline = time.monotonic() + 60
    lines = (f"{passed} PASSED", f"PASSED {passed}")  # without xdist, with it
    while not (list(path.glob(pattern)) and (not passed or any(x in _output(path) for x in lines))):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            pytest.fail(f"the run did not get going:\n{_output(path)}")
        time.sleep(0.02)


def _output(path: Path) -> str:
    return (path / "run.log").read_text(errors="replace")


@posix_only
@xdist_params
def test_sigterm_tears_down_and_writes_the_durations_store(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    pytester.makepyfile(test_project=PROJECT)
    with _start(pytester.path, xdist_args) as proc:
        # a test that waits has started; the fast one is done (on the controller: printed
        # after the durations were recorded)
        _wait_for(pytester.path, "started-*", proc, "test_project.py::test_fast")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    output = _output(pytester.path)
    assert proc.returncode == 143, output
    assert "SIGTERM received: the run stops after its clean-up, exit status 143" in output
    # the fixtures of the interrupted tests were torn down, on every worker (a worker may
    # also have been stopped in a fixture's set-up, before its test started)
    started = {p.name.split("-")[1] for p in pytester.path.glob("started-*")}
    torn = {p.name.split("-")[1] for p in pytester.path.glob("teardown-*")}
    assert started
    assert torn >= started
    # each test was stopped by the signal itself (under xdist: passed on by the controller),
    # not by pytest-xdist's own SIGINT to workers that do not stop in time
    stopped = {p.name.split("-")[1]: p.read_text() for p in pytester.path.glob("stopped-*")}
    assert stopped == dict.fromkeys(started, "Terminated")
    # pytest_sessionfinish ran: the durations store has the test that finished
    store = pytester.path / ".pytest_cache" / "v" / "tempo" / "durations"
    assert "test_project.py::test_fast" in json.loads(store.read_text())["tests"]


@posix_only
@pytest.mark.parametrize(
    ("setup", "args", "sig", "code"),
    [
        ("", [], signal.SIGHUP, 129),
        # the user's own handler is kept
        (
            "import os, signal\nsignal.signal(signal.SIGTERM, lambda *a: os._exit(7))\n",
            [],
            signal.SIGTERM,
            7,
        ),
        # the feature switched off: Python's default, death by the signal
        ("", ["-p", "no:tempo-signals"], signal.SIGTERM, -signal.SIGTERM),
    ],
    ids=["sighup", "user-handler", "switched-off"],
)
def test_exit_status_by_signal_and_handler(
    pytester: pytest.Pytester, setup: str, args: list[str], sig: int, code: int
) -> None:
    pytester.makeconftest(setup)
    pytester.makepyfile(test_project=PROJECT)
    with _start(pytester.path, [*args, "-k", "test_waits and 1"]) as proc:
        _wait_for(pytester.path, "started-*", proc)
        proc.send_signal(sig)
        proc.wait(timeout=60)
    assert proc.returncode == code, _output(pytester.path)
