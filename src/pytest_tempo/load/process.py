"""Run a load engine under a supervisor, with a hard time limit: nothing outlives pytest.

pytest never starts k6 or the Locust child itself. It starts a small supervisor
(:mod:`pytest_tempo.load._supervisor`) in a session of its own, holding one end of a pipe;
the supervisor starts the engine in another session and stops the engine's whole process
group (SIGTERM, then SIGKILL after :data:`GRACE` seconds) when

- pytest asks it to: a timeout, Ctrl-C, SIGTERM or SIGHUP (see :mod:`pytest_tempo.signals`),
  or any error in pytest; pytest then reads what the engine wrote and removes its folder;
- pytest is gone, however it died (SIGKILL, a crashed xdist worker, a killed process group):
  the kernel closes the pipe; the supervisor then also removes the engine's temporary folder.

When the engine exits on its own, whatever it left running in its group (Locust's worker
processes) is stopped too. Temporary folders carry the pid of the pytest process that made
them (``tempo-k6-PID-*``, ``tempo-locust-PID-*``); :func:`sweep_stale` removes those whose
process is gone, should a supervisor have been killed as well.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .hooks import FOLDER_PREFIXES

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

__all__ = [
    "FOLDER_PREFIXES",
    "Completed",
    "engine_folder",
    "group_alive",
    "run_in_group",
    "stale_folders",
    "sweep_stale",
    "tail",
]

#: Seconds between SIGTERM and SIGKILL.
GRACE = 3.0
SUPERVISOR = str(Path(__file__).with_name("_supervisor.py"))

_FOLDER = re.compile(r"^(?:tempo-k6-|tempo-locust-)([1-9][0-9]{0,9})-[A-Za-z0-9_]+$")


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


def folder_owner(name: str) -> int | None:
    """The pid in an engine folder's name (``tempo-k6-4242-abc``), None if it is not one."""
    match = _FOLDER.match(name)
    return int(match.group(1)) if match else None


def stale_folders(names: Iterable[str], alive: Callable[[int], bool]) -> list[str]:
    """The engine folders among ``names`` whose owner process is not ``alive``."""
    stale = []
    for name in names:
        owner = folder_owner(name)
        if owner is not None and not alive(owner):
            stale.append(name)
    return sorted(stale)


def group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` is alive (the supervisor's check, which loads
    ctypes: imported only when an engine runs)."""
    from ._supervisor import group_alive as alive

    return alive(pgid)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (a zombie counts: it has not been reaped yet)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process; or not a pid at all
        return True
    return True


def sweep_stale(folder: str | None = None) -> list[str]:
    """Remove the engine folders in ``folder`` (the temp dir) of processes that are gone.

    Left behind only when a supervisor was killed too. Returns the names removed. On Windows
    nothing is swept (there ``os.kill`` would end the process it asks about).
    """
    if sys.platform == "win32":  # pragma: no cover - os.kill(pid, 0) terminates there
        return []
    base = Path(folder or tempfile.gettempdir())
    try:
        names = [entry.name for entry in os.scandir(base)
                 if entry.name.startswith(FOLDER_PREFIXES)
                 and entry.is_dir(follow_symlinks=False)]  # fmt: skip
    except OSError:
        return []
    removed = []
    for name in stale_folders(names, pid_alive):
        shutil.rmtree(base / name, ignore_errors=True)
        if not (base / name).exists():
            removed.append(name)
    return removed


@contextlib.contextmanager
def engine_folder(prefix: str) -> Iterator[Path]:
    """A temporary folder ``PREFIX + PID + "-..."`` for one engine run, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _ask_stop(proc: subprocess.Popen[bytes]) -> None:
    """Ask the supervisor to stop the engine; kill the supervisor if it does not end."""
    stdin = proc.stdin
    if stdin is not None:
        with contextlib.suppress(OSError, ValueError):
            stdin.write(b"stop\n")
            stdin.flush()
    try:
        proc.wait(timeout=2 * GRACE + 10)
    except subprocess.TimeoutExpired:  # pragma: no cover - a supervisor that hangs
        # Its end kills the engine too (parent-death signal) and closes nothing we need.
        proc.kill()
        proc.wait()


def _read_status(fd: int) -> dict[str, str]:
    chunks = []
    with contextlib.suppress(OSError):
        while True:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            chunks.append(chunk)
    os.close(fd)
    status: dict[str, str] = {}
    for line in b"".join(chunks).decode("utf-8", "replace").splitlines():
        key, _, value = line.partition(" ")
        status[key] = value
    return status


def _direct(  # pragma: no cover - Windows: no supervisor, best effort
    command: Sequence[str],
    timeout: float,
    cwd: Path | str | None,
    env: dict[str, str] | None,
    out: int,
    err: int,
) -> tuple[int, bool, int]:
    flags = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
    proc = subprocess.Popen(list(command), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=out, stderr=err, creationflags=flags)  # fmt: skip
    try:
        proc.wait(timeout=timeout)
        return proc.returncode, False, proc.pid
    except BaseException as exc:
        proc.terminate()
        try:
            proc.wait(timeout=GRACE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if isinstance(exc, subprocess.TimeoutExpired):
            return proc.returncode, True, proc.pid
        raise


def run_in_group(
    command: Sequence[str],
    *,
    timeout: float,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    owned: Path | str | None = None,
) -> Completed:
    """Run ``command`` in a new session (its own process group) for at most ``timeout`` s.

    ``owned``: the engine's temporary folder, removed by the supervisor if pytest dies.
    """
    environ = dict(env) if env is not None else None
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        if sys.platform == "win32":  # pragma: no cover
            code, timed_out, pgid = _direct(command, timeout, cwd, environ, out.fileno(),
                                            err.fileno())  # fmt: skip
        else:
            code, timed_out, pgid = _supervised(
                command, timeout, cwd, environ, owned, out.fileno(), err.fileno()
            )
        seconds = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    return Completed(
        command=tuple(command),
        returncode=code,
        stdout=stdout,
        stderr=stderr,
        timed_out=timed_out,
        seconds=seconds,
        pgid=pgid,
    )


def _supervised(
    command: Sequence[str],
    timeout: float,
    cwd: Path | str | None,
    env: dict[str, str] | None,
    owned: Path | str | None,
    out: int,
    err: int,
) -> tuple[int, bool, int]:
    read_fd, write_fd = os.pipe()
    supervisor = [sys.executable, "-I", SUPERVISOR, "--owner", str(os.getpid()),
                  "--status-fd", str(write_fd), "--grace", str(GRACE)]  # fmt: skip
    if owned is not None:
        supervisor += ["--remove", str(owned)]
    try:
        proc = subprocess.Popen(
            [*supervisor, "--", *command],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=err,
            pass_fds=(write_fd,),
            start_new_session=True,
        )
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _ask_stop(proc)
    except BaseException:
        # Ctrl-C, SIGTERM or an error in the parent: no child may outlive it.
        _ask_stop(proc)
        raise
    finally:
        if proc.returncode is None:  # interrupted again while stopping: the supervisor
            os.close(read_fd)  # finishes the stop on its own
        elif proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
    status = _read_status(read_fd)
    if "error" in status:
        number, _, message = status["error"].partition(" ")
        raise OSError(int(number or 0), f"{message}: {command[0]!r}")
    pgid = int(status.get("pgid", "0") or 0)
    code = int(status["exit"]) if "exit" in status else proc.returncode
    return code, timed_out, pgid
