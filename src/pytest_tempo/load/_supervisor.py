"""The supervisor between pytest and a load engine: the engine never outlives pytest.

``python -I .../_supervisor.py --owner PID --status-fd FD [--grace S] [--remove DIR]... --
COMMAND...``. Standard library only, run in isolated mode so nothing of the project (its
``sys.path``, a module shadowing the standard library) reaches it.

pytest starts the supervisor in a session of its own with a pipe on its standard input,
whose other end only pytest holds. The supervisor starts the engine (k6, or the Locust child)
in another new session and then waits for one of:

- the engine exits: whatever it left in its process group (Locust's worker processes) is
  stopped, and the supervisor exits;
- ``stop`` on the pipe (a timeout, Ctrl-C, SIGTERM or an error in pytest): the engine's group
  gets SIGTERM, then SIGKILL after the grace period; the engine's temporary folder is left
  for pytest, which reads what the engine wrote and removes it;
- end of file on the pipe without ``stop``, or SIGTERM/SIGHUP/SIGINT: pytest is gone, however
  it died (SIGKILL included, since the kernel closes a dead process's pipes). The engine's
  group is stopped the same way and the folders given with ``--remove`` are deleted.

On Linux the kernel backs this up with parent-death signals: the supervisor gets SIGTERM
when pytest dies and the engine gets SIGKILL when the supervisor dies (even by SIGKILL).

On the status descriptor it writes ``pgid N`` once the engine runs and ``exit CODE`` (a
negative code: killed by that signal) when it is gone, or ``error ERRNO MESSAGE`` when the
engine could not be started.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = [
    "group_alive",
    "parent_death_signal",
    "set_parent_death_signal",
    "stop_group",
]

#: ``PR_SET_PDEATHSIG`` from ``<linux/prctl.h>``.
_PR_SET_PDEATHSIG = 1


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:  # pragma: no cover - a Linux without a loadable libc
        return None
    function: Callable[..., int] = libc.prctl
    return function


def set_parent_death_signal(sig: int, parent: int | None = None) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent dies (Linux only).

    Returns False where the kernel has no such thing. With ``parent``, a parent that died
    before the request (the process was then adopted) makes this process exit at once.
    The signal fires when the *thread* that started this process ends; pytest-tempo starts
    its children from a thread that waits for them.
    """
    prctl = _prctl()
    if prctl is None:
        return False
    if prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:  # pragma: no cover - a valid signal
        return False
    if parent is not None and os.getppid() != parent:
        os._exit(128 + sig)
    return True


def parent_death_signal(sig: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` that gives the child ``sig`` when the caller dies (None off Linux).

    libc is loaded here, before the fork; the child only calls into it.
    """
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:  # pragma: no cover - runs in the forked child
        prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(128 + sig)

    return preexec


def group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` still exists (zombies excepted)."""
    if sys.platform == "win32":  # pragma: no cover - process groups are POSIX
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a recycled id owned by someone else
        return False
    # killpg(0) also succeeds for zombies; look for a live member.
    proc = "/proc"
    if not os.path.isdir(proc):  # pragma: no cover - macOS: trust killpg
        return True
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(f"{proc}/{entry}/stat", encoding="utf-8", errors="replace") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_group(proc: subprocess.Popen[bytes], pgid: int, grace: float) -> None:
    """SIGTERM the group (k6 and Locust then write their results), SIGKILL what is left
    after ``grace`` seconds, and wait until no member is left."""
    if sys.platform == "win32":  # pragma: no cover - best effort without process groups
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return
    _signal_group(pgid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    deadline = time.monotonic() + grace
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    _signal_group(pgid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + grace
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.01)


class _Outcome:
    """The first of: the engine exited, pytest asked to stop, pytest is gone."""

    def __init__(self) -> None:
        self.reasons: list[str] = []
        self.event = threading.Event()

    def set(self, reason: str) -> None:
        self.reasons.append(reason)
        self.event.set()


def _watch_pipe(fd: int, owner: int, outcome: _Outcome) -> None:
    asked = False
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            chunk = b""
        if not chunk:
            # End of file: pytest closed the pipe, or died. After a stop request that is
            # normal, unless pytest was the one that went away.
            if not asked or (owner and os.getppid() != owner):
                outcome.set("owner")
            return
        if b"stop" in chunk and not asked:
            asked = True
            outcome.set("stop")


def _parse(argv: Sequence[str]) -> tuple[int, int, float, list[str], list[str]]:
    owner, status, grace = 0, -1, 3.0
    remove: list[str] = []
    args = list(argv)
    while args and args[0] != "--":
        flag = args.pop(0)
        value = args.pop(0)
        if flag == "--owner":
            owner = int(value)
        elif flag == "--status-fd":
            status = int(value)
        elif flag == "--grace":
            grace = float(value)
        elif flag == "--remove":
            remove.append(value)
        else:
            raise SystemExit(f"_supervisor: unknown flag {flag!r}")
    return owner, status, grace, remove, args[1:]


def main(argv: Sequence[str]) -> int:
    owner, status_fd, grace, remove, command = _parse(argv)
    outcome = _Outcome()
    signalled: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        # Only an append here: the main thread may hold the event's lock.
        signalled.append(signum)

    for name in ("SIGTERM", "SIGHUP", "SIGINT"):
        sig = getattr(signal, name, None)
        if sig is not None:
            signal.signal(sig, on_signal)
    if owner:
        set_parent_death_signal(signal.SIGTERM)
        if os.getppid() != owner:  # pytest died before the request took effect
            signalled.append(signal.SIGTERM)
    status = os.fdopen(status_fd, "w", buffering=1) if status_fd >= 0 else None

    def report(line: str) -> None:
        if status is not None:
            with contextlib.suppress(OSError):
                status.write(line + "\n")

    # Started before any thread: a preexec_fn is safe only in a single-threaded process.
    try:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=parent_death_signal(signal.SIGKILL),  # noqa: PLW1509
        )
    except OSError as exc:
        report(f"error {exc.errno or 0} {exc.strerror or exc}")
        return 127
    pgid = proc.pid
    report(f"pgid {pgid}")
    threading.Thread(target=_watch_pipe, args=(0, owner, outcome), daemon=True).start()

    def wait() -> None:
        proc.wait()
        outcome.set("exit")

    threading.Thread(target=wait, daemon=True).start()
    while not outcome.event.wait(0.05) and not signalled:
        pass
    if signalled:
        outcome.set("owner")
    # Whatever the reason, nothing of the engine's group is left when the supervisor ends.
    if outcome.reasons[0] != "exit" or group_alive(pgid):
        stop_group(proc, pgid, grace)
    proc.wait()
    if signalled or "owner" in outcome.reasons or (owner and os.getppid() != owner):
        for folder in remove:
            shutil.rmtree(folder, ignore_errors=True)
    report(f"exit {proc.returncode}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
