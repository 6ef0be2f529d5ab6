"""The advice plugin (``tempo-advice``): thin hooks around the pure judges.

What it costs a run is the point of its shape: no hook of its own runs per test. Where tests
run (the only process without xdist, each worker with it) ``time.sleep`` and
``asyncio.sleep`` are wrapped once for the whole run (:class:`SleepCounter`); a wrapper that
is called charges the seconds to the test whose call phase pytest is running (its
``PYTEST_CURRENT_TEST``). Everything else the advice reads was measured by the timing
feature: the fixture set-ups and which test triggered them, the session fixtures' part of
each test, the attempts pytest-rerunfailures ran again. Where each fixture is defined and how
wide its dependencies let it be is read from the fixture definitions pytest resolved: without
xdist only for the fixtures worth judging, at the end; an xdist worker reads them once its
tests are done and sends them, with the seconds its tests slept, to the controller.
At the end the controller judges (:mod:`.judge`), importing a judge only when
there is something for it to say; it prints the section, adds it to the JSON, the HTML page
and the step summary, and keeps the outcome history (:mod:`.flaky`).
"""

from __future__ import annotations

import gc
import os
import sys
import time
from typing import TYPE_CHECKING, Any

import pytest

from .._hooks import HookObject
from .._xdist import from_worker, is_worker, to_controller

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from pytest import Config, Session, TerminalReporter

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


#: Marks a sleep wrapper of the advice's, and holds what it wraps.
WRAPS = "_tempo_sleep_counter"


#: What an xdist worker sends the controller: the seconds its tests slept, its fixture facts.
WORKER_SLEEPS = "tempo_sleeps"
WORKER_FACTS = "tempo_fixture_facts"
#: The end of ``PYTEST_CURRENT_TEST`` while a test's call phase runs (src/_pytest/runner.py,
#: ``_update_current_test_var``: ``"{nodeid} ({when})"``).
CALL = " (call)"


class SleepCounter:
    """The seconds slept by every wrapper this counter installed, per test (:attr:`slept`:
    node id -> seconds), counted while the test's call phase runs.

    ``time.sleep`` and ``asyncio.sleep`` are wrapped when the run starts (before
    collection, so a test module's ``from time import sleep`` gets one) and put back when it
    ends. A wrapper, when called, charges what it slept to the test pytest names in
    ``PYTEST_CURRENT_TEST`` when that is in its call phase: a test that does not sleep costs
    nothing. A test that mocks ``sleep`` itself (``mock.patch("time.sleep")``,
    ``monkeypatch``) replaces the wrapper for its own duration and gets every call; the
    mocked sleeps count nothing, since what is counted is the time spent.
    """

    __slots__ = ("_installed", "slept")

    def __init__(self) -> None:
        self.slept: dict[str, float] = {}
        #: (owner, attribute, what was there, our wrapper), in the order installed
        self._installed: list[tuple[Any, str, Any, Any]] = []

    def charge(self, seconds: float) -> None:
        """Add ``seconds`` to the test in its call phase now, if any."""
        current = os.environ.get("PYTEST_CURRENT_TEST")
        if current is not None and current.endswith(CALL):
            nodeid = current[: -len(CALL)]
            self.slept[nodeid] = self.slept.get(nodeid, 0.0) + seconds

    def _wrap(self, original: Callable[..., Any], coroutine: bool) -> Callable[..., Any]:
        clock = time.perf_counter
        counter = self

        if coroutine:

            async def counting(*args: Any, **kwargs: Any) -> Any:
                start = clock()
                try:
                    return await original(*args, **kwargs)
                finally:
                    counter.charge(clock() - start)
        else:

            def counting(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
                start = clock()
                try:
                    return original(*args, **kwargs)
                finally:
                    counter.charge(clock() - start)

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


class AdvicePlugin(HookObject):
    """Counts sleeps where tests run; judges on the controller."""

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
        self._items: list[pytest.Item] = []
        # on the controller, from xdist workers
        self._sleeps: dict[str, float] = {}
        self._facts: dict[str, list[str]] = {}
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
        self._items = session.items

    # --- the controller -----------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """What a worker sent when its tests were done (nothing when it crashed)."""
        sleeps = from_worker(node, WORKER_SLEEPS) or {}
        for nodeid, seconds in sleeps.items():
            self._sleeps[nodeid] = self._sleeps.get(nodeid, 0.0) + seconds
        self._facts.update(from_worker(node, WORKER_FACTS) or {})

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

        timing, threshold = self._timing, self._threshold
        uses = {}
        for f in timing.fixtures:
            # Session fixtures (the forecast's start-up), and those a wider scope may help.
            if f.scope == "session" or (f.count >= 2 and f.total >= threshold):
                uses[f.name, f.scope, f.baseid] = (f.count, f.total, f.users)
        sleeps = self._sleeps if self._sleeps else self._counter.slept
        return RunFacts(
            config=self._config,
            timings=timing.timings,
            collected=timing.collected,
            threshold=threshold,
            configured=self._configured,
            store=self._store,
            uses=uses,
            facts=self._fixture_facts(uses),
            sleeps=sleeps,
            session_part=timing.session_part,
            reruns=timing.reruns,
        )

    def _fixture_facts(self, uses: dict[tuple[str, str, str], Any]) -> dict[str, list[str]]:
        """The facts of the fixtures worth judging: sent by the workers, or read here from
        the collection (only for those fixtures)."""
        if self._facts or not self._items:
            return self._facts
        wanted = {(name, scope, baseid) for name, scope, baseid in uses if scope != "session"}
        if not wanted:
            return {}
        from .facts import fixture_facts

        return fixture_facts(self._items, self._config, wanted)

    # tryfirst: judged before the timing feature folds this run into the durations store,
    # whose recorded calls "got slower" compares with.
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: Session) -> None:
        self._counter.uninstall()
        if self._controller:
            self.advice()
            return
        # An xdist worker: what the controller cannot measure, sent once.
        to_controller(self._config, WORKER_SLEEPS, self._counter.slept)
        if self._items:
            from .facts import fixture_facts

            to_controller(self._config, WORKER_FACTS, fixture_facts(self._items, self._config))

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
            from .render import ROWS, render_terminal

            rows = None if terminalreporter.config.get_verbosity() > 0 else ROWS
            terminalreporter.write_sep("=", "advice")
            for line in render_terminal(advice, rows):
                terminalreporter.write_line(line)
            if os.environ.get("GITHUB_STEP_SUMMARY"):
                from ..step_summary import append_step_summary
                from .render import render_markdown

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
