"""``pytest-tempo load-judge``: judge k6 summaries made elsewhere as a k6 item judges a run.

``pytest-tempo load-judge SUMMARY [SUMMARY ...] [--script SCRIPT | --thresholds JSON]
[--baselines FILE --profile NAME [--vus N] [--time-scale F] [--key KEY]]``

Each SUMMARY is one runner's ``k6 run --summary-export=FILE`` or ``handleSummary`` JSON (the
k6 Operator's runners, parallel CI jobs); several are merged into one run
(:mod:`.summaries` says what merges exactly and what is bounded). The thresholds are the
script's (``k6 inspect SCRIPT``), a JSON object given with ``--thresholds``, or else those
the summaries name. With ``--baselines`` the run is compared with, and recorded in, the
baseline store that ``--load-baseline`` uses (a ``load_baseline_path`` file, or
``.pytest_cache/d/tempo-load/baselines.json``), under the script's node id and the shape of
``--profile``/``--vus``/``--time-scale``.

Exit status: 0 passed, 1 a threshold failed or the run regressed, 2 an input it cannot use.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .summaries import Summary, SummaryError, judge, read_summary
from .thresholds import ThresholdError, format_table, parse_thresholds

if TYPE_CHECKING:
    import argparse

    from .thresholds import Exported, Result

__all__ = ["add_parser", "run"]

PROG = "pytest-tempo load-judge"


class Unusable(Exception):
    """An input the command cannot use: one line, exit status 2."""


def add_parser(commands: Any) -> None:
    """The ``load-judge`` subcommand of ``pytest-tempo``."""
    parser = commands.add_parser(
        "load-judge", help="judge k6 summaries made elsewhere by the thresholds and baselines"
    )
    parser.add_argument("summaries", nargs="+", type=Path, metavar="SUMMARY",
                        help="a runner's --summary-export or handleSummary JSON")  # fmt: skip
    parser.add_argument("--script", type=Path, help="the k6 script: its thresholds (k6 inspect)")
    parser.add_argument("--thresholds", metavar="JSON",
                        help='thresholds as in k6, e.g. \'{"http_req_duration": ["p(95)<500"]}\', '
                        "or a file holding them")  # fmt: skip
    parser.add_argument("--allow-empty", action="store_true",
                        help="a threshold on a metric without samples passes")  # fmt: skip
    parser.add_argument("--baselines", type=Path, metavar="FILE",
                        help="the load baseline store to compare with and record in")  # fmt: skip
    parser.add_argument("--baseline", default="auto", choices=("auto", "compare", "update"),
                        help="as --load-baseline (default: auto)")  # fmt: skip
    parser.add_argument("--key", help="the test's node id in the store (default: SCRIPT::k6)")
    parser.add_argument("--profile", help="the profile the runners ran (the baseline's shape)")
    parser.add_argument("--vus", type=int, default=10, help="as --load-vus (default: 10)")
    parser.add_argument("--time-scale", type=float, default=1.0, help="as --load-time-scale")
    parser.add_argument("--regression", help="limits as ini load_regression (default: its)")


def _read(paths: list[Path]) -> list[Summary]:
    summaries = []
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            summaries.append(read_summary(data))
        except OSError as exc:
            raise Unusable(f"cannot read {path}: {exc.strerror or exc}") from None
        except json.JSONDecodeError as exc:
            raise Unusable(f"{path}: not JSON: {exc}") from None
        except SummaryError as exc:
            raise Unusable(f"{path}: {exc}") from None
    return summaries


def _spec(args: argparse.Namespace, summaries: list[Summary]) -> dict[str, Any]:
    """The thresholds: ``--thresholds``, the script's, or those the summaries name."""
    if args.thresholds:
        text = args.thresholds
        if not text.lstrip().startswith(("{", "[")):
            try:
                text = Path(text).read_text(encoding="utf-8")
            except OSError as exc:
                raise Unusable(f"--thresholds: cannot read {text}: {exc.strerror or exc}") from None
        try:
            spec = json.loads(text)
        except ValueError as exc:
            raise Unusable(f"--thresholds: not JSON: {exc}") from None
        if not isinstance(spec, dict):
            raise Unusable('--thresholds: expected an object such as {"http_reqs": ["count>0"]}')
        return spec
    if args.script is not None:
        return _script_thresholds(args)
    found: dict[str, list[str]] = {}
    for summary in summaries:
        for metric, texts in summary.thresholds.items():
            found.setdefault(metric, [])
            found[metric] += [t for t in texts if t not in found[metric]]
    return found


