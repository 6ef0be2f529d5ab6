"""Judging a run's advice on the controller, at its end: one pass over the timings, then
each judge imported and run only when that pass shows it may have something to say.

A fast, healthy suite imports no judge but the outcome history's: no fixture cost reaches
the threshold, no test slept, no call exceeds it, and the tests' seconds in all are under
the threshold, so no number of workers could save it (the forecast, which replays the run
with xdist's schedulers, is not even imported).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .hooks import Advice

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping, Sequence

    from pytest import Config

    from ..durations import Store
    from ..timing import TestTiming
    from .flaky import Flaky
    from .parallel import Forecast
    from .scope import ScopeAdvice
    from .slower import Slower

__all__ = ["Advice", "RunFacts", "judge"]

#: The forecast's rows are worth showing when one saves this share of the wall time, and the
#: threshold (see :mod:`.parallel`); the most workers it considers.
GAIN = 0.2
MOST_WORKERS = 16


class RunFacts:
    """What the controller gathered during the run, as the judges read it."""

    def __init__(
        self,
        config: Config,
        timings: Collection[TestTiming],
        collected: Sequence[str] | None,
        threshold: float,
        configured: float,
        store: Callable[[], Store] | None,
        uses: Mapping[tuple[str, str, str], tuple[int, float, list[str]]],
        facts: Mapping[str, list[str]],
        sleeps: Mapping[str, float],
        session_part: Mapping[str, float],
        reruns: Mapping[str, int],
    ) -> None:
        self.config = config
        self.timings = timings
        self.collected = collected
        self.threshold = threshold
        self.configured = configured
        self.store = store
        self.uses = uses
        self.facts = facts
        self.sleeps = sleeps
        self.session_part = session_part
        self.reruns = reruns


def judge(run: RunFacts) -> tuple[Advice, str | None]:
    """The advice, and what was wrong with the outcome history, if anything."""
    threshold = run.threshold
    advice = Advice(threshold)
    part = run.session_part
    # One pass: the outcomes, the slow calls, and what the forecast's gate needs.
    outcomes: dict[str, str] = {}
    slow: list[TestTiming] = []
    total = longest = stop = 0.0
    start = float("inf")
    workers = set()
    for t in run.timings:
        outcome = t.outcome
        if outcome == "passed":
            outcomes[t.nodeid] = "p"
        elif outcome == "failed" or outcome == "error":
            outcomes[t.nodeid] = "f"
        if t.ran_call and t.call > threshold:
            slow.append(t)
        began = t.start
        if began:
            seconds = t.setup + t.call + t.teardown
            if t.shared:
                seconds += max(0.0, t.shared - part.get(t.nodeid, 0.0))
            total += seconds
            if seconds > longest:
                longest = seconds
            if began < start:
                start = began
            if t.stop > stop:
                stop = t.stop
            workers.add(t.worker)
    advice.scopes = _scopes(run)
    # A test is listed for sleeping over a tenth of the threshold (see .sleeps).
    sleepers = {n: s for n, s in run.sleeps.items() if s > threshold / 10}
    if sleepers:
        from .sleeps import judge_sleeps

        calls = (
            (t.nodeid, t.call, sleepers[t.nodeid]) for t in run.timings if t.nodeid in sleepers
        )
        advice.sleepers = judge_sleeps(calls, threshold)
    advice.slower = _slower(run, slow)
    if total >= threshold and workers:
        session_fixtures = sum(
            u_total / count
            for (_, scope, _), (count, u_total, _) in run.uses.items()
            if scope == "session" and count
        )
        start_up = max(0.0, start - run.configured) + session_fixtures
        now = stop - run.configured
        floor = start_up + max(longest, total / MOST_WORKERS)
        if now - floor >= max(GAIN * now, threshold):
            advice.forecast = _forecast(run, start_up, now, len(workers))
    problem = None
    if outcomes:
        advice.flaky, problem = _flaky(run, outcomes)
    return advice, problem


def _scopes(run: RunFacts) -> list[ScopeAdvice]:
    """Fixtures set up at least twice for at least the threshold in all, below session
    scope: judged with the worker of each test that set them up."""
    threshold = run.threshold
    candidates = [
        (key, use)
        for key, use in run.uses.items()
        if key[1] != "session" and use[0] >= 2 and use[1] >= threshold
    ]
    if not candidates:
        return []
    from .scope import FixtureUse, judge_scopes

    worker = {t.nodeid: t.worker for t in run.timings}
    found = []
    for (name, scope, baseid), (count, total, nodeids) in candidates:
        location, widest = run.facts.get(f"{baseid}::{name}::{scope}", ["", scope])
        each = total / count
        setups = [(n, worker.get(n, "master"), each) for n in nodeids]
        found.append(FixtureUse(name, scope, baseid, location, widest, setups))
    return judge_scopes(found, threshold)


def _slower(run: RunFacts, slow: list[TestTiming]) -> list[Slower]:
    """Slow calls against the calls the store recorded before this run."""
    if not slow or run.store is None:
        return []
    store = run.store()
    if not store:
        return []
    from .slower import MIN_RUNS, judge_slower

    tests = []
    for t in slow:
        history = store.get(t.nodeid, {}).get("call") or ()
        if len(history) >= MIN_RUNS:
            tests.append((t.nodeid, t.call, tuple(history)))
    return judge_slower(tests, run.threshold) if tests else []


def _forecast(run: RunFacts, start_up: float, now: float, now_workers: int) -> Forecast | None:
    from .parallel import judge_parallel

    ran = [t for t in run.timings if t.start]
    if now_workers > 1:  # tests ran in another order than collected: replay in collection's
        order = {n: i for i, n in enumerate(run.collected or ())}
        ran.sort(key=lambda t: (order.get(t.nodeid, len(order)), t.nodeid))
    part = run.session_part
    shared = {}
    durations = []
    for t in ran:
        extra = max(0.0, t.shared - part.get(t.nodeid, 0.0)) if t.shared else 0.0
        if extra:
            shared[t.nodeid] = extra
        durations.append(t.setup + t.call + t.teardown + extra)
    return judge_parallel(
        [t.nodeid for t in ran], durations, shared, start_up, now, now_workers, run.threshold
    )


def _flaky(run: RunFacts, outcomes: dict[str, str]) -> tuple[list[Flaky], str | None]:
    cache = getattr(run.config, "cache", None)
    if cache is None:
        return [], None
    from .flaky import fingerprints, judge_flaky, update_history

    try:
        folder = cache.mkdir("tempo-outcomes")
    except OSError as exc:  # the cache folder is a file, or not writable
        return [], f"could not create it: {exc.strerror or exc}"
    fps = fingerprints(outcomes, run.config.rootpath)
    history, problem = update_history(folder, outcomes, fps, keep=run.reruns)
    return judge_flaky(history, run.reruns, outcomes), problem
