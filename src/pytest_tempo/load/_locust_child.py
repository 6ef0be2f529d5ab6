"""The child process that runs Locust for the ``load_test`` fixture.

``python -m pytest_tempo.load._locust_child SPEC.json``. This is the only module of
pytest-tempo that imports Locust, and it only ever runs in a child process: importing Locust
monkey-patches the whole process with gevent.

It loads the User classes, drives the user count along the profile's stages (checked every
50 ms, finer than Locust's one-second shape ticks), samples the user count into a history,
evaluates ``abortOnFail`` thresholds while running, and writes everything the parent needs
to a JSON file: the raw per-entry statistics with their response-time histograms, the
history, the elapsed time and any abort or error. With ``processes`` above 1 it is a Locust
master on a free loopback port with that many worker processes in its process group.

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
from typing import Any

TICK = 0.05
SNAPSHOT_EVERY = 1.0
ABORT_CHECK_EVERY = 0.25


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def _users_at(stages: list[list[float]], t: float) -> float:
    start, previous = 0.0, 0.0
    for seconds, target in stages:
        end = start + seconds
        if t < end:
            if seconds <= 0:
                return target
            return previous + (target - previous) * (t - start) / seconds
        start, previous = end, target
    return 0.0


def run_worker(argv: list[str]) -> int:
    """Run ``locust ARGS`` as a worker that dies with its master (on Linux)."""
    from pytest_tempo.load._supervisor import set_parent_death_signal

    set_parent_death_signal(signal.SIGKILL, parent=int(argv[0]))
    sys.argv = ["locust", *argv[1:]]
    runpy.run_module("locust", run_name="__main__", alter_sys=True)
    return 0


def main(argv: list[str]) -> int:
    if argv[1:2] == ["--worker"]:
        return run_worker(argv[2:])
    spec = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    result_path = Path(spec["result"])
    out: dict[str, Any] = {
        "entries": [],
        "errors": [],
        "history": [],
        "seconds": 0.0,
        "aborted": None,
        "error": None,
        "workers": 0,
        "finished": False,
    }

    # Imported here, in the child only, and as untyped modules: Locust may be missing where
    # this file is type-checked.
    locust: Any = importlib.import_module("locust")
    gevent: Any = importlib.import_module("gevent")
    events = locust.events
    Environment = importlib.import_module("locust.env").Environment
    load_locustfile = importlib.import_module("locust.util.load_locustfile").load_locustfile

    sys.path.insert(0, str(Path(spec["locustfile"]).resolve().parent))
    user_classes, _shapes = load_locustfile(spec["locustfile"])
    wanted = spec.get("classes") or []
    if wanted:
        missing = [name for name in wanted if name not in user_classes]
        if missing:
            out["error"] = (
                f"no User class {missing[0]!r} in {spec['locustfile']}; "
                f"found: {', '.join(sorted(user_classes)) or 'none'}"
            )
            _write_json(result_path, out)
            return 3
        classes = [user_classes[name] for name in wanted]
    else:
        classes = list(user_classes.values())
    if not classes:
        out["error"] = f"no User class in {spec['locustfile']}"
        _write_json(result_path, out)
        return 3
    host = spec.get("host")
    if not host and not all(getattr(cls, "host", None) for cls in classes):
        out["error"] = (
            "no host: pass host='http://127.0.0.1:PORT' to load_test or set host on the User class"
        )
        _write_json(result_path, out)
        return 3

    env = Environment(user_classes=classes, host=host or None, events=events)
    processes = int(spec.get("processes", 1))
    workers: list[subprocess.Popen[bytes]] = []
    if processes > 1:
        port = int(spec["port"])
        runner: Any = env.create_master_runner(master_bind_host="127.0.0.1", master_bind_port=port)
        worker_cmd = [
            sys.executable,
            "-m",
            "pytest_tempo.load._locust_child",
            "--worker",
            str(os.getpid()),
            "-f",
            spec["locustfile"],
            "--worker",
            "--master-host",
            "127.0.0.1",
            "--master-port",
            str(port),
            "--loglevel",
            "WARNING",
        ]
        for _ in range(processes):
            workers.append(subprocess.Popen(worker_cmd, stdin=subprocess.DEVNULL))
        deadline = time.monotonic() + 30
        while len(runner.clients.ready) < processes:
            if time.monotonic() > deadline:
                out["error"] = f"only {len(runner.clients.ready)} of {processes} workers joined"
                _write_json(result_path, out)
                return 3
            gevent.sleep(TICK)
        out["workers"] = len(runner.clients.ready)
    else:
        runner = env.create_local_runner()
    env.events.init.fire(environment=env, runner=runner, web_ui=None)

    stages: list[list[float]] = spec["stages"]
    duration = sum(s for s, _ in stages)
    spawn_rate = float(spec.get("spawn_rate", 1000))
    abort_rules = spec.get("abort") or []
    stopping: dict[str, str | None] = {"why": None}

    def entries() -> list[dict[str, Any]]:
        # serialize_stats() would reset the statistics (it is meant for worker reports).
        return [e.serialize() for e in runner.stats.entries.values() if e.num_requests]

    def snapshot(elapsed: float) -> None:
        out["entries"] = entries()
        out["windows"] = windows.add(elapsed, runner.stats.total.response_times)
        out["errors"] = runner.stats.serialize_errors()
        out["seconds"] = elapsed
        _write_json(result_path, out)

    def on_term() -> None:
        stopping["why"] = "terminated"

    gevent.signal_handler(signal.SIGTERM, on_term)

    from pytest_tempo.load.locust import check_abort
    from pytest_tempo.load.series import LocustWindows

    start = time.monotonic()
    windows = LocustWindows(started=time.time())
    last_target = -1
    last_snapshot = start
    last_check = start
    while True:
        now = time.monotonic()
        elapsed = now - start
        if stopping["why"] or elapsed >= duration:
            break
        target = round(_users_at(stages, elapsed))
        if target != last_target:
            runner.start(target, spawn_rate=spawn_rate)
            last_target = target
        out["history"].append([round(elapsed, 3), runner.user_count, target])
        if abort_rules and now - last_check >= ABORT_CHECK_EVERY:
            last_check = now
            crossed = check_abort(entries(), abort_rules, elapsed)
            if crossed:
                out["aborted"] = crossed
                break
        if now - last_snapshot >= SNAPSHOT_EVERY:
            snapshot(elapsed)
            last_snapshot = now
        gevent.sleep(TICK)

    elapsed = time.monotonic() - start
    out["finished"] = stopping["why"] is None
    runner.stop()
    out["history"].append([round(time.monotonic() - start, 3), runner.user_count, 0])
    # A master's quit() asks the workers for their last statistics and waits for them.
    runner.quit()
    snapshot(elapsed)
    env.events.quitting.fire(environment=env, reverse=True)
    for worker in workers:
        try:
            worker.wait(timeout=3)
        except subprocess.TimeoutExpired:
            worker.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
