"""The advice as a person reads it: terminal lines, JSON, Markdown and an HTML fragment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .judge import Advice

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from .flaky import Flaky
    from .parallel import Forecast
    from .scope import ScopeAdvice

__all__ = ["ROWS", "Advice", "render_html", "render_markdown", "render_terminal", "to_json"]

#: Entries shown per list in the terminal; ``-v`` shows all.
ROWS = 10


def _s(seconds: float) -> str:
    return f"{seconds:.2f}s"


def _capped(lines: list[str], rows: int | None, what: str) -> list[str]:
    if rows is None or len(lines) <= rows:
        return lines
    return [*lines[:rows], f"  ({len(lines) - rows} more {what}; -v shows all)"]


def scope_line(a: ScopeAdvice) -> str:
    """``if db holds no per-test state, module scope would save ~9.60s (4 set-ups, not 52)``."""
    options = [
        f"{scope} scope would save ~{_s(a.total - paid)} ({count} set-up"
        f"{'s' if count != 1 else ''}, not {a.count})"
        for scope, count, paid in a.wider
    ]
    return f"if {a.name} holds no per-test state, " + "; ".join(options)


def flaky_text(f: Flaky) -> str:
    parts = []
    if f.failed:
        parts.append(f"failed {f.failed} of the last {f.runs} runs")
    if f.reruns:
        times = "once" if f.reruns == 1 else f"{f.reruns} times"
        parts.append(f"failed {times} and passed on a rerun in this run")
    return "; ".join(parts)


def forecast_lines(f: Forecast) -> list[str]:
    now = "serially" if f.now_workers <= 1 else f"on {f.now_workers} workers"
    lines = [
        f"what -n would buy (each worker starts in ~{_s(f.start_up)}; this run took "
        f"{_s(f.now)} {now}):"
    ]
    for row in f.rows:
        line = f"  -n {row.workers:<2}  {_s(row.duration):>8} with --tempo-dist=duration"
        if row.load is not None:
            line += f", {_s(row.load):>8} with xdist's default"
        lines.append(line)
    if f.stops_at is not None:
        why = f.bound
        if why == "the longest test":
            why = (
                f"the longest test ({f.longest[0]}, {_s(f.longest[1])}) and what shares its worker"
            )
        lines.append(f"  past -n {f.stops_at} more workers barely pay: the run is bound by {why}")
    return lines


def render_terminal(advice: Advice, rows: int | None = ROWS) -> list[str]:
    """The lines of the "advice" section; ``rows`` caps each list (None: all)."""
    out: list[str] = []
    if advice.scopes:
        out.append(
            f"fixtures set up more often than they may need (set-ups of at least "
            f"{_s(advice.threshold)} in all):"
        )
        entries = []
        for a in advice.scopes:
            where = f", {a.location}" if a.location else ""
            entries.append(
                f"  {a.name} ({a.scope} scope{where}): set up {a.count} times, {_s(a.each)} "
                f"each, {_s(a.total)} in all\n    {scope_line(a)}"
            )
        out += _capped(entries, rows, "fixtures")
    if advice.sleepers:
        slept = sum(s.slept for s in advice.sleepers)
        call = sum(s.call for s in advice.sleepers)
        count = len(advice.sleepers)
        out.append(
            f"{count} test{'s' if count != 1 else ''} slept {_s(slept)}, "
            f"{100 * slept / call:.0f}% of {'their' if count != 1 else 'its'} time "
            "(wait for the condition, or mock the clock):"
        )
        out += _capped(
            [f"  {_s(s.slept):>8} of {_s(s.call):>8}  {s.nodeid}" for s in advice.sleepers],
            rows,
            "tests",
        )
    if advice.forecast is not None:
        out += forecast_lines(advice.forecast)
    if advice.slower:
        out.append("got slower (call over 3x the median of its recorded runs):")
        out += _capped(
            [
                f"  {_s(s.before):>8} -> {_s(s.now):>8}  {s.nodeid} (median of {s.runs} runs)"
                for s in advice.slower
            ],
            rows,
            "tests",
        )
    if advice.flaky:
        out.append("flaky (passed and failed with the same source):")
        out += _capped([f"  {f.nodeid}: {flaky_text(f)}" for f in advice.flaky], rows, "tests")
    return [line for entry in out for line in entry.split("\n")]


def to_json(advice: Advice) -> dict[str, Any]:
    """The ``advice`` part of the ``--slow-report-json`` document."""
    f = advice.forecast
    return {
        "fixture_scope": [
            {
                "name": a.name,
                "scope": a.scope,
                "location": a.location,
                "count": a.count,
                "each": round(a.each, 6),
                "total": round(a.total, 6),
                "wider": [{"scope": s, "count": c, "seconds": round(p, 6)} for s, c, p in a.wider],
            }
            for a in advice.scopes
        ],
        "sleeping": [
            {"nodeid": s.nodeid, "slept": round(s.slept, 6), "call": round(s.call, 6)}
            for s in advice.sleepers
        ],
        "parallelism": None
        if f is None
        else {
            "now": round(f.now, 6),
            "now_workers": f.now_workers,
            "start_up": round(f.start_up, 6),
            "rows": [
                {
                    "workers": r.workers,
                    "duration": round(r.duration, 6),
                    "load": None if r.load is None else round(r.load, 6),
                }
                for r in f.rows
            ],
            "stops_at": f.stops_at,
            "bound": f.bound,
        },
        "slower": [
            {"nodeid": s.nodeid, "before": round(s.before, 6), "now": round(s.now, 6)}
            for s in advice.slower
        ],
        "flaky": [
            {"nodeid": x.nodeid, "failed": x.failed, "runs": x.runs, "reruns": x.reruns}
            for x in advice.flaky
        ],
    }


def _md_table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A Markdown table of ``rows`` (cells already escaped) under ``head``, and a blank line."""
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return [*out, ""]


