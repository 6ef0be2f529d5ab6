from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from pytest_tempo.signals import HANDLED, SignalPlugin, Terminated, exit_status

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


def test_handler_raises_once_then_ignores_repeats() -> None:
    plugin = SignalPlugin()
    with pytest.raises(Terminated, match=r"SIGTERM received: .* exit status 143") as info:
        plugin._handle(signal.SIGTERM, None)
    assert isinstance(info.value, KeyboardInterrupt)
    assert info.value.signum == signal.SIGTERM
    assert plugin.received == signal.SIGTERM
    plugin._handle(signal.SIGTERM, None)  # during the clean-up: ignored
    assert plugin.received == signal.SIGTERM


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
    open("started-" + os.environ.get("PYTEST_XDIST_WORKER", "main") + f"-{n}", "w").close()
    time.sleep(60)
"""


def _start(path: Path, args: list[str]) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "pytest", "-p", "no:locust", "-p", "no:randomly", *args]
    return subprocess.Popen(
        command, cwd=path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip


def _wait_for(path: Path, pattern: str, count: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while len(list(path.glob(pattern))) < count:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the run did not get going:\n{proc.communicate()[0]}")
        time.sleep(0.02)


@posix_only
@xdist_params
def test_sigterm_tears_down_and_writes_the_durations_store(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    pytester.makepyfile(test_project=PROJECT)
    with _start(pytester.path, xdist_args) as proc:
        # every worker in a test that waits, the fast test done
        _wait_for(pytester.path, "started-*", 2 if xdist_args else 1, proc)
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, output
    assert "SIGTERM received: the run stops after its clean-up, exit status 143" in output
    # the fixtures of the interrupted tests were torn down, on every worker
    started = {p.name.split("-")[1] for p in pytester.path.glob("started-*")}
    torn = {p.name.split("-")[1] for p in pytester.path.glob("teardown-*")}
    assert torn == started
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
        _wait_for(pytester.path, "started-*", 1, proc)
        proc.send_signal(sig)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == code, output
