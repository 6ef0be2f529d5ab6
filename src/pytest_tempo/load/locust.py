"""The ``load_test`` fixture: Locust users run headless in a child, judged by k6 thresholds.

Locust never runs in the pytest process (``import locust`` monkey-patches the process with
gevent); :mod:`pytest_tempo.load._locust_child` runs it. Locust's raw per-entry statistics
come back as JSON and are aggregated here into k6's metric names:

=====================  =======  ==========================================================
metric                 type     from Locust
=====================  =======  ==========================================================
``http_req_duration``  trend    response times (ms; Locust buckets them to 2 significant
                                digits above 100 ms)
``http_req_failed``    rate     failures / requests
``http_reqs``          counter  requests (``rate`` per second of run)
``data_received``      counter  response bytes
``vus_max``            gauge    the most users running at once
=====================  =======  ==========================================================

Submetrics filter on the tags ``name`` and ``method`` (``http_req_duration{name:/api}``).
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .thresholds import (
    Counter,
    Gauge,
    Histogram,
    MetricKind,
    MetricThresholds,
    Rate,
    Result,
    Series,
    ThresholdError,
    evaluate,
    format_table,
    parse_expression,
    parse_selector,
    parse_thresholds,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from .distributed import Master
    from .process import Completed
    from .profiles import Profile
    from .resources import Usage
    from .series import Timeline

__all__ = [
    "LOCUST_KINDS",
    "LOCUST_TAGS",
    "LoadMetrics",
    "LoadTestFailed",
    "build_metrics",
    "check_abort",
    "judge",
    "locust_available",
    "series_for",
]

LOCUST_KINDS: dict[str, MetricKind] = {
    "http_req_duration": "trend",
    "http_req_failed": "rate",
    "http_reqs": "counter",
    "data_received": "counter",
    "vus_max": "gauge",
}
LOCUST_TAGS = ("name", "method")

SKIP_NO_LOCUST = "Locust is not installed: pip install 'pytest-tempo[load]' (Python 3.11+)"
SKIP_OLD_PYTHON = "Locust 2.47 needs Python 3.11 or later"


def _python_new_enough() -> bool:
    return sys.version_info >= (3, 11)


def locust_available() -> str | None:
    """None when Locust can run, else the reason it cannot (never imports Locust)."""
    if not _python_new_enough():
        return SKIP_OLD_PYTHON
    import importlib.util

    if importlib.util.find_spec("locust") is None:
        return SKIP_NO_LOCUST
    return None


class LoadTestFailed(AssertionError):
    """A Locust run that did not pass; the message holds the threshold table."""


def _entry_tags(entry: Mapping[str, Any]) -> dict[str, str]:
    return {"name": str(entry.get("name", "")), "method": str(entry.get("method", ""))}


def series_for(
    selector_text: str,
    entries: Sequence[Mapping[str, Any]],
    seconds: float,
    peak_users: int = 0,
) -> Series:
    """The (sub)metric ``selector_text`` computed from Locust's serialized stats entries."""
    selector = parse_selector(selector_text)
    chosen = [e for e in entries if selector.matches(_entry_tags(e))]
    requests = sum(int(e.get("num_requests", 0)) for e in chosen)
    failures = sum(int(e.get("num_failures", 0)) for e in chosen)
    name = selector.name
    if name == "http_req_duration":
        counts: dict[float, int] = {}
        total = 0.0
        lows: list[float] = []
        highs: list[float] = []
        for e in chosen:
            for key, count in (e.get("response_times") or {}).items():
                value = float(key)
                counts[value] = counts.get(value, 0) + int(count)
            total += float(e.get("total_response_time", 0))
            if e.get("min_response_time") is not None and e.get("response_times"):
                lows.append(float(e["min_response_time"]))
                highs.append(float(e.get("max_response_time", 0)))
        return Histogram(
            counts,
            total=total,
            minimum=min(lows) if lows else None,
            maximum=max(highs) if highs else None,
        )
    if name == "http_req_failed":
        return Rate(trues=failures, total=requests)
    if name == "http_reqs":
        return Counter(count=requests, seconds=seconds)
    if name == "data_received":
        size = sum(int(e.get("total_content_length", 0)) for e in chosen)
        return Counter(count=size, seconds=seconds, events=requests)
    if name == "vus_max":
        return Gauge(float(peak_users), samples=1 if peak_users else 0)
    raise ThresholdError(f"unknown metric {name!r}")


