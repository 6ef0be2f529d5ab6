"""The child process that runs Locust for the ``load_test`` fixture.

``python -m pytest_tempo.load._locust_child SPEC.json``. This is the only module of
pytest-tempo that imports Locust, and it only ever runs in a child process: importing Locust
monkey-patches the whole process with gevent.

A run is a sequence of named steps, each small enough to test on its own:
:func:`load_classes` picks the User classes (:func:`pick_classes`, :func:`host_problem`),
:func:`start_runner` makes a local runner, or a Locust master that waits
(:func:`wait_for_workers`) for ``processes`` worker processes it starts in its process group
and for ``external`` workers started elsewhere (``load_test(..., workers=N)``), :class:`Drive`
moves the user count along the profile's stages (checked every 50 ms, finer than Locust's
one-second shape ticks), samples it into a history and evaluates ``abortOnFail`` thresholds
while running, and :func:`finish` stops Locust. Everything the parent needs goes to a JSON
file, rewritten every second: the raw per-entry statistics with their response-time
histograms, the history, the elapsed time and any abort or error.

``python -m pytest_tempo.load._locust_child --worker PARENT LOCUST-ARGS...`` runs one of those
workers: Locust's own command line, after asking the kernel (Linux) to kill the worker when
its master dies, whatever kills the master.
"""

from __future__ import annotations

import importlib
import json
import os
import runpy
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

TICK = 0.05
SNAPSHOT_EVERY = 1.0
ABORT_CHECK_EVERY = 0.25
#: Seconds the local worker processes (``processes`` above 1) have to join their master.
LOCAL_WORKERS_WAIT = 30.0
#: The exit code of a run that could not start (the error is in the result file).
NOT_STARTED = 3


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def new_result() -> dict[str, Any]:
    """The result file's content before anything ran."""
    return {
        "entries": [],
        "errors": [],
        "history": [],
        "seconds": 0.0,
        "aborted": None,
        "error": None,
        "workers": 0,
        "finished": False,
    }


def _users_at(stages: Sequence[Sequence[float]], t: float) -> float:
    start, previous = 0.0, 0.0
    for seconds, target in stages:
        end = start + seconds
        if t < end:
            if seconds <= 0:
                return target
            return previous + (target - previous) * (t - start) / seconds
        start, previous = end, target
    return 0.0


def pick_classes(
    found: Mapping[str, Any], wanted: Sequence[str], locustfile: str
) -> tuple[list[Any], str | None]:
    """The User classes ``wanted`` (all of ``found`` when none is named), or why not."""
    if wanted:
        missing = [name for name in wanted if name not in found]
        if missing:
            names = ", ".join(sorted(found)) or "none"
            return [], f"no User class {missing[0]!r} in {locustfile}; found: {names}"
        return [found[name] for name in wanted], None
    if not found:
        return [], f"no User class in {locustfile}"
    return list(found.values()), None


def host_problem(classes: Sequence[Any], host: str | None) -> str | None:
    """Why the run has no host to send requests to, or None."""
    if host or all(getattr(cls, "host", None) for cls in classes):
        return None
    return "no host: pass host='http://127.0.0.1:PORT' to load_test or set host on the User class"


