"""The timing feature's outputs: the "slow tests" lines, the step summary's Markdown, the
``--slow-report-json`` document and the files written.

Imported only when there is something to show or a file was asked for: a run whose tests
are all fast and that writes no report file never loads this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..step_summary import append_step_summary, md_cell
from .aggregate import SHARED_SCOPES

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from .aggregate import TestTiming, TimingSummary

__all__ = [
    "fixtures_heading",
    "render_markdown",
    "render_terminal",
    "summary_parts",
    "to_json",
    "write_html",
    "write_json",
    "write_step_summary",
]


def _seconds(value: float) -> str:
    return f"{value:.2f}s"


def _capped(lines: list[str], rows: int | None, more: str) -> list[str]:
    if rows is None or len(lines) <= rows:
        return lines
    return [*lines[:rows], f"  ({len(lines) - rows} more; {more})"]


def render_terminal(summary: TimingSummary, rows: int | None) -> list[str]:
    """The lines of the "slow tests" section; ``rows`` limits the table and the lists
    (None: all)."""
    threshold = _seconds(summary.threshold)
    every = "--slow-report=all shows all"
    shown = summary.slow if rows is None else summary.slow[:rows]
    with_worker = any(t.worker != "master" for t in summary.slow)
    lines: list[str] = []
    if shown:
        head = f"{'call':>8} {'setup':>8} {'teardown':>8}"
        head += f"  {'worker':<7}" if with_worker else ""
        lines.append(f"{head}  {'marked slow':<11}  test")
        for t in shown:
            row = f"{_seconds(t.call):>8} {_seconds(t.setup):>8} {_seconds(t.teardown):>8}"
            row += f"  {t.worker:<7}" if with_worker else ""
            lines.append(f"{row}  {'yes' if t.marked_slow else 'no':<11}  {t.nodeid}")
        if len(shown) < len(summary.slow):
            lines.append(f"({len(summary.slow) - len(shown)} more; --slow-report=all shows all)")
    share = 100 * summary.slow_total / summary.total if summary.total else 0.0
    lines.append(
        f"{len(summary.slow)} of {summary.tests} tests slow (call over {threshold}): "
        f"{_seconds(summary.slow_total)}, {share:.0f}% of {_seconds(summary.total)} in all"
    )
    if summary.unmarked:
        lines.append(f"mark these slow (call over {threshold}, not marked slow):")
        unmarked = [f"  {t.nodeid} ({_seconds(t.call)})" for t in summary.unmarked]
        lines.extend(_capped(unmarked, rows, every))
    if summary.stale:
        fast = _seconds(summary.threshold / 10)
        lines.append(f"these may not need the slow marker (call and shared set-up under {fast}):")
        stale = [f"  {t.nodeid} ({_seconds(t.call + t.shared)})" for t in summary.stale]
        lines.extend(_capped(stale, rows, every))
    if summary.fixtures:
        lines.append(fixtures_heading(summary))
        listed = []
        for f in summary.fixtures:
            times = "once" if f.count == 1 else f"{f.count} times"
            where = f" in {f.baseid}" if f.baseid else ""
            listed.append(
                f"  {_seconds(f.longest):>8}  {f.scope:<8} {f.name}{where} (set up {times})"
            )
        lines.extend(_capped(listed, rows, every))
    return lines


def fixtures_heading(summary: TimingSummary) -> str:
    """Where the listed fixtures' set-up time went: a shared (session, package, module,
    class) fixture's to the fixture, a function-scoped one's to each test's setup."""
    threshold = _seconds(summary.threshold)
    scopes = {f.scope in SHARED_SCOPES for f in summary.fixtures}
    if scopes == {True}:
        where = "charged to the fixture"
    elif scopes == {False}:
        where = "function scope: in the setup time of each test that used it"
    else:
        where = "shared ones charged to the fixture, function-scoped ones to each test's setup"
    return f"slow fixtures (set-up over {threshold}, {where}):"