def check_abort(
    entries: Sequence[Mapping[str, Any]], rules: Sequence[Mapping[str, Any]], elapsed: float
) -> str | None:
    """The first ``abortOnFail`` threshold crossed so far, as ``metric: threshold``.

    Used while the run goes on; a metric with no samples yet does not abort.
    """
    for rule in rules:
        if elapsed < float(rule.get("delay", 0.0)):
            continue
        data = series_for(rule["metric"], entries, max(elapsed, 1e-9))
        if data.samples == 0:
            continue
        expr = parse_expression(rule["threshold"])
        observed = data.aggregate(expr.key)
        if observed is not None and not expr.holds(observed):
            return f"{rule['metric']}: {rule['threshold']}"
    return None


@dataclass
class LoadMetrics:
    """What a ``load_test`` run measured; returned by the fixture for further assertions.

    ``metrics["http_req_duration"].aggregate("p(95)")`` or ``metrics.value(...)`` read any
    (sub)metric; ``history`` is ``(seconds, users running, users planned)`` samples;
    ``usage`` the watched server's CPU and RSS.
    """

    requests: int
    failures: int
    seconds: float
    entries: list[dict[str, Any]]
    history: list[tuple[float, int, int]]
    results: list[Result] = field(default_factory=list)
    #: Locust workers that joined the master (0: the users ran in the Locust process).
    workers: int = 0
    #: Requests each worker reported, by Locust's worker id (``host_uuid``).
    worker_requests: dict[str, int] = field(default_factory=dict)
    aborted: str | None = None
    #: The watched server's CPU and RSS (``load_test(..., watch=...)``), else None.
    usage: Usage | None = None
    #: The p95 of each second, as the child kept it (see ``series.LocustWindows``).
    windows: dict[str, Any] | None = None

    @property
    def peak_users(self) -> int:
        return max((users for _, users, _ in self.history), default=0)

    def __getitem__(self, metric: str) -> Series:
        return series_for(metric, self.entries, self.seconds, self.peak_users)

    def value(self, metric: str, aggregate: str) -> float | None:
        """``metrics.value("http_req_duration", "p(95)")``."""
        return self[metric].aggregate(aggregate)

    def timeline(self) -> Timeline | None:
        """The run per second (requests, failures, p95, users), for the report."""
        from .series import locust_timeline

        return locust_timeline(self.entries, self.windows, self.history)

    def summary(self) -> dict[str, Any]:
        """The key metrics, as plain data for the "load" summary section."""
        summary: dict[str, Any] = {
            "requests": float(self.requests),
            "failed_rate": self.value("http_req_failed", "rate"),
            "p95_ms": self.value("http_req_duration", "p(95)") if self.requests else None,
            "rps": self.value("http_reqs", "rate"),
            "peak_users": float(self.peak_users),
        }
        if self.worker_requests:
            summary["worker_requests"] = sorted(self.worker_requests.values(), reverse=True)
        return summary


def resolve_user(user: object, base: Path) -> tuple[Path, list[str]]:
    """The locustfile and class names for ``user``: a class, ``"file.py"`` or ``"file.py:Cls"``.

    A relative path is looked up next to the test file first, then from the current folder.
    """
    if inspect.isclass(user):
        return Path(inspect.getfile(user)).resolve(), [user.__name__]
    if not isinstance(user, (str, os.PathLike)):
        raise TypeError(
            f"load_test() takes a User class or a path such as 'locustfile.py', not {user!r}"
        )
    text = os.fspath(user)
    classes: list[str] = []
    path_text, sep, names = text.rpartition(":")
    if sep and names and "/" not in names and "\\" not in names and not names.startswith("\\"):
        text = path_text
        classes = [n.strip() for n in names.split(",") if n.strip()]
    path = Path(text)
    if not path.is_absolute():
        near = base / path
        path = near if near.exists() else Path.cwd() / path
    if not path.is_file():
        raise FileNotFoundError(f"load_test(): no locustfile {text!r} (looked next to the test)")
    return path.resolve(), classes


def abort_rules(sets: Sequence[MetricThresholds]) -> list[dict[str, Any]]:
    return [
        {"metric": s.metric, "threshold": t.text, "delay": t.delay_abort_eval}
        for s in sets
        for t in s.thresholds
        if t.abort_on_fail
    ]


def build_metrics(data: Mapping[str, Any]) -> LoadMetrics:
    entries = [dict(e) for e in data.get("entries") or []]
    history = [(float(t), int(u), int(p)) for t, u, p in data.get("history") or []]
    return LoadMetrics(
        requests=sum(int(e.get("num_requests", 0)) for e in entries),
        failures=sum(int(e.get("num_failures", 0)) for e in entries),
        seconds=float(data.get("seconds") or 0.0),
        entries=entries,
        history=history,
        workers=int(data.get("workers") or 0),
        worker_requests={str(k): int(v) for k, v in (data.get("worker_requests") or {}).items()},
        aborted=data.get("aborted"),
        windows=data.get("windows"),
    )


