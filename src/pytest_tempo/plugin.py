"""The pytest entry point of pytest-tempo: options, markers, and one plugin per feature.

Each feature is a plugin object registered under its own name, so ``-p no:tempo-ordering``
turns off just that feature and ``-p no:tempo`` the whole plugin.

The plugin is on in every environment it is installed in, so it pays only for what a run
uses: a feature that is off is neither imported nor registered, and the features that are
on load their engines and read the durations store when they first have work to do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from . import __version__, databases
from ._hooks import HookObject
from ._xdist import to_worker, worker_input
from .classify import TypesPlugin, type_markers
from .markers import marker_lines, register_markers
from .ordering import OrderingPlugin
from .settings import SETTINGS_KEY, add_options, check_timing_off, load_settings
from .signals import SignalPlugin
from .store_handle import Location, StoreHandle
from .timing.plugin import PHASE_HOOK, TimingPlugin
from .types_hooks import TypeSummaryPlugin

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Mapping

    from pytest import Config, Parser, PytestPluginManager, TerminalReporter

    from .durations import Snapshot, Store
    from .settings import Settings

#: Names of the feature plugins, in the order they are registered.
ORDERING = "tempo-ordering"
TYPES = "tempo-types"
COVERAGE = "tempo-coverage"
TIMING = "tempo-timing"
#: The timing's hook per phase report: on xdist workers, and without pytest's terminal
#: reporter (elsewhere it reads the reports the terminal reporter keeps).
TIMING_REPORTS = PHASE_HOOK
SUMMARY = "tempo-summary"
XDIST = "tempo-xdist"
SCHEDULING = "tempo-scheduling"
SHARDING = "tempo-sharding"
DATABASES = "tempo-databases"
LOAD = "tempo-load"
#: Reads load metrics off test reports; registered only with a load profile.
LOAD_REPORTS = "tempo-load-reports"
#: The load tests' charts on the HTML page and their series in the JSON report.
LOAD_PAGE = "tempo-load-page"
HYGIENE = "tempo-hygiene"
#: Hygiene's wrappers of the call and fixture set-ups, only where the timing's are off.
HYGIENE_CALLS = "tempo-hygiene-calls"
ADVICE = "tempo-advice"
#: SIGTERM and SIGHUP run the clean-up of Ctrl-C, then exit with 128 + the signal.
SIGNALS = "tempo-signals"
#: Writes the features' sections after pytest's summary, in the order of SECTIONS.
SECTIONS_WRITER = "tempo-sections"
#: Repeats failed gates and written files in the last lines before pytest's summary line.
CLOSING = "tempo-closing"
#: The features that write a section after pytest's summary, in the order of the sections.
SECTIONS = (TIMING, ADVICE, COVERAGE, SUMMARY, HYGIENE, LOAD)
#: The key of the durations snapshot in what the controller ships a worker.
WORKERINPUT_DURATIONS = "tempo_durations"


def __dir__() -> list[str]:
    """The hooks alone: registering the module looks at those (see :mod:`._hooks`)."""
    return [name for name in globals() if name.startswith("pytest_")]


def pytest_addoption(parser: Parser) -> None:
    add_options(parser)


def pytest_addhooks(pluginmanager: PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(databases)  # pytest_tempo_build_template


def pytest_configure(config: Config) -> None:
    settings = load_settings(config)
    signals = SignalPlugin()
    if config.pluginmanager.register(signals, SIGNALS) is not None:
        signals.install()
    if config.pluginmanager.is_blocked(TIMING):
        check_timing_off(config)
    config.pluginmanager.register(Sections(), SECTIONS_WRITER)
    config.pluginmanager.register(ClosingLines(), CLOSING)
    config.stash[SETTINGS_KEY] = settings
    register_markers(config, marker_lines(settings))
    manager = config.pluginmanager
    # register() skips a name blocked with -p no:NAME.
    manager.register(TypesPlugin(settings.test_types, config.rootpath), TYPES)
    store = _store(config, settings)
    if settings.order != "off":
        ordering = OrderingPlugin(
            settings.order,
            threshold=settings.slow_threshold,
            source=_recorded(config, store, settings.order),
        )
        manager.register(ordering, ORDERING)
    timing = TimingPlugin(config, settings, store)
    if (
        settings.advice == "on"
        and not manager.is_blocked(TIMING)
        and not manager.is_blocked(ADVICE)
    ):
        _register_advice(config, timing, store.store if store is not None else None)
    timed = manager.register(timing, TIMING) is not None
    if timed:
        summary = TypeSummaryPlugin(timing, type_markers(settings))
        manager.register(summary, SUMMARY)
    # Features that are off unless configured are imported only when they are on.
    if settings.shard is not None:
        from .shards import ShardPlugin

        totals = _snapshot(config, store).totals
        manager.register(ShardPlugin(config, settings.shard, totals), SHARDING)
    if manager.hasplugin("xdist"):
        manager.register(XdistHooks(store), XDIST)
        # Registered without -n too (--dist no), where xdist never asks for a scheduler.
        dist = str(config.getoption("dist", "no"))
        if settings.dist == "duration" and (dist == "no" or _replaces(dist)):
            from .costs import stamps_of
            from .scheduling import SchedulingPlugin

            stamps = stamps_of(store.store() if store is not None else None)
            plugin = SchedulingPlugin(_snapshot(config, store), settings.test_types, dist, stamps)
            manager.register(plugin, SCHEDULING)
    if settings.cov_floors:
        from .coverage_floors import CoverageFloorsPlugin

        floors = CoverageFloorsPlugin(settings.cov_floors, settings.cov_floors_required)
        manager.register(floors, COVERAGE)
    if not manager.is_blocked(DATABASES):
        from .databases import fixtures as database_fixtures

        manager.register(database_fixtures, DATABASES)
    if not manager.is_blocked(LOAD):
        _register_load(config, settings)
    if settings.hygiene != "off" and not manager.is_blocked(HYGIENE):
        from .hygiene.plugin import HygienePlugin, RaisedHooks

        hygiene = HygienePlugin(config, settings.hygiene)
        manager.register(hygiene, HYGIENE)
        if timed:  # the timing's wrappers tell what a test or a fixture raised
            timing.watch(hygiene.raised)
        else:
            manager.register(RaisedHooks(hygiene.raised), HYGIENE_CALLS)


def _register_load(config: Config, settings: Settings) -> None:
    """k6 items, the ``load_test`` fixture and the "load" section. Without a profile (the
    default) only the hooks that find load tests and skip them, which import the rest of the
    feature when they first meet one; the per-report hook only when load tests run."""
    if settings.load_profile is None:
        from .load.hooks import LoadHooks

        config.pluginmanager.register(LoadHooks(config), LOAD)
        return
    from .load.plugin import LoadPlugin

    load = LoadPlugin(config)
    if config.pluginmanager.register(load, LOAD) is not None:
        config.pluginmanager.register(load.reports, LOAD_REPORTS)
        if load.state.charts:
            _register_load_page(config)


def _register_advice(
    config: Config, timing: TimingPlugin, store: Callable[[], Store] | None
) -> None:
    """The advice reads the timing feature's measurements: registered before it, so its
    report hooks run after the timing's (pluggy calls the last registered first). It reads
    the durations store only to judge a slow call, when it asks ``store()``."""
    from .advice import AdvicePlugin
    from .timing.plugin import HTML_EXTRAS, REPORT_EXTRAS

    advice = AdvicePlugin(config, timing, store)
    if config.pluginmanager.register(advice, ADVICE) is None:  # -p no:tempo-advice
        return
    config.stash.setdefault(REPORT_EXTRAS, {})["advice"] = advice.json_part
    config.stash.setdefault(HTML_EXTRAS, {})["advice"] = advice.html_part


def _register_load_page(config: Config) -> None:
    """The load tests on the HTML page and in the JSON report (written by the timing)."""
    from .load.page import LoadPage
    from .timing import HTML_EXTRAS, REPORT_EXTRAS

    page = LoadPage()
    if config.pluginmanager.register(page, LOAD_PAGE) is None:  # -p no:tempo-load-page
        return
    config.stash.setdefault(REPORT_EXTRAS, {})["load"] = page.json_part
    config.stash.setdefault(HTML_EXTRAS, {})["load"] = page.html_part


def _store(config: Config, settings: Settings) -> StoreHandle | None:
    """The durations store the controller reads and records into, read when first needed
    (None on an xdist worker, which never touches it, and with pytest's cache off)."""
    if worker_input(config) is not None:
        return None
    # Calls under a tenth of the threshold change neither the order nor a stale marker.
    floor = settings.slow_threshold / 10
    if settings.durations_path is not None:
        return StoreHandle(Location.of_file(config.rootpath / settings.durations_path), floor)
    cache = getattr(config, "cache", None)
    if cache is None:  # -p no:cacheprovider
        return None
    return StoreHandle(Location.of_cache(cache), floor)


def _snapshot(config: Config, store: StoreHandle | None) -> Snapshot:
    """What ordering and scheduling need of the store: on an xdist worker, the controller's
    snapshot it was sent, never the store."""
    from .durations import Snapshot

    shipped = worker_input(config)
    if shipped is not None:
        return Snapshot.from_plain(shipped.get(WORKERINPUT_DURATIONS))
    return (store.snapshot() if store is not None else None) or Snapshot()


def _recorded(
    config: Config, store: StoreHandle | None, mode: str
) -> Callable[[], tuple[Mapping[str, float], Mapping[str, float]]]:
    """Ordering's recorded call and total seconds per test, read when it first orders
    (the totals only for ``durations``)."""

    def read() -> tuple[Mapping[str, float], Mapping[str, float]]:
        if store is not None and mode == "tiers":
            return store.calls(), {}
        if store is not None and not store.store():
            return {}, {}  # no store: the parser is not even loaded
        snapshot = _snapshot(config, store)
        return snapshot.calls, snapshot.totals

    return read


class Sections(HookObject):
    """Writes the features' sections after pytest's summary, always in one order.

    trylast: after pytest-cov's coverage table. Each feature plugin that is registered (and
    not blocked with ``-p no:NAME``) writes its own section with ``terminal_section``.
    """

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: TerminalReporter) -> None:
        manager = terminalreporter.config.pluginmanager
        for name in SECTIONS:
            write = getattr(manager.get_plugin(name), "terminal_section", None)
            if write is not None:
                write(terminalreporter)


