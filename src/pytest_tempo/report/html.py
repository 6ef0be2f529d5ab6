"""One self-contained HTML page of a run (``--tempo-html=PATH``).

A pure function from the timing data to a string: the totals, failures, the fragments of
other features (the advice, the load tests' charts), the worker timeline
(:mod:`.timeline`), per-type totals, the slowest tests and fixtures. The page needs no
network and no JavaScript: inline SVG styled by the inline CSS below.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ..types_summary import OTHER, TypeRow, type_rows
from .svg import esc
from .timeline import (
    MIN_PX,
    OUTCOMES,
    Lane,
    legend,
    outcome_class,
    stop_of,
    timeline_svg,
    worker_key,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..timing import TestTiming, TimingSummary

__all__ = ["render_html"]

#: failed tests and errors listed on the page; pytest's own output lists them all
FAILURE_ROWS = 200
#: every outcome counted, in the terms and order of pytest's summary line
COUNTED = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
#: rows of the slowest-tests table
SLOWEST_ROWS = 20

_CSS = """
:root{--p:#3b9a5a;--f:#d62839;--e:#8a3ffc;--s:#a9b1bd;--ink:#1f2328;--mute:#59636e;
--line:#d8dee4;--bg:#fff;--band:#f6f8fa;--lb:#0969da}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1240px;padding:20px;font:14px/1.45 system-ui,-apple-system,
"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
h1{font-size:22px;margin:0 0 2px}
h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
.sub,.note{color:var(--mute);font-size:13px;margin:4px 0}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0 0;padding:0}
.cards div{border:1px solid var(--line);border-radius:6px;padding:7px 12px;min-width:120px;
background:var(--band)}
.cards dt{font-size:12px;color:var(--mute)}
.cards dd{margin:0;font-size:19px;font-weight:600}
.cards dd small{font-size:12px;font-weight:400;color:var(--mute)}
.legend{display:flex;flex-wrap:wrap;gap:16px;margin:0 0 6px;padding:0;list-style:none;
font-size:13px}
.sw{display:inline-block;width:14px;height:14px;border-radius:2px;vertical-align:-2px;
margin-right:5px}
.sw.p{background:var(--p)}.sw.f{background:var(--f)}.sw.e{background:var(--e)}
.sw.s{background:var(--s)}
.sw.lb{width:0;height:14px;border-left:2px dashed var(--lb);border-radius:0}
.sw.i{background:repeating-linear-gradient(135deg,#fff 0 3px,#c3cad3 3px 5px);
border:1px dashed #8c959f}
svg{display:block;width:100%;height:auto}
svg text{font:12px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;fill:var(--ink)}
svg .ax{fill:var(--mute)}
svg .grid{stroke:var(--line);stroke-width:1}
svg .lane{fill:var(--band)}
svg .wn{font-weight:600;font-size:13px}
svg .wc{fill:var(--mute);font-size:11px}
svg .p{fill:var(--p)}svg .f{fill:var(--f)}svg .e{fill:var(--e)}svg .s{fill:var(--s)}
svg rect.b{stroke:#fff;stroke-width:.6}
svg rect:hover{stroke:var(--ink);stroke-width:1.5}
svg .idle{fill:url(#idle);stroke:#8c959f;stroke-dasharray:3 2;stroke-width:.8}
svg .it{fill:var(--mute);font-weight:600}
svg .lb{stroke:var(--lb);stroke-width:1.5;stroke-dasharray:5 3}
svg .lbt{fill:var(--lb);font-weight:600}
svg .bl{fill:#fff;pointer-events:none}
svg .bl.s{fill:var(--ink)}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:var(--band);font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.id{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;
word-break:break-all}
tr.sum td{font-weight:600}
.tag{display:inline-block;padding:0 6px;border-radius:9px;font-size:12px;color:#fff}
.tag.p{background:var(--p)}.tag.f{background:var(--f)}.tag.e{background:var(--e)}
.tag.s{background:var(--s);color:var(--ink)}
.charts{display:flex;flex-wrap:wrap;gap:8px 10px;margin:8px 0}
svg.chart{width:372px;max-width:100%;border:1px solid var(--line);border-radius:6px}
svg .ct{font-weight:600;font-size:13px}
svg .rps{stroke:var(--lb);fill:var(--lb)}svg .p95{stroke:#8250df;fill:#8250df}
svg .err{stroke:var(--f);fill:var(--f)}svg .vus{stroke:var(--p);fill:var(--p)}
svg .cpu{stroke:#bc4c00;fill:#bc4c00}svg .rss{stroke:#1b7c83;fill:#1b7c83}
svg polyline.ln{fill:none;stroke-width:1.6;stroke-linejoin:round}
svg polygon.area{stroke:none;fill-opacity:.12}
h3{font-size:15px;margin:18px 0 2px;font-weight:600}
"""


def _sec(value: float) -> str:
    return f"{value:.2f}"


def _tag(outcome: str) -> str:
    return f'<span class="tag {outcome_class(outcome)}">{esc(outcome)}</span>'


def _types_table(timings: Sequence[TestTiming]) -> str:
    rows = sorted(type_rows(timings, ()), key=lambda r: (r.name == OTHER, -r.seconds, r.name))
    if not rows:
        return '<p class="note">No tests ran.</p>'
    seen = {t.outcome for t in timings}
    shown = [o for o in COUNTED if o in OUTCOMES or o in seen]
    head = "".join(f'<th class="n">{h}</th>' for h in ("tests", *shown, "seconds"))
    out = [f"<table><thead><tr><th>type</th>{head}</tr></thead><tbody>"]
    field = {"error": "errors"}

    def cells(row: TypeRow) -> str:
        counts = (row.tests, *(getattr(row, field.get(o, o)) for o in shown))
        tds = "".join(f'<td class="n">{n}</td>' for n in counts)
        return f'{tds}<td class="n">{_sec(row.seconds)}</td>'

    out += [f"<tr><td>{esc(row.name)}</td>{cells(row)}</tr>" for row in rows]
    total = type_rows(timings, (), every="all tests")
    out.append(f'<tr class="sum"><td>all tests</td>{cells(total[0])}</tr></tbody></table>')
    if sum(row.tests for row in rows) > len(timings):
        out.append(
            '<p class="note">A test carrying two type markers counts under each of them.</p>'
        )
    return "\n".join(out)


def _slowest_table(summary: TimingSummary, timings: Sequence[TestTiming]) -> str:
    slow = {t.nodeid for t in summary.slow}
    rows = sorted(timings, key=lambda t: (-t.total, t.nodeid))[:SLOWEST_ROWS]
    intro = (
        f'<p class="note">{len(summary.slow)} of {summary.tests} tests slow (call over '
        f"{_sec(summary.threshold)} s); the {len(rows)} longest by total seconds:</p>"
    )
    if not rows:
        return '<p class="note">No tests ran.</p>'
    head = (
        "<tr><th>test</th><th>worker</th><th>outcome</th>"
        + "".join(f'<th class="n">{h}</th>' for h in ("setup", "call", "teardown", "total"))
        + "<th>slow</th></tr>"
    )
    body = []
    for t in rows:
        if t.nodeid in slow:
            flag = "marked" if t.marked_slow else "<strong>not marked</strong>"
        else:
            flag = "marked" if t.marked_slow else ""
        body.append(
            f'<tr><td class="id">{esc(t.nodeid)}</td><td>{esc(t.worker)}</td>'
            f"<td>{_tag(t.outcome)}</td>"
            + "".join(
                f'<td class="n">{_sec(v)}</td>' for v in (t.setup, t.call, t.teardown, t.total)
            )
            + f"<td>{flag}</td></tr>"
        )
    return intro + f"<table><thead>{head}</thead><tbody>" + "\n".join(body) + "</tbody></table>"


def _failures_table(timings: Sequence[TestTiming]) -> str:
    """Every test that failed or errored (collection errors included), in node id order."""
    failed = sorted((t for t in timings if t.outcome in ("failed", "error")),
                    key=lambda t: t.nodeid)  # fmt: skip
    if not failed:
        return '<p class="note">No test failed.</p>'
    head = "<tr><th>test</th><th>outcome</th><th>worker</th></tr>"
    body = [
        f'<tr><td class="id">{esc(t.nodeid)}</td><td>{_tag(t.outcome)}</td>'
        f"<td>{esc(t.worker)}</td></tr>"
        for t in failed[:FAILURE_ROWS]
    ]
    if len(failed) > FAILURE_ROWS:
        more = len(failed) - FAILURE_ROWS
        body.append(f'<tr><td colspan="3">and {more} more (pytest\'s output lists all)</td></tr>')
    return (
        f'<table id="failures"><thead>{head}</thead><tbody>' + "\n".join(body) + "</tbody></table>"
    )


def _fixtures_table(summary: TimingSummary) -> str:
    if not summary.fixtures:
        return f'<p class="note">No fixture set-up took over {_sec(summary.threshold)} s.</p>'
    head = (
        "<tr><th>fixture</th><th>scope</th><th>defined in</th>"
        + "".join(f'<th class="n">{h}</th>' for h in ("set-ups", "longest", "total"))
        + "</tr>"
    )
    body = [
        f'<tr><td class="id">{esc(f.name)}</td><td>{esc(f.scope)}</td>'
        f'<td class="id">{esc(f.baseid) or "(root)"}</td><td class="n">{f.count}</td>'
        f'<td class="n">{_sec(f.longest)}</td><td class="n">{_sec(f.total)}</td></tr>'
        for f in summary.fixtures
    ]
    intro = (
        f'<p class="note">Fixtures whose set-up took over {_sec(summary.threshold)} s; '
        "a shared fixture's set-up is charged to the fixture, not to the test that "
        "triggered it.</p>"
    )
    return intro + f"<table><thead>{head}</thead><tbody>" + "\n".join(body) + "</tbody></table>"


def _card(label: str, value: str, detail: str = "") -> str:
    small = f" <small>{detail}</small>" if detail else ""
    return f"<div><dt>{label}</dt><dd>{value}{small}</dd></div>"


def render_html(
    summary: TimingSummary,
    timings: Sequence[TestTiming],
    *,
    extras: Sequence[str] = (),
    collection: Sequence[TestTiming] = (),
    title: str = "pytest-tempo run",
) -> str:
    """The worker timeline page of a run, as one self-contained HTML document.

    ``timings`` are every test of the run (``start`` and ``stop`` in epoch seconds; tests
    without them are counted but not drawn), ``summary`` the run's timing summary, ``extras``
    HTML fragments of other features (the advice) shown after the cards, ``collection`` the
    modules skipped or in error at collection (counted as pytest's summary line counts
    them). The time axis starts at the earliest set-up and the run ends at the last teardown.
    """
    drawn = [t for t in timings if t.start > 0]
    names = {t.worker for t in timings} | set(summary.workers)
    lanes = {name: Lane(name) for name in sorted(names, key=worker_key)}
    for t in drawn:
        lanes[t.worker].tests.append(t)
    t0 = min((t.start for t in drawn), default=0.0)
    end = max((stop_of(t) for t in drawn), default=t0)
    wall = end - t0

    workers = max(len(lanes), 1)
    total = summary.total
    longest = max((t.total for t in timings), default=0.0)
    bound = max(longest, total / workers)
    ratio = f"{wall / bound:.2f}" if bound > 0 and drawn else "n/a"
    counted = [*timings, *collection]
    counts = {o: sum(1 for t in counted if t.outcome == o) for o in COUNTED}
    outcome_detail = ", ".join(f"{n} {o}" for o, n in counts.items() if n)

    started = ""
    if drawn:
        when = datetime.fromtimestamp(t0, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        started = f"started {when} · "
    cards = "".join(
        (
            _card("tests", str(len(counted)), esc(outcome_detail)),
            _card("workers", str(len(lanes))),
            _card("wall time", f"{wall:.2f} s" if drawn else "n/a"),
            _card("sum of test time", f"{total:.2f} s"),
            _card(
                "lower bound",
                f"{bound:.2f} s",
                f"max(longest {longest:.2f} s, {total:.2f} s / {workers})",
            ),
            _card("wall ÷ bound", ratio),
        )
    )
    undrawn = len(timings) - len(drawn)
    notes = [
        "Each lane is a worker; x is seconds since the first test's set-up. Hover a bar "
        "for the test's node id and seconds. Bars narrower than "
        f"{MIN_PX:g} px are merged into runs of quick tests, coloured by their most "
        "serious outcome."
    ]
    if undrawn:
        notes.append(f"{undrawn} test(s) without start and stop times are not drawn.")
    page = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f'<p class="sub">{started}slow threshold {_sec(summary.threshold)} s</p>',
        f'<dl class="cards">{cards}</dl>',
        "<h2>Failures and errors</h2>",
        _failures_table(counted),
        *(extra for extra in extras if extra),
        "<h2>Worker timeline</h2>",
        legend(),
        timeline_svg(list(lanes.values()), t0, end, bound),
        "".join(f'<p class="note">{n}</p>' for n in notes),
        "<h2>Test types</h2>",
        _types_table(counted),
        "<h2>Slowest tests</h2>",
        _slowest_table(summary, timings),
        "<h2>Slow fixtures</h2>",
        _fixtures_table(summary),
        "</body></html>",
        "",
    ]
    return "\n".join(page)
