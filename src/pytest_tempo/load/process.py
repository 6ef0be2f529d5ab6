"""Run a load engine as a child in its own process group, with a hard time limit.

On a timeout, on Ctrl-C, or on any error in the parent the whole group is stopped: first
SIGTERM (k6 and Locust then write their results), then SIGKILL after a grace period. When the
child exits on its own, whatever it left running in its group (Locust's worker processes)
is killed too, so no process outlives the test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

__all__ = ["Completed", "group_alive", "run_in_group", "tail"]

#: Seconds between SIGTERM and SIGKILL.
GRACE = 3.0


@dataclass(frozen=True)
class Completed:
    """How a child ended: its exit code (negative: killed by that signal), output tails."""

    command: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool
    seconds: float
    pgid: int


def tail(text: str, lines: int = 20) -> str:
    """The last ``lines`` lines of ``text``."""
    return "\n".join(text.rstrip().splitlines()[-lines:])


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


def _stop_group(proc: subprocess.Popen[bytes], pgid: int) -> None:
    """SIGTERM the group, then SIGKILL what is left after :data:`GRACE` seconds."""
    _signal_group(pgid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=GRACE)
    deadline = time.monotonic() + GRACE
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    _signal_group(pgid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + GRACE
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.01)


def run_in_group(
    command: Sequence[str],
    *,
    timeout: float,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
) -> Completed:
    """Run ``command`` in a new session (its own process group) for at most ``timeout`` s."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        start = time.monotonic()
        proc = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        pgid = proc.pid
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _stop_group(proc, pgid)
        except BaseException:
            # Ctrl-C or an error in the parent: no child may outlive it.
            _stop_group(proc, pgid)
            raise
        else:
            # The leader is gone; anything it left in its group goes too.
            if group_alive(pgid):
                _stop_group(proc, pgid)
        seconds = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    return Completed(
        command=tuple(command),
        returncode=proc.returncode,
        stdout=stdout,
        stderr=stderr,
        timed_out=timed_out,
        seconds=seconds,
        pgid=pgid,
    )