def judge(
    metrics: LoadMetrics,
    sets: Sequence[MetricThresholds],
    *,
    allow_empty: bool,
) -> list[Result]:
    series: dict[str, Series] = {s.metric: metrics[s.selector.text] for s in sets}
    return evaluate(sets, series, allow_empty=allow_empty)


def failure_report(
    metrics: LoadMetrics | None,
    done: Completed,
    error: str | None,
    limit: float,
    source: str,
) -> str | None:
    """Why a run failed (None if it passed): the reason, the table, the command."""
    lines: list[str] = []
    if error:
        lines.append(f"load_test: {error}")
    elif done.timed_out:
        lines.append(f"load_test: Locust timed out after {limit:g}s; the process group was killed")
    elif done.returncode != 0 or metrics is None:
        lines.append(f"load_test: the Locust child exited with {done.returncode}")
    elif metrics.aborted:
        lines.append(f"load_test: aborted because a threshold with abortOnFail failed: "
                     f"{metrics.aborted}")  # fmt: skip
    elif metrics.requests == 0:
        lines.append(
            f"load_test: Locust made no request in {metrics.seconds:.1f}s ({source}); "
            "check the host and the User's tasks"
        )
    elif any(not r.passed for r in metrics.results):
        lines.append("load_test: thresholds failed")
    if not lines:
        return None
    if metrics is not None and metrics.results:
        lines += ["", format_table(metrics.results)]
    if metrics is not None and not error:  # an error: the run did not start
        lines.append(
            f"requests: {metrics.requests}, failures: {metrics.failures}, "
            f"run: {metrics.seconds:.1f}s, peak users: {metrics.peak_users}"
        )
    if done.returncode != 0 or done.timed_out:
        from .process import tail

        stderr = tail(done.stderr)
        if stderr:
            lines += ["", "stderr (last lines):", stderr]
    return "\n".join(lines)


def run_locust(
    user: object,
    *,
    base: Path,
    profile: Profile,
    host: str | None,
    thresholds: Mapping[str, object] | None,
    processes: int,
    timeout: float,
    allow_empty: bool,
    master: Master | None = None,
    announce: Callable[[str], object] | None = None,
) -> tuple[LoadMetrics | None, str | None]:
    """Run Locust in a child; return the metrics and the failure report (None: passed).

    With ``master``, the child is Locust's master for workers from elsewhere; ``announce``
    gets the line saying how they join, before it starts.
    """
    from .distributed import free_port
    from .process import engine_folder, run_in_group

    if processes < 1:
        raise ValueError(f"load_test(): processes must be 1 or more, not {processes}")
    sets = parse_thresholds(thresholds or {}, LOCUST_KINDS, LOCUST_TAGS)
    locustfile, classes = resolve_user(user, base)
    with engine_folder("tempo-locust-") as tmp:
        result = tmp / "result.json"
        spec = {
            "locustfile": str(locustfile),
            "classes": classes,
            "host": host,
            "stages": [[s.seconds, s.target] for s in profile.stages],
            "spawn_rate": max(100, profile.peak * 20),
            "processes": processes,
            "port": free_port() if processes > 1 else 0,
            "abort": abort_rules(sets),
            "result": str(result),
        }
        if master is not None:
            spec.update(master.spec())
            if announce is not None:
                announce(master.announcement(locustfile))
        spec_path = tmp / "spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        command = [sys.executable, "-m", "pytest_tempo.load._locust_child", str(spec_path)]
        env = dict(os.environ)
        env.pop("PYTEST_ADDOPTS", None)
        done = run_in_group(command, timeout=timeout, cwd=locustfile.parent, env=env, owned=tmp)
        data: dict[str, Any] | None = None
        if result.is_file():
            try:
                data = json.loads(result.read_text(encoding="utf-8"))
            except ValueError:
                data = None
    metrics = build_metrics(data) if data is not None else None
    error = data.get("error") if data is not None else None
    if error and master is not None and "joined the master" in error:
        error += f"; workers join with: {master.join_command(locustfile)}"
    if metrics is not None and not error:
        metrics.results = judge(metrics, sets, allow_empty=allow_empty)
    source = f"{locustfile.name}" + (f":{','.join(classes)}" if classes else "")
    return metrics, failure_report(metrics, done, error, timeout, source)
