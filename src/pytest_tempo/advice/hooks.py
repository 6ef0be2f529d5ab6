"""The advice plugin (``tempo-advice``): thin hooks around the pure judges.

What it costs a run is the point of its shape. Where tests run (the only process without
xdist, each worker with it) ``time.sleep`` and ``asyncio.sleep`` are wrapped once for the
whole run (:class:`SleepCounter`); one plain report hook zeroes the count after a test's setup and
reads it after its call, attaching it to the call report only when the test slept. Once
collection is done, where each narrow-scoped fixture is defined and how wide its
dependencies let it be is read from the fixture definitions pytest resolved, and sent with
the first report: no hook runs per fixture set-up. On the controller the same report hook
keeps, per fixture a wider scope could help, the set-ups the timing feature measured: a
count, a sum and the node ids (the report's strings); every other fixture set-up costs a
name lookup (the reading is in :mod:`.facts`, loaded when a collection has tests).
At the end the controller judges (:mod:`.judge`), importing a judge only when
there is something for it to say; it prints the section, adds it to the JSON, the HTML page
and the step summary, and keeps the outcome history (:mod:`.flaky`).
"""

from __future__ import annotations

import gc
import sys
import time
from typing import TYPE_CHECKING, Any

import pytest

from .._xdist import is_worker

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from pytest import Config, Session, TerminalReporter, TestReport

    from ..durations import Store
    from ..timing import TimingPlugin
    from .flaky import Flaky
    from .parallel import Forecast
    from .scope import ScopeAdvice
    from .sleeps import Sleeper
    from .slower import Slower

__all__ = ["Advice", "AdvicePlugin", "SleepCounter"]


class Advice:
    """Everything the advice section says; empty lists say nothing."""

    __slots__ = ("flaky", "forecast", "scopes", "sleepers", "slower", "threshold")

    def __init__(
        self,
        threshold: float,
        scopes: list[ScopeAdvice] | None = None,
        sleepers: list[Sleeper] | None = None,
        forecast: Forecast | None = None,
        slower: list[Slower] | None = None,
        flaky: list[Flaky] | None = None,
    ) -> None:
        self.threshold = threshold
        self.scopes: list[ScopeAdvice] = scopes or []
        self.sleepers: list[Sleeper] = sleepers or []
        self.forecast = forecast
        self.slower: list[Slower] = slower or []
        self.flaky: list[Flaky] = flaky or []

    def __bool__(self) -> bool:
        return bool(self.scopes or self.sleepers or self.forecast or self.slower or self.flaky)


