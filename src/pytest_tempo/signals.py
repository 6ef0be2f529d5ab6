"""SIGTERM and SIGHUP end a run the way Ctrl-C does: clean-up first, then the usual status.

Python's default for SIGTERM and SIGHUP is to die on the spot: no fixture teardown, no
``pytest_sessionfinish`` (so no durations store, no reports), and nothing that stops what the
tests started. That is what ``timeout``, ``docker stop``, a cancelled CI job and a closed
terminal send. The plugin therefore installs a handler in every pytest process (the
controller and each xdist worker) that raises :class:`Terminated`, a ``KeyboardInterrupt``:
pytest then stops the test that runs, tears the fixtures down and finishes the session as
after Ctrl-C, and the process exits with the conventional status ``128 + signal`` (143 for
SIGTERM, 129 for SIGHUP).

- A handler is installed only where the signal still has Python's default: a handler of the
  user's (or ``nohup``'s SIG_IGN) is left alone. It is installed from the main thread only.
- The previous handler comes back at ``pytest_unconfigure``.
- The controller passes the signal on to its xdist workers, so their tests stop at once too.
- During the clean-up a repeated signal is ignored, and so is SIGINT: pytest-xdist sends its
  workers SIGINT when they take more than 5 s to end, which would cut their teardown short.
  SIGKILL stays the way to stop at once.
- The plugin's own threads (the durations journal's writer, the Redis owner's heartbeat, the
  load watch) block SIGTERM, SIGHUP and SIGINT (:func:`start_thread`). The kernel hands a
  signal sent to the process to any thread that does not block it, and Python runs the
  handler only when the main thread next runs Python code: a signal taken by a helper thread
  would leave a test in ``time.sleep(60)`` sleeping for the rest of the minute.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import TYPE_CHECKING, Any

import pytest

from ._hooks import HookObject

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType

__all__ = ["HANDLED", "SignalPlugin", "Terminated", "exit_status", "start_thread"]

#: The signals handled, by name (SIGHUP does not exist on Windows).
HANDLED = ("SIGTERM", "SIGHUP")
#: What the plugin's threads block: every signal that ends a run, so the main thread gets it.
THREAD_BLOCKED = frozenset(
    getattr(signal, name) for name in ("SIGINT", *HANDLED) if hasattr(signal, name)
)


def start_thread(target: Callable[[], object], name: str) -> threading.Thread:
    """Start a daemon thread that blocks the signals ending a run (see the module's doc).

    The mask is set in the starting thread around ``start()``, so the new thread has it
    from its first instruction; a signal arriving meanwhile waits, pending, for the main
    thread. Where there are no signal masks (Windows), a plain daemon thread.
    """
    thread = threading.Thread(target=target, name=name, daemon=True)
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - Windows
        thread.start()
        return thread
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, THREAD_BLOCKED)
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return thread


class Terminated(KeyboardInterrupt):
    """Raised in the main thread by SIGTERM or SIGHUP; pytest treats it as Ctrl-C."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        name = signal.Signals(signum).name
        super().__init__(
            f"{name} received: the run stops after its clean-up, exit status {exit_status(signum)}"
        )


def exit_status(signum: int) -> int:
    """The conventional exit status of a process ended by ``signum``: 128 + its number."""
    return 128 + signum


def _worker_key(node: Any) -> str:
    return str(getattr(getattr(node, "gateway", None), "id", id(node)))


def _worker_pid(node: Any) -> int | None:
    # execnet's popen gateway keeps its subprocess.Popen as ``gateway._io.popen``
    # (execnet/gateway_io.py, Popen2IOMaster); xdist has no public way to a worker's pid.
    popen = getattr(getattr(getattr(node, "gateway", None), "_io", None), "popen", None)
    pid = getattr(popen, "pid", None)
    return pid if isinstance(pid, int) else None


class SignalPlugin(HookObject):
    """Installs the handlers at configure time and restores the previous ones at the end."""

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}
        self._received: int | None = None
        self._workers: dict[str, int] = {}
        self._sigint: Any = None

    @property
    def received(self) -> int | None:
        """The signal that ended the run, if one did."""
        return self._received

    @property
    def installed(self) -> tuple[int, ...]:
        return tuple(self._previous)

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal.signal works in the main thread only
        for name in HANDLED:
            signum = getattr(signal, name, None)
            if signum is None:  # pragma: no cover - Windows has no SIGHUP
                continue
            if signal.getsignal(signum) is not signal.SIG_DFL:
                continue  # the user's handler (or an inherited SIG_IGN) stays
            self._previous[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        for signum, previous in self._previous.items():
            # Put the old one back only if ours is still the one installed.
            if signal.getsignal(signum) == self._handle:
                signal.signal(signum, previous)
        self._previous.clear()
        if self._sigint is not None and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            signal.signal(signal.SIGINT, self._sigint)
        self._sigint = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._received is not None:
            return  # already stopping
        self._received = signum
        # A signal handler runs in the main thread: signal.signal works here.
        self._sigint = signal.signal(signal.SIGINT, signal.SIG_IGN)
        for pid in self._workers.values():
            with contextlib.suppress(OSError):
                os.kill(pid, signum)
        raise Terminated(signum)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodeready(self, node: Any) -> None:
        pid = _worker_pid(node)
        if pid is not None:
            self._workers[_worker_key(node)] = pid

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        self._workers.pop(_worker_key(node), None)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # After every other plugin finished its work (the durations store included).
        if self._received is not None:
            session.exitstatus = exit_status(self._received)

    def pytest_unconfigure(self) -> None:
        self.restore()