def wait_for_workers(
    joined: Callable[[], int],
    expected: int,
    timeout: float,
    *,
    sleep: Callable[[float], object],
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Wait until ``joined()`` reaches ``expected`` or ``timeout`` seconds pass; return the
    last count (below ``expected`` when they did not all come)."""
    deadline = clock() + timeout
    while (count := joined()) < expected:
        if clock() > deadline:
            return count
        sleep(TICK)
    return count


def run_worker(argv: list[str]) -> int:
    """Run ``locust ARGS`` as a worker that dies with its master (on Linux)."""
    from pytest_tempo.load._supervisor import set_parent_death_signal

    set_parent_death_signal(signal.SIGKILL, parent=int(argv[0]))
    sys.argv = ["locust", *argv[1:]]
    runpy.run_module("locust", run_name="__main__", alter_sys=True)
    return 0


def load_classes(spec: Mapping[str, Any]) -> tuple[list[Any], str | None]:
    """The User classes of the spec's locustfile, or why the run cannot use them."""
    load_locustfile = importlib.import_module("locust.util.load_locustfile").load_locustfile
    sys.path.insert(0, str(Path(spec["locustfile"]).resolve().parent))
    found, _shapes = load_locustfile(spec["locustfile"])
    classes, error = pick_classes(found, spec.get("classes") or [], spec["locustfile"])
    return classes, error or host_problem(classes, spec.get("host"))


def _local_worker_command(spec: Mapping[str, Any], port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest_tempo.load._locust_child",
        "--worker",
        str(os.getpid()),
        "-f",
        spec["locustfile"],
        "--worker",
        "--master-host",
        str(spec.get("connect") or "127.0.0.1"),
        "--master-port",
        str(port),
        "--loglevel",
        "WARNING",
    ]


def shortfall(joined: int, expected: int, spec: Mapping[str, Any], wait: float) -> str:
    """The error of a master whose workers did not all come."""
    local = int(spec.get("processes", 1))
    mine = f" ({local} of them started here)" if local > 1 and spec.get("external") else ""
    return (
        f"only {joined} of {expected} Locust workers{mine} joined the master on "
        f"{spec.get('bind') or '127.0.0.1'}:{spec['port']} within {wait:g}s"
    )


def _master(env: Any, host: str, port: int) -> tuple[Any, str | None]:
    """A master runner listening on ``host:port``, or why it cannot listen."""
    try:
        return env.create_master_runner(master_bind_host=host, master_bind_port=port), None
    except SystemExit:  # Locust exits when the port is taken, after logging why
        return None, f"cannot listen on {host}:{port} for Locust's workers: the port is in use"
    except Exception as exc:  # a host this machine does not have, say
        why = "the port is in use" if "Address already in use" in str(exc) else str(exc)
        return None, f"cannot listen on {host}:{port} for Locust's workers: {why}"


def start_runner(
    env: Any, spec: Mapping[str, Any], out: dict[str, Any], gevent: Any
) -> tuple[Any, list[subprocess.Popen[bytes]], str | None]:
    """A local runner, or a master whose workers have joined (``processes`` above 1 started
    here, ``external`` ones from elsewhere): the runner, the worker processes started here,
    and why the run cannot start (None: it can)."""
    processes = int(spec.get("processes", 1))
    local = processes if processes > 1 else 0
    external = int(spec.get("external", 0))
    if not local and not external:
        return env.create_local_runner(), [], None
    port = int(spec["port"])
    runner, error = _master(env, str(spec.get("bind") or "127.0.0.1"), port)
    if error:
        return None, [], error
    from pytest_tempo.load.distributed import count_worker_report

    tally: dict[str, int] = {}
    out["worker_requests"] = tally
    env.events.worker_report.add_listener(
        lambda client_id, data: count_worker_report(tally, client_id, data)
    )
    command = _local_worker_command(spec, port)
    workers = [subprocess.Popen(command, stdin=subprocess.DEVNULL) for _ in range(local)]
    expected = local + external
    wait = float(spec.get("wait") or LOCAL_WORKERS_WAIT) if external else LOCAL_WORKERS_WAIT
    joined = wait_for_workers(lambda: len(runner.clients.ready), expected, wait, sleep=gevent.sleep)
    out["workers"] = joined
    if joined < expected:
        runner.quit()  # the workers that came are told to leave, as Locust's own master does
        return runner, workers, shortfall(joined, expected, spec, wait)
    return runner, workers, None


def _entries(runner: Any) -> list[dict[str, Any]]:
    # serialize_stats() would reset the statistics (it is meant for worker reports).
    return [e.serialize() for e in runner.stats.entries.values() if e.num_requests]


class Drive:
    """Moves a runner's user count along the stages, one :meth:`step` per tick.

    Records ``[elapsed, users running, users planned]`` in ``out["history"]`` and, every
    :data:`ABORT_CHECK_EVERY` seconds, stops at the first ``abortOnFail`` threshold crossed
    (``out["aborted"]``).
    """

    def __init__(self, runner: Any, spec: Mapping[str, Any], out: dict[str, Any]) -> None:
        self.runner = runner
        self.out = out
        self.stages: list[list[float]] = spec["stages"]
        self.duration = sum(seconds for seconds, _ in self.stages)
        self.spawn_rate = float(spec.get("spawn_rate", 1000))
        self.abort_rules: list[dict[str, Any]] = spec.get("abort") or []
        self.target = -1
        self.last_check = 0.0

    def step(self, elapsed: float) -> bool:
        """Act at ``elapsed`` seconds into the run; False once the run is over."""
        if elapsed >= self.duration:
            return False
        target = round(_users_at(self.stages, elapsed))
        if target != self.target:
            self.runner.start(target, spawn_rate=self.spawn_rate)
            self.target = target
        self.out["history"].append([round(elapsed, 3), self.runner.user_count, target])
        if self.abort_rules and elapsed - self.last_check >= ABORT_CHECK_EVERY:
            self.last_check = elapsed
            from pytest_tempo.load.locust import check_abort

            crossed = check_abort(_entries(self.runner), self.abort_rules, elapsed)
            if crossed:
                self.out["aborted"] = crossed
                return False
        return True


def snapshot(
    runner: Any, out: dict[str, Any], elapsed: float, path: Path, windows: Any = None
) -> None:
    """Write what the run measured so far (with ``windows``, its p95 per second too)."""
    out["entries"] = _entries(runner)
    if windows is not None:
        out["windows"] = windows.add(elapsed, runner.stats.total.response_times)
    out["errors"] = runner.stats.serialize_errors()
    out["seconds"] = elapsed
    _write_json(path, out)


def drive(
    runner: Any,
    spec: Mapping[str, Any],
    out: dict[str, Any],
    path: Path,
    gevent: Any,
    windows: Any = None,
) -> float:
    """Run the profile until its end, an abort or SIGTERM; return the seconds it ran."""
    stopping: list[str] = []
    gevent.signal_handler(signal.SIGTERM, lambda: stopping.append("terminated"))
    steps = Drive(runner, spec, out)
    start = time.monotonic()
    last_snapshot = start
    while not stopping:
        now = time.monotonic()
        if not steps.step(now - start):
            break
        if now - last_snapshot >= SNAPSHOT_EVERY:
            snapshot(runner, out, now - start, path, windows)
            last_snapshot = now
        gevent.sleep(TICK)
    out["finished"] = not stopping
    return time.monotonic() - start


def finish(
    runner: Any,
    env: Any,
    out: dict[str, Any],
    elapsed: float,
    path: Path,
    workers: Sequence[subprocess.Popen[bytes]],
    windows: Any = None,
) -> None:
    """Stop the users, collect the last statistics, write them, let the workers end."""
    runner.stop()
    out["history"].append([round(elapsed, 3), runner.user_count, 0])
    # A master's quit() asks the workers for their last statistics and waits for them.
    runner.quit()
    snapshot(runner, out, elapsed, path, windows)
    env.events.quitting.fire(environment=env, reverse=True)
    for worker in workers:
        try:
            worker.wait(timeout=3)
        except subprocess.TimeoutExpired:
            worker.kill()


def run(spec: Mapping[str, Any]) -> int:
    """One Locust run as the spec says; the result file holds what it measured."""
    path = Path(spec["result"])
    out = new_result()
    # Imported here, in the child only, and as untyped modules: Locust may be missing where
    # this file is type-checked.
    locust: Any = importlib.import_module("locust")
    gevent: Any = importlib.import_module("gevent")
    environment: Any = importlib.import_module("locust.env").Environment
    classes, error = load_classes(spec)
    if error:
        out["error"] = error
        _write_json(path, out)
        return NOT_STARTED
    env = environment(user_classes=classes, host=spec.get("host") or None, events=locust.events)
    runner, workers, error = start_runner(env, spec, out, gevent)
    if error:
        out["error"] = error
        _write_json(path, out)
        return NOT_STARTED
    env.events.init.fire(environment=env, runner=runner, web_ui=None)
    from pytest_tempo.load.series import LocustWindows

    windows = LocustWindows(started=time.time())
    elapsed = drive(runner, spec, out, path, gevent, windows)
    finish(runner, env, out, elapsed, path, workers, windows)
    return 0


def main(argv: list[str]) -> int:
    if argv[1:2] == ["--worker"]:
        return run_worker(argv[2:])
    return run(json.loads(Path(argv[1]).read_text(encoding="utf-8")))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
