"""The ``tempo-load`` feature plugin: k6 items, the ``load_test`` fixture, the "load" summary.

Without ``--load-profile`` every load item and every test using ``load_test`` is skipped with
a reason saying how to run it, so a plain ``pytest`` never starts load by surprise.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

import pytest

from .._xdist import is_worker, to_worker, worker_input
from ..settings import SETTINGS_KEY
from ..step_summary import append_step_summary, md_cell
from .profiles import (
    PROFILE_NAMES,
    PROFILES_MARKER,
    RESTRICTING_MARKERS,
    build_profile,
    check_profile_names,
    profile_allows,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from pathlib import Path

    from _pytest.terminal import TerminalReporter
    from pytest import Collector, Config

    from ..settings import BaselineMode, Settings
    from .baseline import Groups, Limit
    from .locust import LoadMetrics
    from .profiles import Profile
    from .resources import Usage, Watcher
    from .series import Timeline
    from .thresholds import Exported, Result

__all__ = ["LOAD_KEY", "LoadPlugin", "LoadState", "summary_rows"]

#: The user_properties key a load item's key metrics travel under (also across xdist).
PROPERTY = "tempo_load"

#: The key of the load baselines in what the controller ships a worker.
WORKERINPUT_BASELINES = "tempo_load_baselines"

SKIP_NO_PROFILE = (
    "load test: run with --load-profile=NAME (or ini load_profile), NAME one of "
    + ", ".join(PROFILE_NAMES)
)


@dataclass
class LoadState:
    """The load settings of one run, shared by the collector, the items and the fixture."""

    profile: Profile | None
    time_scale: float
    k6_globs: tuple[str, ...]
    baseline_mode: BaselineMode = "auto"
    limits: tuple[Limit, ...] = ()
    k6_binary: str | None = None
    require: bool = False
    watch: str | None = None
    rss_limit: float | None = None
    #: Item key -> the records of this run's shape (the controller's read of the store).
    baselines: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: The rootdir, which relative PID files are read from.
    root: Path | None = None
    #: Keep each run's series: the HTML page or the JSON report is written.
    charts: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> LoadState:
        profile = None
        if settings.load_profile is not None:
            profile = build_profile(
                settings.load_profile, settings.load_vus, settings.load_time_scale
            )
        return cls(
            profile,
            settings.load_time_scale,
            settings.k6_scripts,
            baseline_mode=settings.load_baseline,
            limits=settings.load_regression,
            k6_binary=settings.k6_binary,
            require=settings.load_require,
            watch=settings.load_watch,
            rss_limit=settings.load_rss_growth_limit,
            charts=settings.html is not None or settings.slow_report_json is not None,
        )

    @property
    def time_limit(self) -> float:
        assert self.profile is not None
        return self.profile.time_limit(self.time_scale)

    @property
    def shape(self) -> str:
        from .baseline import shape_key

        assert self.profile is not None
        return shape_key(self.profile.name, self.profile.vus, self.time_scale)

    def skip_reason(self, item: pytest.Item) -> str | None:
        if self.profile is None:
            return SKIP_NO_PROFILE
        markers = {mark.name for mark in item.iter_markers()}
        chosen = item.get_closest_marker(PROFILES_MARKER)
        named = None if chosen is None else tuple(chosen.args)
        if named is not None:
            problem = check_profile_names(named)
            if problem:
                pytest.fail(problem, pytrace=False)
        if not profile_allows(self.profile.name, markers, named):
            if named is not None:
                marked = f"{PROFILES_MARKER}({', '.join(map(repr, named))})"
            else:
                marked = ", ".join(sorted(markers.intersection(RESTRICTING_MARKERS)))
            return f"load test marked {marked}: not run with the {self.profile.name} profile"
        return None

    def missing_engine(self, reason: str) -> str | None:
        """Under ``load_require``, the failure for a test whose engine is missing (else it
        skips with ``reason``)."""
        return f"{reason} (ini load_require = true)" if self.require else None

    @contextlib.contextmanager
    def watching(self, target: object = None) -> Iterator[Watcher | None]:
        """Sample the watched server during the block (``target``, else ini ``load_watch``)."""
        from .resources import Watcher, WatchError, resolve

        chosen = target if target is not None else self.watch
        if chosen is None:
            yield None
            return
        if isinstance(chosen, str) and not chosen.strip().isdigit() and self.root is not None:
            chosen = self.root / chosen  # a PID file relative to the rootdir
        problem = None
        try:
            process = resolve(chosen)
        except WatchError as exc:
            problem = str(exc)
        if problem is not None:
            pytest.fail(problem, pytrace=False)
        with Watcher(process) as watcher:
            yield watcher

    def usage(self, watcher: Watcher | None, profile: Profile) -> Usage | None:
        from .resources import window_for

        if watcher is None:
            return None
        return watcher.usage(window_for(profile, watcher.stopped))

    def record(
        self,
        item: pytest.Item,
        engine: str,
        metrics: Mapping[str, Exported] | None,
        results: Sequence[Result],
        seconds: float,
        summary: Mapping[str, float | None] | None = None,
        *,
        key: str | None = None,
        groups: Groups | None = None,
        usage: Usage | None = None,
        passed: bool = False,
        timeline: Timeline | None = None,
    ) -> str | None:
        """Attach the key metrics to the item's report (plain data, so xdist carries it).

        For a run that ``passed`` its thresholds, return why it fails all the same: a
        regression against the baseline, a server that grew or died (None: it passes).
        """
        if summary is None:
            summary = k6_summary(metrics or {})
        data: dict[str, Any] = {
            "engine": engine,
            "seconds": round(seconds, 2),
            "thresholds": len(results),
            "failed": sum(not r.passed for r in results),
            **summary,
        }
        if timeline is not None and self.charts:  # for the HTML page (``series.chart``)
            from .series import chart

            data["series"] = chart(timeline, usage)
        problem = None
        if usage is not None:
            data.update(usage.summary())
            data["usage"] = usage.describe()
            problem = usage.failure(self.rss_limit)
        if passed and groups is not None and self.profile is not None:
            verdict, failure = self._baseline(key or item.nodeid, groups)
            data.update(verdict)
            problem = problem or failure
        item.user_properties.append((PROPERTY, data))
        return problem

    def _baseline(self, key: str, groups: Groups) -> tuple[dict[str, Any], str | None]:
        """The baseline verdict for the report, and the regression to fail with."""
        from .baseline import compare, comparison_table, format_comparison

        mode = self.baseline_mode
        verdict: dict[str, Any] = {}
        if mode == "off" or not groups:
            return verdict, None
        failure = None
        if mode in ("auto", "compare"):
            comparison = compare(groups, self.baselines.get(key, []), self.limits)
            if comparison is not None and comparison.rows:  # shown on the HTML page
                verdict["comparison"] = comparison_table(comparison)
            if comparison is None:
                verdict["baseline"] = "recorded" if mode == "auto" else "none"
                if mode == "compare":
                    failure = (
                        f"load baseline: none recorded for {self.shape}; record one with "
                        "--load-baseline=update (or a run with the default auto mode)"
                    )
            elif comparison.regressions:
                verdict["baseline"] = "regression"
                failure = format_comparison(comparison, self.shape)
            elif not comparison.rows and comparison.few:
                verdict["baseline"] = "few"
            else:
                verdict["baseline"] = f"ok ({comparison.runs} runs)"
        if mode in ("auto", "update") and failure is None:
            verdict["record"] = {
                "key": key,
                "shape": self.shape,
                "replace": mode == "update",
                "record": {"at": round(time.time(), 3), "groups": groups},
            }
            verdict.setdefault("baseline", "recorded")
        return verdict, failure


def k6_summary(metrics: Mapping[str, Exported]) -> dict[str, float | None]:
    def get(metric: str, key: str) -> float | None:
        data = metrics.get(metric)
        return None if data is None else data.aggregate(key)

    return {
        "requests": get("http_reqs", "count"),
        "failed_rate": get("http_req_failed", "rate"),
        "p95_ms": get("http_req_duration", "p(95)"),
        "rps": get("http_reqs", "rate"),
        "peak_users": get("vus_max", "value"),
    }


LOAD_KEY = pytest.StashKey[LoadState]()


def _fmt(value: object, spec: str) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    return format(value, spec)


def summary_rows(entries: Sequence[tuple[str, str, Mapping[str, Any]]]) -> list[list[str]]:
    """Rows of the "load" section: test, outcome, requests, failed, p95, rps, users, time."""
    rows = [["test", "result", "requests", "failed", "p95 ms", "req/s", "peak users", "time s"]]
    for nodeid, outcome, data in entries:
        failed = data.get("failed_rate")
        rows.append(
            [
                nodeid,
                outcome,
                _fmt(data.get("requests"), ".0f"),
                _fmt(failed * 100, ".2f") + "%" if isinstance(failed, (int, float)) else "-",
                _fmt(data.get("p95_ms"), ".1f"),
                _fmt(data.get("rps"), ".1f"),
                _fmt(data.get("peak_users"), ".0f"),
                _fmt(data.get("seconds"), ".1f"),
            ]
        )
    return rows


def notes_lines(
    entries: Sequence[tuple[str, str, Mapping[str, Any]]], problems: Sequence[str] = ()
) -> list[str]:
    """Lines under the "load" table: the baselines, each watched server, store problems."""
    from .baseline import MIN_REQUESTS

    lines: list[str] = []
    verdicts = [str(data["baseline"]) for _, _, data in entries if data.get("baseline")]
    if verdicts:
        counts: dict[str, int] = {}
        for verdict in verdicts:
            word = verdict.split(" ")[0]
            counts[word] = counts.get(word, 0) + 1
        order = ("ok", "regression", "few", "recorded", "none")
        names = {"ok": "within limits", "regression": "regressed", "recorded": "recorded",
                 "none": "without a baseline",
                 "few": f"not compared (under {MIN_REQUESTS} requests)"}  # fmt: skip
        parts = [f"{counts[w]} {names[w]}" for w in order if w in counts]
        lines.append("baselines: " + ", ".join(parts))
    for nodeid, _, data in entries:
        if data.get("usage"):
            lines.append(f"server under {nodeid}: {data['usage']}")
    lines += [f"tempo: {problem}" for problem in problems]
    return lines


def _text_table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def _markdown_table(rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += [
        f"| {md_cell(r[0], code=True)} | " + " | ".join(map(md_cell, r[1:])) + " |"
        for r in rows[1:]
    ]
    return lines


class LoadPlugin:
    """Collects k6 scripts, provides ``load_test``, and prints the "load" section."""

    def __init__(self, config: Config, state: LoadState) -> None:
        self._config = config
        self._state = state
        self._seen: list[tuple[str, str, dict[str, Any]]] = []
        #: (item key, shape, record, replace) of passing runs, written at the end.
        self._records: list[tuple[str, str, dict[str, Any], bool]] = []
        self._store_path: Path | None = None
        self._problems: list[str] = []
        state.root = config.rootpath
        self._read_baselines()

    def pytest_report_header(self) -> list[str]:
        """Where k6 comes from, when load tests run: ``load: k6 /usr/bin/k6 (PATH)``."""
        if self._state.profile is None:
            return []
        from .k6bin import locate

        found = locate(self._state.k6_binary)
        if found.path is None:
            return [f"load: k6 not found ({found.problem or 'k6 items will skip'})"]
        return [f"load: k6 {found.path} ({found.source})"]

    def _read_baselines(self) -> None:
        """Baselines of this run's shape: the controller reads the store, workers get them."""
        state = self._state
        if state.profile is None or state.baseline_mode == "off":
            return
        given = worker_input(self._config)
        if given is not None:
            shipped = given.get(WORKERINPUT_BASELINES)
            state.baselines = dict(shipped) if isinstance(shipped, dict) else {}
            return
        self._store_path = self._baseline_path()
        if self._store_path is None or state.baseline_mode == "update":
            return
        from .baseline import read_file

        store, problem = read_file(self._store_path)
        if problem:
            self._problems.append(problem)
        shape = state.shape
        state.baselines = {key: shapes[shape] for key, shapes in store.items() if shape in shapes}

    def _baseline_path(self) -> Path | None:
        settings = self._config.stash[SETTINGS_KEY]
        if settings.load_baseline_path is not None:
            return self._config.rootpath / settings.load_baseline_path
        cache = getattr(self._config, "cache", None)
        if cache is None:  # -p no:cacheprovider
            return None
        folder: Path = cache.mkdir("tempo-load")
        return folder / "baselines.json"

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """Ship this run's baselines to an xdist worker (workers never read the store)."""
        to_worker(node, WORKERINPUT_BASELINES, self._state.baselines)

    def pytest_sessionfinish(self) -> None:
        if self._store_path is None or not self._records:
            return
        from .baseline import merge_into_file

        problem = merge_into_file(self._store_path, self._records)
        if problem:
            self._problems.append(problem)

    def pytest_sessionstart(self) -> None:
        # The folders of engines whose pytest and supervisor were both killed (a supervisor
        # removes them otherwise): once per run, by the controller.
        if not is_worker(self._config):
            from .process import sweep_stale

            sweep_stale()

    def pytest_collect_file(self, file_path: Path, parent: Collector) -> Collector | None:
        name = file_path.name
        try:
            rel = file_path.relative_to(self._config.rootpath).as_posix()
        except ValueError:
            rel = name
        for glob in self._state.k6_globs:
            if fnmatchcase(name, glob) or ("/" in glob and fnmatchcase(rel, glob)):
                from .k6 import K6Script

                script: Collector = K6Script.from_parent(parent, path=file_path)
                return script
        return None

    @pytest.fixture
    def load_test(self, request: pytest.FixtureRequest) -> Callable[..., LoadMetrics]:
        """Run Locust users headless under the load profile, judged by k6-style thresholds.

        ``load_test(user, host=..., thresholds=..., profile=None, processes=1, timeout=None,
        allow_empty=False, watch=None)`` returns the measured
        :class:`~pytest_tempo.load.locust.LoadMetrics` and fails the test with the threshold
        table when a threshold fails or no request was made, and with the baseline table on
        a regression. ``user`` is a locustfile path (``"locustfile.py"`` or
        ``"locustfile.py:UserClass"``) or a User class. ``watch`` (a PID, a
        ``psutil.Process`` or a PID file) is the server whose CPU and RSS are sampled.
        """
        from .locust import LoadTestFailed, locust_available, run_locust

        state = self._state
        item = request.node
        reason = state.skip_reason(item)
        if reason:
            pytest.skip(reason)
        unavailable = locust_available()
        # A missing engine under load_require fails the test when it calls load_test (a
        # failure, not a set-up error); otherwise the test skips.
        blocked = state.missing_engine(unavailable) if unavailable else None
        if unavailable and not blocked:
            pytest.skip(unavailable)
        base = request.path.parent
        calls = [0]

        def load_test(
            user: object,
            *,
            host: str | None = None,
            thresholds: Mapping[str, object] | None = None,
            profile: str | Profile | None = None,
            processes: int = 1,
            timeout: float | None = None,
            allow_empty: bool = False,
            watch: object = None,
        ) -> LoadMetrics:
            __tracebackhide__ = True
            if blocked:
                pytest.fail(blocked, pytrace=False)
            active = state.profile
            assert active is not None
            if isinstance(profile, str):
                chosen = build_profile(profile, active.vus, state.time_scale)
            else:
                chosen = profile or active
            # Starting Python, Locust and its workers takes a few seconds of its own.
            limit = timeout if timeout is not None else chosen.time_limit(state.time_scale) + 10
            calls[0] += 1
            key = item.nodeid if calls[0] == 1 else f"{item.nodeid}#{calls[0]}"
            with state.watching(watch) as watcher:
                metrics, report = run_locust(
                    user,
                    base=base,
                    profile=chosen,
                    host=host,
                    thresholds=thresholds,
                    processes=processes,
                    timeout=limit,
                    allow_empty=allow_empty,
                )
            problem = None
            if metrics is not None:
                from .baseline import locust_groups

                metrics.usage = state.usage(watcher, chosen)
                problem = state.record(
                    item,
                    "locust",
                    None,
                    metrics.results,
                    metrics.seconds,
                    summary=metrics.summary(),
                    key=key,
                    groups=locust_groups(metrics.entries, metrics.seconds),
                    usage=metrics.usage,
                    passed=report is None and chosen == active,
                    timeline=metrics.timeline(),
                )
            if problem is not None:  # a server that leaked or died, shown with any threshold
                report = problem if report is None else f"{report}\n\n{problem}"
            if report is not None:
                raise LoadTestFailed(report)
            assert metrics is not None
            return metrics

        return load_test

    @property
    def reports(self) -> LoadReports:
        """The per-report hook, registered only when load tests run (a profile is set)."""
        return LoadReports(self)

    def read_report(self, report: pytest.TestReport) -> None:
        # Under xdist this runs on the controller with the worker's user_properties.
        if report.when != "call" and not (report.when == "setup" and report.skipped):
            return
        for key, value in report.user_properties:
            if key == PROPERTY and isinstance(value, dict):
                self._seen.append((report.nodeid, report.outcome, value))
                record = value.get("record")
                if report.passed and isinstance(record, dict):
                    self._records.append(
                        (record["key"], record["shape"], record["record"], record["replace"])
                    )

    def terminal_section(self, terminalreporter: TerminalReporter) -> None:
        """The "load" section (written in order by ``plugin.Sections``)."""
        if not self._seen or is_worker(self._config):
            return
        rows = summary_rows(self._seen)
        profile = self._state.profile
        title = "load" + (f" ({profile.name}, {profile.vus} vus)" if profile else "")
        terminalreporter.write_sep("=", title)
        for line in _text_table(rows):
            terminalreporter.write_line(line)
        notes = notes_lines(self._seen, self._problems)
        for line in notes:
            terminalreporter.write_line(line)
        problem = append_step_summary(
            f"### {title}\n\n"
            + "\n".join(_markdown_table(rows))
            + "\n\n"
            + "".join(f"- {md_cell(line)}\n" for line in notes)
            + ("\n" if notes else "")
        )
        if problem:
            terminalreporter.write_line(f"tempo: {problem}", red=True)


class LoadReports:
    """Reads each test report for a load test's metrics: only when load tests run, so a
    suite without them pays nothing per test."""

    def __init__(self, plugin: LoadPlugin) -> None:
        self._plugin = plugin

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._plugin.read_report(report)