def render_markdown(advice: Advice) -> str:
    """The advice for GitHub's step summary."""
    from ..step_summary import md_cell

    out = ["### Advice", ""]
    if advice.scopes:
        head = ("fixture", "scope", "set-ups", "each", "total", "wider scope would pay")
        out += _md_table(head, (
            (md_cell(a.name, code=True), a.scope, str(a.count), _s(a.each), _s(a.total),
             md_cell(", ".join(f"{s} {_s(p)}" for s, _, p in a.wider)))
            for a in advice.scopes
        ))  # fmt: skip
    if advice.sleepers:
        out += _md_table(("sleeping test", "slept", "call"), (
            (md_cell(s.nodeid, code=True), _s(s.slept), _s(s.call)) for s in advice.sleepers
        ))  # fmt: skip
    if advice.forecast is not None:
        out += _md_table(("workers", "--tempo-dist=duration", "xdist's default"), (
            (f"-n {r.workers}", _s(r.duration), "" if r.load is None else _s(r.load))
            for r in advice.forecast.rows
        ))  # fmt: skip
    if advice.slower:
        out += _md_table(("got slower", "before (median)", "now"), (
            (md_cell(s.nodeid, code=True), _s(s.before), _s(s.now)) for s in advice.slower
        ))  # fmt: skip
    if advice.flaky:
        out += _md_table(("flaky test", "record"), (
            (md_cell(f.nodeid, code=True), md_cell(flaky_text(f))) for f in advice.flaky
        ))  # fmt: skip
    return "\n".join(out) + "\n"


def render_html(advice: Advice) -> str:
    """The advice as an HTML fragment for the ``--tempo-html`` page: the terminal's lines."""
    import html

    lines = render_terminal(advice, rows=None)
    body = "\n".join(html.escape(line) for line in lines)
    return f'<section id="advice"><h2>Advice</h2><pre>{body}</pre></section>'