class _Uses:
    """Every set-up of one fixture on the controller: how many, the seconds, and the node ids
    of the tests whose set-up triggered them (the same string objects the timing keeps)."""

    __slots__ = ("count", "nodeids", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.nodeids: list[str] = []


#: Marks a sleep wrapper of the advice's, and holds what it wraps.
WRAPS = "_tempo_sleep_counter"


class SleepCounter:
    """The seconds slept by every wrapper this counter installed, since :attr:`slept` was
    last zeroed (by the advice's report hook).

    ``time.sleep`` and ``asyncio.sleep`` are wrapped when the run starts (before
    collection, so a test module's ``from time import sleep`` gets one) and put back when it
    ends. A test that mocks ``sleep`` itself (``mock.patch("time.sleep")``, ``monkeypatch``)
    replaces the wrapper for its own duration and gets every call; the mocked sleeps count
    nothing, since what is counted is the time spent.
    """

    __slots__ = ("_installed", "slept")

    def __init__(self) -> None:
        self.slept = 0.0
        #: (owner, attribute, what was there, our wrapper), in the order installed
        self._installed: list[tuple[Any, str, Any, Any]] = []

    def _wrap(self, original: Callable[..., Any], coroutine: bool) -> Callable[..., Any]:
        clock = time.perf_counter
        counter = self

        if coroutine:

            async def counting(*args: Any, **kwargs: Any) -> Any:
                start = clock()
                try:
                    return await original(*args, **kwargs)
                finally:
                    counter.slept += clock() - start
        else:

            def counting(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
                start = clock()
                try:
                    return original(*args, **kwargs)
                finally:
                    counter.slept += clock() - start

        setattr(counting, WRAPS, original)
        return counting

    def _install(self, owner: Any, coroutine: bool, wrapper: Any = None) -> Any:
        current = getattr(owner, "sleep", None)
        if current is None:
            return None
        if wrapper is None:
            wrapper = self._wrap(current, coroutine)
        owner.sleep = wrapper
        self._installed.append((owner, "sleep", current, wrapper))
        return wrapper

    def install(self) -> None:
        """Wrap ``time.sleep``, and ``asyncio.sleep`` when asyncio is loaded."""
        self._install(time, False)
        asyncio = sys.modules.get("asyncio")
        if asyncio is not None:
            self._install(asyncio, True)

    def install_late(self, modules: Callable[[], Iterable[Any]]) -> None:
        """After collection: wrap ``asyncio.sleep`` if asyncio was loaded meanwhile, and the
        ``sleep`` that ``modules()`` (the test modules) imported from it before that."""
        asyncio = sys.modules.get("asyncio")
        if asyncio is None or any(owner is asyncio for owner, *_ in self._installed):
            return
        original = asyncio.sleep
        wrapper = self._install(asyncio, True)
        for module in modules():
            if getattr(module, "sleep", None) is original:
                self._install(module, True, wrapper)

    def uninstall(self) -> None:
        """Put back what was there, newest first, where our wrapper is still in place (a
        test that replaced it for good keeps its own)."""
        while self._installed:
            owner, name, original, wrapper = self._installed.pop()
            if getattr(owner, name, None) is wrapper:
                setattr(owner, name, original)


class AdvicePlugin:
    """Counts sleeps and notes fixture facts where tests run; judges on the controller."""

    def __init__(
        self, config: Config, timing: TimingPlugin, store: Callable[[], Store] | None
    ) -> None:
        self._config = config
        self._timing = timing
        # The durations store as read at the start, asked for only when judging a slow call,
        # at the start of the session's end: before the timing feature folds this run into it.
        self._store = store
        self._threshold = timing.threshold
        self._controller = not is_worker(config)
        self._configured = time.time()
        # where tests run
        self._counter = SleepCounter()
        self._facts_out: dict[str, list[str]] = {}  # fixture key -> [location, widest]
        # on the controller
        self._sleeps: dict[str, float] = {}
        self._uses: dict[tuple[str, str, str], _Uses] = {}
        self._facts: dict[str, list[str]] = {}
        self._widenable: set[tuple[str, str, str]] = set()
        self._widenable_names: set[str] = set()
        self._session_part: dict[str, float] = {}
        self._reruns: dict[str, int] = {}
        self._advice: Advice | None = None
        self._problem: str | None = None

    # --- where tests run ----------------------------------------------------------------

    def pytest_sessionstart(self, session: Session) -> None:
        # An xdist controller runs no test: nothing to count there.
        if not session.config.pluginmanager.hasplugin("dsession"):
            self._counter.install()

    def pytest_collection_finish(self, session: Session) -> None:
        if session.config.pluginmanager.hasplugin("dsession"):
            return
        self._counter.install_late(lambda: _modules(session))
        if session.items:
            from .facts import fixture_facts

            self._facts_out = fixture_facts(session.items, self._config)

    # tryfirst: on an xdist worker, before xdist serialises the report for the controller.
    # Registered before the timing plugin, so its measurements are attached by then. Runs
    # three times per test: plain reads, no call that is not needed.
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: TestReport) -> None:
        data = report.__dict__
        when = data["when"]
        slept = 0.0
        if "worker_id" not in data:  # a test that ran here
            counter = self._counter
            if when == "setup":
                counter.slept = 0.0
            elif when == "call":
                slept = counter.slept
                if slept:
                    counter.slept = 0.0
                    data["tempo_slept"] = slept
            if self._facts_out:
                data["tempo_fixture_facts"] = self._facts_out
                self._facts_out = {}
        elif when == "call":
            slept = data.get("tempo_slept", 0.0)
        if not self._controller:
            return
        if slept:
            self._sleeps[report.nodeid] = self._sleeps.get(report.nodeid, 0.0) + slept
        facts = data.get("tempo_fixture_facts")
        if facts:
            self._add_facts(facts)
        fixtures = data.get("tempo_fixtures")
        if fixtures:
            self._add_fixtures(report.nodeid, fixtures)
        # pytest-rerunfailures reports a failed attempt it retries with the outcome "rerun"
        # (outside TestReport's declared outcomes, hence read from the attributes).
        if data["outcome"] == "rerun":
            self._reruns[report.nodeid] = self._reruns.get(report.nodeid, 0) + 1

    def _add_facts(self, facts: dict[str, list[str]]) -> None:
        from .facts import split_fact_key

        self._facts.update(facts)
        for key, (_, widest) in facts.items():
            baseid, name, scope = split_fact_key(key)
            if widest != scope:
                self._widenable.add((name, scope, baseid))
                self._widenable_names.add(name)

    def _add_fixtures(self, nodeid: str, fixtures: list[list[Any]]) -> None:
        """The set-ups of fixtures a wider scope could help, and of session fixtures (the
        forecast's start-up); pytest's fixtures of directly parametrized arguments, and any
        a wider scope cannot help, cost a name lookup."""
        uses = self._uses
        names = self._widenable_names
        for name, scope, baseid, seconds in fixtures:
            if scope == "session":
                self._session_part[nodeid] = self._session_part.get(nodeid, 0.0) + seconds
            elif name not in names or (name, scope, baseid) not in self._widenable:
                continue
            use = uses.get((name, scope, baseid))
            if use is None:
                use = uses[name, scope, baseid] = _Uses()
            use.count += 1
            use.total += seconds
            if scope != "session":
                use.nodeids.append(nodeid)

    # --- the controller -----------------------------------------------------------------

    def advice(self) -> Advice:
        """The advice of this run, judged once (and the outcome history updated) when a
        test ran."""
        if self._advice is None and not self._timing.timings:
            # Nothing ran here (--collect-only, every test deselected): nothing to judge, and
            # no judge imported.
            self._advice = Advice(self._threshold)
        if self._advice is None:
            from .judge import judge

            # Judging allocates many short-lived objects; a collection they triggered would
            # walk every object of the session (as the durations store pauses it to parse).
            collecting = gc.isenabled()
            gc.disable()
            try:
                self._advice, self._problem = judge(self._facts_for_judging())
            finally:
                if collecting:
                    gc.enable()
        return self._advice

    def _facts_for_judging(self) -> Any:
        from .judge import RunFacts

        return RunFacts(
            config=self._config,
            timings=self._timing.timings,
            collected=self._timing.collected,
            threshold=self._threshold,
            configured=self._configured,
            store=self._store,
            uses={k: (u.count, u.total, u.nodeids) for k, u in self._uses.items()},
            facts=self._facts,
            sleeps=self._sleeps,
            session_part=self._session_part,
            reruns=self._reruns,
        )

    # tryfirst: judged before the timing feature folds this run into the durations store,
    # whose recorded calls "got slower" compares with.
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: Session) -> None:
        self._counter.uninstall()
        if self._controller:
            self.advice()

    def json_part(self) -> dict[str, Any]:
        from .render import to_json

        return to_json(self.advice())

    def html_part(self) -> str:
        advice = self.advice()
        if not advice:
            return ""
        from .render import render_html

        return render_html(advice)

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


def _modules(session: Session) -> Iterator[Any]:
    """The test modules of the collection, each once."""
    seen: set[int] = set()
    for item in session.items:
        parent = item.parent
        if parent is None or id(parent) in seen:
            continue
        seen.add(id(parent))
        module = getattr(item, "module", None)
        if module is not None:
            yield module
