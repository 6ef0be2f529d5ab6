"""The advice plugin (``tempo-advice``): thin hooks around the pure judges.

Where tests run (the only process without xdist, each worker with it) it counts the seconds
each test's call spends in ``time.sleep`` and ``asyncio.sleep``, and notes where each
narrow-scoped fixture is defined and how wide its dependencies let it be; both travel on the
test reports as plain data, as the timing feature's measurements do. The controller alone
judges, prints the section, adds it to the JSON, the HTML page and the step summary, and
keeps the outcome history.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

import pytest

from .._xdist import is_worker
from .scope import FixtureUse

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Mapping

    from pytest import Config, TerminalReporter, TestReport

    from ..timing import TimingPlugin
    from .render import Advice

__all__ = ["AdvicePlugin"]

#: Marks the sleep functions this plugin installs, so one left in place (a test's own
#: ``monkeypatch`` restores what it found: ours) is never wrapped again.
_COUNTER = "_tempo_sleep_counter"


class AdvicePlugin:
    """Measures sleeps and fixture facts where tests run; judges on the controller."""

    def __init__(self, config: Config, timing: TimingPlugin, store: Mapping[str, Any] | None):
        self._config = config
        self._timing = timing
        # The recorded calls as read at the start: the store itself takes this run's in.
        self._history = {n: tuple(e.get("call", ())) for n, e in (store or {}).items()}
        self._threshold = timing.threshold
        self._controller = not is_worker(config)
        self._configured = time.time()
        # where tests run
        self._slept = 0.0
        self._wrappers: dict[int, Callable[..., Any]] = {}
        self._seen: set[int] = set()
        self._info: dict[str, list[str]] = {}  # fixture key -> [location, widest], to send
        # on the controller
        self._sleeps: dict[str, float] = {}
        self._uses: dict[str, FixtureUse] = {}
        self._facts: dict[str, list[str]] = {}
        self._session_part: dict[str, float] = {}
        self._reruns: dict[str, int] = {}
        self._advice: Advice | None = None
        self._problem: str | None = None

    # --- where tests run ----------------------------------------------------------------

    def _counting(self, original: Callable[..., Any], coroutine: bool) -> Callable[..., Any]:
        """``original`` counting the wall seconds spent in it (a mocked sleep counts ~0)."""
        wrapper = self._wrappers.get(id(original))
        if wrapper is not None:
            return wrapper
        clock = time.perf_counter

        if coroutine:

            async def counting(*args: Any, **kwargs: Any) -> Any:
                start = clock()
                try:
                    return await original(*args, **kwargs)
                finally:
                    self._slept += clock() - start
        else:

            def counting(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
                start = clock()
                try:
                    return original(*args, **kwargs)
                finally:
                    self._slept += clock() - start

        setattr(counting, _COUNTER, original)
        self._wrappers[id(original)] = counting
        return counting

    def _patch(self, item: pytest.Item) -> list[tuple[Any, str, Any, Any]]:
        """Install the counters: ``time.sleep``, ``asyncio.sleep`` (when asyncio is loaded)
        and a ``sleep`` the test's module imported from either."""
        targets: list[tuple[Any, bool]] = [(time, False)]
        asyncio = sys.modules.get("asyncio")
        if asyncio is not None:
            targets.append((asyncio, True))
        originals = {id(time.sleep): False}
        if asyncio is not None:
            originals[id(asyncio.sleep)] = True
        module = getattr(item, "module", None)
        imported = getattr(module, "sleep", None)
        if imported is not None and id(imported) in originals:
            targets.append((module, originals[id(imported)]))
        patched = []
        for target, coroutine in targets:
            current = target.sleep
            if hasattr(current, _COUNTER):  # left by a test's monkeypatch: ours to restore
                patched.append((target, "sleep", getattr(current, _COUNTER), current))
                continue
            counting = self._counting(current, coroutine)
            target.sleep = counting
            patched.append((target, "sleep", current, counting))
        return patched

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None]:
        self._slept = 0.0
        patched = self._patch(item)
        try:
            return (yield)
        finally:
            # Restore exactly what was there, unless the test put something else in its
            # place (a mock of its own, restored by its own undo).
            for target, name, original, counting in patched:
                if getattr(target, name) is counting:
                    setattr(target, name, original)

    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> None:
        if fixturedef.scope == "session" or id(fixturedef) in self._seen:
            return
        self._seen.add(id(fixturedef))
        self._info[_key(fixturedef.argname, fixturedef.scope, fixturedef.baseid)] = [
            _location(fixturedef, self._config),
            _widest(fixturedef, request),
        ]

    # tryfirst: on an xdist worker, before xdist serialises the report for the controller.
    # Registered before the timing plugin, so its measurements are attached by then.
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: TestReport) -> None:
        data = report.__dict__
        if "worker_id" not in data:  # measured here
            if report.when == "call" and self._slept:
                report.tempo_slept = self._slept  # type: ignore[attr-defined]
                self._slept = 0.0
            if self._info:
                report.tempo_fixture_facts = self._info  # type: ignore[attr-defined]
                self._info = {}
        if self._controller:
            self._aggregate(report, data)

    def _aggregate(self, report: TestReport, data: dict[str, Any]) -> None:
        # pytest-rerunfailures reports a failed attempt it retries with the outcome "rerun"
        # (outside TestReport's declared outcomes, hence read from the attributes).
        if data.get("outcome") == "rerun":
            self._reruns[report.nodeid] = self._reruns.get(report.nodeid, 0) + 1
        slept = data.get("tempo_slept")
        if slept:
            self._sleeps[report.nodeid] = self._sleeps.get(report.nodeid, 0.0) + slept
        facts = data.get("tempo_fixture_facts")
        if facts:
            self._facts.update(facts)
        fixtures = data.get("tempo_fixtures")
        if not fixtures:
            return
        nodeid = report.nodeid
        worker = data.get("worker_id") or "master"
        for name, scope, baseid, seconds in fixtures:
            key = _key(name, scope, baseid)
            use = self._uses.get(key)
            if use is None:
                use = self._uses[key] = FixtureUse(name, scope, baseid)
            use.setups.append((nodeid, worker, seconds))
            if scope == "session":
                self._session_part[nodeid] = self._session_part.get(nodeid, 0.0) + seconds

    # --- the controller -----------------------------------------------------------------

    def advice(self) -> Advice:
        """The advice of this run, judged once (and the outcome history updated)."""
        if self._advice is None:
            self._advice = self._judge()
        return self._advice

    def _judge(self) -> Advice:
        from .render import Advice
        from .scope import judge_scopes
        from .sleeps import judge_sleeps
        from .slower import judge_slower

        threshold = self._threshold
        timings = {t.nodeid: t for t in self._timing.timings}
        advice = Advice(threshold)
        for key, use in self._uses.items():
            location, widest = self._facts.get(key, ["", use.scope])
            use.location, use.widest = location, widest
        advice.scopes = judge_scopes(self._uses.values(), threshold)
        advice.sleepers = judge_sleeps(
            ((n, timings[n].call, s) for n, s in self._sleeps.items() if n in timings), threshold
        )
        advice.slower = judge_slower(
            (
                (t.nodeid, t.call, self._history.get(t.nodeid, ()))
                for t in timings.values()
                if t.ran_call
            ),
            threshold,
        )
        advice.forecast = self._forecast(timings)
        advice.flaky = self._flaky(timings)
        return advice

    def _forecast(self, timings: Mapping[str, Any]) -> Any:
        from .parallel import judge_parallel

        ran = [t for t in timings.values() if t.start]
        if not ran:
            return None
        order = {n: i for i, n in enumerate(self._timing.collected or ())}
        ran.sort(key=lambda t: (order.get(t.nodeid, len(order)), t.nodeid))
        part = self._session_part
        shared = {t.nodeid: max(0.0, t.shared - part.get(t.nodeid, 0.0)) for t in ran}
        durations = [t.total + shared[t.nodeid] for t in ran]
        session_fixtures = sum(
            sum(s for _, _, s in u.setups) / len(u.setups)
            for u in self._uses.values()
            if u.scope == "session"
        )
        first = min(t.start for t in ran)
        start_up = max(0.0, first - self._configured) + session_fixtures
        now = max(t.stop for t in ran) - self._configured
        workers = len({t.worker for t in ran})
        return judge_parallel(
            [t.nodeid for t in ran],
            durations,
            {n: s for n, s in shared.items() if s > 0},
            start_up,
            now,
            workers,
            self._threshold,
        )

    def _flaky(self, timings: Mapping[str, Any]) -> list[Any]:
        cache = getattr(self._config, "cache", None)
        outcomes = {
            n: "p" if t.outcome == "passed" else "f"
            for n, t in timings.items()
            if t.outcome in ("passed", "failed", "error")
        }
        if cache is None or not outcomes:
            return []
        from .flaky import fingerprints, judge_flaky, update_history

        try:
            folder = cache.mkdir("tempo-outcomes")
        except OSError as exc:  # the cache folder is a file, or not writable
            self._problem = f"could not create it: {exc.strerror or exc}"
            return []
        history, self._problem = update_history(
            folder, outcomes, fingerprints(outcomes, self._config.rootpath)
        )
        return judge_flaky(history, self._reruns, outcomes)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self._controller:
            self.advice()
        for target in (time, sys.modules.get("asyncio")):
            # A counter a test's own monkeypatch put back after the call: take it out.
            original = getattr(getattr(target, "sleep", None), _COUNTER, None)
            if original is not None:
                target.sleep = original  # type: ignore[union-attr]

    def json_part(self) -> dict[str, Any]:
        from .render import to_json

        return to_json(self.advice())

    def html_part(self) -> str:
        from .render import render_html

        advice = self.advice()
        return render_html(advice) if advice else ""

    def terminal_section(self, terminalreporter: TerminalReporter) -> None:
        """The "advice" section (written in order by ``plugin.Sections``); nothing when
        there is no advice to give."""
        if not self._controller:
            return
        advice = self.advice()
        if advice:
            from ..step_summary import append_step_summary
            from .render import ROWS, render_markdown, render_terminal

            rows = None if terminalreporter.config.get_verbosity() > 0 else ROWS
            terminalreporter.write_sep("=", "advice")
            for line in render_terminal(advice, rows):
                terminalreporter.write_line(line)
            problem = append_step_summary(render_markdown(advice))
            if problem:
                terminalreporter.write_line(f"tempo: {problem}", red=True)
        if self._problem:
            terminalreporter.write_line(
                f"tempo: the outcome history was unusable ({self._problem}); started a fresh one",
                yellow=True,
            )