def render_markdown(summary: TimingSummary, rows: int | None) -> str:
    """The slow tests and unmarked lists as Markdown tables, for GitHub's step summary."""
    shown = summary.slow if rows is None else summary.slow[:rows]
    out = [f"### Slow tests (call over {_seconds(summary.threshold)})", ""]
    if shown:
        out += [
            "| test | call | setup | teardown | worker | marked slow |",
            "|---|---|---|---|---|---|",
        ]
        out += [
            f"| {md_cell(t.nodeid, code=True)} | {_seconds(t.call)} | {_seconds(t.setup)} | "
            f"{_seconds(t.teardown)} | {md_cell(t.worker)} | "
            f"{'yes' if t.marked_slow else 'no'} |"
            for t in shown
        ]
    else:
        out.append("No slow tests.")
    if summary.unmarked:
        out += ["", "#### Mark these slow", "", "| test | call |", "|---|---|"]
        out += [
            f"| {md_cell(t.nodeid, code=True)} | {_seconds(t.call)} |" for t in summary.unmarked
        ]
    return "\n".join(out) + "\n\n"


def _micro(seconds: float) -> float:
    """Seconds to the microsecond (as ``round(seconds, 6)``, without its decimal
    conversions: it runs four times for every test of the JSON report)."""
    return int(seconds * 1e6 + 0.5) / 1e6


def to_json(summary: TimingSummary, timings: Sequence[TestTiming]) -> dict[str, Any]:
    """The JSON document of ``--slow-report-json`` (schema: ``schemas/slow-report.json``)."""

    def test(t: TestTiming) -> dict[str, Any]:
        setup, call, teardown = t.setup, t.call, t.teardown
        return {
            "nodeid": t.nodeid,
            "setup": _micro(setup),
            "call": _micro(call),
            "teardown": _micro(teardown),
            "total": _micro(setup + call + teardown),
            "marked_slow": t.marked_slow,
            "worker": t.worker,
            "start": t.start,
            "stop": t.stop,
        }

    document = summary_parts(summary)
    document["tests"] = [test(t) for t in summary.slow]
    document["all_tests"] = [test(t) for t in sorted(timings, key=lambda t: (-t.total, t.nodeid))]
    document["total"] = round(summary.total, 6)
    return document


def summary_parts(summary: TimingSummary) -> dict[str, Any]:
    """The document's parts that are not per test, in its order; ``tests`` left None."""
    return {
        "threshold": summary.threshold,
        "tests": None,
        "unmarked_slow": [t.nodeid for t in summary.unmarked],
        "stale_slow": [t.nodeid for t in summary.stale],
        "fixtures": [
            {
                "name": f.name,
                "scope": f.scope,
                "baseid": f.baseid,
                "count": f.count,
                "longest": round(f.longest, 6),
                "total": round(f.total, 6),
            }
            for f in summary.fixtures
        ],
        "workers": {
            name: {"tests": int(w["tests"]), "seconds": round(w["seconds"], 6)}
            for name, w in summary.workers.items()
        },
    }


def _write(path: str, text: str, what: str, option: str) -> tuple[str | None, str | None]:
    """(``"what PATH"`` written, or the problem in one line)."""
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        return None, f"{option}: could not write {path}: {exc.strerror or exc}"
    return f"{what} {path}", None


def write_json(
    path: str,
    summary: TimingSummary,
    timings: Sequence[TestTiming],
    extras: Iterable[tuple[str, Callable[[], object]]],
) -> tuple[str | None, str | None]:
    """Write the ``--slow-report-json`` document with the parts other features add."""
    from ..json_report import encode_report

    # One line (jq shows it indented), made fast for 100,000 tests: the document to_json
    # describes, written without a dictionary per test.
    values = ((key, part()) for key, part in extras)
    text = encode_report(summary, timings, values)
    return _write(path, text, "the JSON report", "--slow-report-json")


def write_html(
    path: str,
    summary: TimingSummary,
    timings: Sequence[TestTiming],
    extras: Sequence[str],
    collection: Sequence[TestTiming],
) -> tuple[str | None, str | None]:
    """Write the ``--tempo-html`` page."""
    from ..report.html import render_html

    page = render_html(summary, list(timings), extras=list(extras), collection=list(collection))
    return _write(path, page, "the HTML page", "--tempo-html")


def write_step_summary(summary: TimingSummary, rows: int | None) -> str:
    """Append the tables to GitHub's step summary; the problem in one line, or ""."""
    return append_step_summary(render_markdown(summary, rows))
