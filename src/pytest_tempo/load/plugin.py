"""The ``tempo-load`` feature plugin: k6 items, the ``load_test`` fixture, the "load" summary.

Without ``--load-profile`` every load item and every test using ``load_test`` is skipped with
a reason saying how to run it, so a plain ``pytest`` never starts load by surprise.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

import pytest

from ..step_summary import append_step_summary
from .profiles import PROFILE_NAMES, build_profile, profile_allows

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

    from _pytest.terminal import TerminalReporter
    from pytest import Collector, Config

    from ..settings import Settings
    from .locust import LoadMetrics
    from .profiles import Profile
    from .thresholds import Exported, Result

__all__ = ["LOAD_KEY", "LoadPlugin", "LoadState", "summary_rows"]

#: The user_properties key a load item's key metrics travel under (also across xdist).
PROPERTY = "tempo_load"

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

    @classmethod
    def from_settings(cls, settings: Settings) -> LoadState:
        profile = None
        if settings.load_profile is not None:
            profile = build_profile(
                settings.load_profile, settings.load_vus, settings.load_time_scale
            )
        return cls(profile, settings.load_time_scale, settings.k6_scripts)

    @property
    def time_limit(self) -> float:
        assert self.profile is not None
        return self.profile.time_limit(self.time_scale)

    def skip_reason(self, item: pytest.Item) -> str | None:
        if self.profile is None:
            return SKIP_NO_PROFILE
        markers = {mark.name for mark in item.iter_markers()}
        if not profile_allows(self.profile.name, markers):
            marked = sorted(markers.intersection(("load", "stress", "spike", "soak")))
            return (
                f"load test marked {', '.join(marked)}: not run with the "
                f"{self.profile.name} profile"
            )
        return None

    def record(
        self,
        item: pytest.Item,
        engine: str,
        metrics: Mapping[str, Exported] | None,
        results: Sequence[Result],
        seconds: float,
        summary: Mapping[str, float | None] | None = None,
    ) -> None:
        """Attach the key metrics to the item's report (plain data, so xdist carries it)."""
        if summary is None:
            summary = k6_summary(metrics or {})
        item.user_properties.append(
            (
                PROPERTY,
                {
                    "engine": engine,
                    "seconds": round(seconds, 2),
                    "thresholds": len(results),
                    "failed": sum(not r.passed for r in results),
                    **summary,
                },
            )
        )


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


def _text_table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def _markdown_table(rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows[1:]]
    return lines


class LoadPlugin:
    """Collects k6 scripts, provides ``load_test``, and prints the "load" section."""

    def __init__(self, config: Config, state: LoadState) -> None:
        self._config = config
        self._state = state
        self._seen: list[tuple[str, str, dict[str, Any]]] = []

    def pytest_sessionstart(self) -> None:
        # The folders of engines whose pytest and supervisor were both killed (a supervisor
        # removes them otherwise): once per run, by the controller.
        if not hasattr(self._config, "workerinput"):
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
        allow_empty=False)`` returns the measured :class:`~pytest_tempo.load.locust.LoadMetrics`
        and fails the test with the threshold table when a threshold fails or no request
        was made. ``user`` is a locustfile path (``"locustfile.py"`` or
        ``"locustfile.py:UserClass"``) or a User class.
        """
        from .locust import LoadTestFailed, locust_available, run_locust

        state = self._state
        item = request.node
        reason = state.skip_reason(item)
        if reason:
            pytest.skip(reason)
        unavailable = locust_available()
        if unavailable:
            pytest.skip(unavailable)
        base = request.path.parent

        def load_test(
            user: object,
            *,
            host: str | None = None,
            thresholds: Mapping[str, object] | None = None,
            profile: str | Profile | None = None,
            processes: int = 1,
            timeout: float | None = None,
            allow_empty: bool = False,
        ) -> LoadMetrics:
            active = state.profile
            assert active is not None
            if isinstance(profile, str):
                chosen = build_profile(profile, active.vus, state.time_scale)
            else:
                chosen = profile or active
            # Starting Python, Locust and its workers takes a few seconds of its own.
            limit = timeout if timeout is not None else chosen.time_limit(state.time_scale) + 10
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
            if metrics is not None:
                state.record(
                    item,
                    "locust",
                    None,
                    metrics.results,
                    metrics.seconds,
                    summary=metrics.summary(),
                )
            if report is not None:
                raise LoadTestFailed(report)
            assert metrics is not None
            return metrics

        return load_test

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Under xdist this runs on the controller with the worker's user_properties.
        if report.when != "call" and not (report.when == "setup" and report.skipped):
            return
        for key, value in report.user_properties:
            if key == PROPERTY and isinstance(value, dict):
                self._seen.append((report.nodeid, report.outcome, value))

    def terminal_section(self, terminalreporter: TerminalReporter) -> None:
        """The "load" section (written in order by ``plugin.Sections``)."""
        if not self._seen or hasattr(self._config, "workerinput"):
            return
        rows = summary_rows(self._seen)
        profile = self._state.profile
        title = "load" + (f" ({profile.name}, {profile.vus} vus)" if profile else "")
        terminalreporter.write_sep("=", title)
        for line in _text_table(rows):
            terminalreporter.write_line(line)
        problem = append_step_summary(
            f"### {title}\n\n" + "\n".join(_markdown_table(rows)) + "\n\n"
        )
        if problem:
            terminalreporter.write_line(f"tempo: {problem}", red=True)