def _key(name: str, scope: str, baseid: str) -> str:
    return f"{baseid}::{name}::{scope}"


def _location(fixturedef: pytest.FixtureDef[Any], config: Config) -> str:
    code = getattr(fixturedef.func, "__code__", None)
    if code is None:
        return ""
    try:
        path = config.rootpath.joinpath(code.co_filename).relative_to(config.rootpath)
    except ValueError:
        return ""
    return f"{path.as_posix()}:{code.co_firstlineno}"


def _widest(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> str:
    """The widest scope the fixture's dependencies allow; its own when it is parametrized
    (each parameter is set up anyway)."""
    from .scope import widest_scope

    # pytest's pseudo fixture of a directly parametrized argument (``get_direct_param_fixture_
    # func`` in src/_pytest/fixtures.py) is not the user's to widen.
    direct = getattr(fixturedef.func, "__name__", "") == "get_direct_param_fixture_func"
    if fixturedef.params is not None or direct:
        return fixturedef.scope
    # pytest keeps the fixture definitions visible to a request in _arg2fixturedefs
    # (src/_pytest/fixtures.py, FixtureRequest.__init__); the last one is the one used.
    visible = getattr(request, "_arg2fixturedefs", {})
    scopes = [visible[arg][-1].scope for arg in fixturedef.argnames if visible.get(arg)]
    return widest_scope(scopes)