def _script_thresholds(args: argparse.Namespace) -> dict[str, Any]:
    from .k6 import inspect_thresholds
    from .k6bin import locate
    from .profiles import build_profile

    found = locate(None)
    if found.path is None:
        raise Unusable("--script needs k6 to read the script's thresholds; install k6, or leave "
                       "--script out: the summaries name the script's thresholds")  # fmt: skip
    profile = build_profile(args.profile, args.vus, args.time_scale) if args.profile else None
    thresholds = inspect_thresholds(found.path, args.script, profile)
    if thresholds is None:
        raise Unusable(f"k6 inspect {args.script} failed: is it a k6 script?")
    return thresholds


def _key_figures(metrics: dict[str, Exported], runners: int, results: list[Result]) -> str:
    from .state import k6_summary

    figures = k6_summary(metrics)

    def shown(key: str, spec: str, suffix: str = "") -> str:
        value = figures.get(key)
        return "-" if value is None else f"{value:{spec}}{suffix}"

    bounded = runners > 1 and figures.get("p95_ms") is not None
    return (
        f"{runners} runner(s): requests {shown('requests', '.0f')}, failed "
        f"{shown('failed_rate', '.2%')}, p95 {shown('p95_ms', '.1f', ' ms')}"
        f"{' (largest runner)' if bounded else ''}, req/s {shown('rps', '.1f')}, peak users "
        f"{shown('peak_users', '.0f')}; {len(results)} threshold(s)"
    )


def _baseline(args: argparse.Namespace, metrics: dict[str, Exported]) -> tuple[list[str], bool]:
    """Compare with and record in the store: the lines to print, and whether it regressed."""
    from .baseline import k6_groups, merge_into_file, read_file
    from .limits import DEFAULT_REGRESSION, RegressionSpecError, parse_regression
    from .profiles import build_profile
    from .state import LoadState

    if not args.profile:
        raise Unusable("--baselines needs --profile (and --vus, --time-scale as the runs had)")
    key = args.key or (f"{args.script.as_posix()}::k6" if args.script else None)
    if not key:
        raise Unusable("--baselines needs --key (the test's node id) or --script")
    try:
        limits = parse_regression(args.regression or DEFAULT_REGRESSION)
        profile = build_profile(args.profile, args.vus, args.time_scale)
    except (RegressionSpecError, ValueError) as exc:
        raise Unusable(str(exc)) from None
    state = LoadState(profile, args.time_scale, (), baseline_mode=args.baseline, limits=limits)
    store, problem = read_file(args.baselines)
    lines = [problem] if problem else []
    state.baselines = {k: s[state.shape] for k, s in store.items() if state.shape in s}
    verdict, failure = state.baseline_verdict(key, k6_groups(metrics))
    lines.append(failure or f"baseline of {key} ({state.shape}): {verdict.get('baseline', '-')}")
    record = verdict.get("record")
    if isinstance(record, dict):
        entry = (record["key"], record["shape"], record["record"], record["replace"])
        problem = merge_into_file(args.baselines, [entry])
        lines.append(problem or f"recorded in {args.baselines}")
    return lines, failure is not None


def run(args: argparse.Namespace) -> int:
    """Judge, print, and return the exit status."""
    try:
        summaries = _read(args.summaries)
        spec = _spec(args, summaries)
        try:
            sets = parse_thresholds(spec)
        except ThresholdError as exc:
            raise Unusable(str(exc)) from None
        if not sets and args.baselines is None:
            raise Unusable("no thresholds to judge: the summaries name none; give --script or "
                           "--thresholds")  # fmt: skip
        results, metrics = judge(sets, summaries, allow_empty=args.allow_empty)
        failed = any(not r.passed for r in results)
        lines = [_key_figures(metrics, len(summaries), results), ""]
        if results:
            lines += [format_table(results), ""]
        regressed = False
        if args.baselines is not None and not failed:
            baseline_lines, regressed = _baseline(args, metrics)
            lines += [*baseline_lines, ""]
    except Unusable as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    verdict = "thresholds failed" if failed else "regressed" if regressed else "passed"
    print("\n".join([*lines, f"{PROG}: {verdict}"]))
    return 1 if failed or regressed else 0