class ClosingLines(HookObject):
    """Repeats what must not be missed in the last lines before pytest's summary line: the
    gates that failed the run and the files written, feature by feature in section order.

    An outermost (tryfirst) wrapper: after its yield, pytest's short test summary is written.
    """

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: TerminalReporter) -> Generator[None]:
        result = yield
        manager = terminalreporter.config.pluginmanager
        for name in SECTIONS:
            closing = getattr(manager.get_plugin(name), "closing_lines", None)
            for line, failed in closing() if closing is not None else ():
                terminalreporter.write_line(line, red=failed, bold=failed)
        return result


class XdistHooks(HookObject):
    """Hooks that exist only with pytest-xdist: ships the durations snapshot to workers."""

    def __init__(self, store: StoreHandle | None) -> None:
        self._store = store

    def pytest_configure_node(self, node: Any) -> None:
        snapshot = self._store.snapshot() if self._store is not None else None
        to_worker(node, WORKERINPUT_DURATIONS, snapshot.to_plain() if snapshot else {})


def _dist_part(config: Config, settings: Settings) -> str | None:
    if settings.dist == "off":
        return None
    if not config.pluginmanager.hasplugin("xdist"):
        return "dist=duration (inactive: pytest-xdist is not installed)"
    if not getattr(config.option, "numprocesses", None):
        return "dist=duration (inactive without -n)"
    dist = str(config.getoption("dist", "no"))
    if dist == "load":
        return "dist=duration"
    if _replaces(dist):
        return f"dist=duration (groups of --dist {dist})"
    return f"dist=duration (inactive with --dist {dist})"


