"""The load settings of one run and what a load item does with them (no hooks here).

:class:`LoadState` is shared by the k6 items and the ``load_test`` fixture: which profile
runs, whether an item skips under it, the watched server, and how an item's results are
recorded on its report with the baseline's verdict. Stored in ``config.stash[LOAD_KEY]``.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from .profiles import (
    PROFILE_NAMES,
    PROFILES_MARKER,
    RESTRICTING_MARKERS,
    build_profile,
    check_profile_names,
    profile_allows,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from pathlib import Path

    from ..settings import BaselineMode, Settings
    from .baseline import Groups, Limit
    from .distributed import Master
    from .profiles import Profile
    from .resources import Usage, Watcher
    from .series import Timeline
    from .thresholds import Exported, Result

__all__ = ["LOAD_KEY", "PROPERTY", "SKIP_NO_PROFILE", "LoadState", "k6_summary"]

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
    #: Locust workers from elsewhere that each ``load_test`` waits for (None: none).
    workers: int | None = None
    #: Where the Locust master of a test with workers listens (None: loopback, a free port).
    master_bind: tuple[str, int] | None = None
    #: Seconds the master waits for its workers.
    workers_wait: float = 60.0
    #: Keep each run's series: the HTML page or the JSON report is written.
    charts: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> LoadState:
        from .limits import parse_regression

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
            limits=parse_regression(settings.load_regression),
            k6_binary=settings.k6_binary,
            require=settings.load_require,
            watch=settings.load_watch,
            rss_limit=settings.load_rss_growth_limit,
            workers=settings.load_workers,
            master_bind=settings.load_master_bind,
            workers_wait=settings.load_workers_timeout,
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

    def master(self, external: int, processes: int) -> Master:
        """The Locust master of a test that waits for ``external`` workers (and starts
        ``processes`` of its own when above 1), listening where ``load_master_bind`` says."""
        from .distributed import DEFAULT_BIND_HOST, Master, free_port

        host, port = self.master_bind or (DEFAULT_BIND_HOST, 0)
        problem = None
        if not port:
            try:
                port = free_port(host)
            except OSError as exc:
                problem = f"load_test(): cannot listen on {host}: {exc.strerror or exc}"
        if problem is not None:
            pytest.fail(problem, pytrace=False)
        local = processes if processes > 1 else 0
        return Master(host, port, external, local, self.workers_wait)

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
        summary: Mapping[str, Any] | None = None,
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
            verdict, failure = self.baseline_verdict(key or item.nodeid, groups)
            data.update(verdict)
            problem = problem or failure
        item.user_properties.append((PROPERTY, data))
        return problem

    def baseline_verdict(self, key: str, groups: Groups) -> tuple[dict[str, Any], str | None]:
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