def _replaces(dist: str) -> bool:
    """Whether ``--tempo-dist=duration`` schedules under xdist's ``--dist`` mode.

    Only ``load`` (what ``-n`` gives by default) is replaced; with ``loadscope``,
    ``loadfile`` or ``loadgroup`` the duration scheduler keeps xdist's groups together.
    ``each``, ``worksteal`` and ``no`` are left to xdist.
    """
    return dist in ("load", "loadscope", "loadfile", "loadgroup")


def header_line(settings: Settings, active: set[str], dist: str | None = None) -> str:
    """``tempo 0.1.0: order=tiers, test-types=5`` for the features that are on."""
    parts = []
    parts.append(f"order={settings.order if ORDERING in active else 'off'}")
    if TYPES in active and settings.test_types:
        parts.append(f"test-types={len(settings.test_types)}")
    if TIMING in active:
        parts.append(f"slow-threshold={settings.slow_threshold}s")
    if COVERAGE in active and settings.cov_floors:
        parts.append(f"cov-floors={len(settings.cov_floors)}")
    if DATABASES in active and settings.db_url is not None:
        unique = ", db-unique" if settings.db_unique else ""
        parts.append(f"db={settings.db_url.backend}{unique}")
    if LOAD in active and settings.load_profile is not None:
        parts.append(f"load={settings.load_profile}x{settings.load_vus}")
    if dist is not None:
        parts.append(dist)
    if SHARDING in active and settings.shard is not None:
        parts.append(f"shard={settings.shard.index}/{settings.shard.count}")
    return f"tempo {__version__}: {', '.join(parts)}"


def pytest_report_header(config: Config) -> list[str]:
    if config.get_verbosity() < 0:
        return []
    manager = config.pluginmanager
    names = (ORDERING, TYPES, TIMING, COVERAGE, DATABASES, LOAD, SHARDING)
    active = {name for name in names if manager.has_plugin(name)}
    settings = config.stash[SETTINGS_KEY]
    return [header_line(settings, active, _dist_part(config, settings))]
