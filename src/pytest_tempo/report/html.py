"""The worker timeline: one self-contained HTML page of a run (``--tempo-html=PATH``).

A pure function from the timing data to a string. The page needs no network and no
JavaScript: the timeline is inline SVG styled by inline CSS, and hovering a bar shows its
SVG ``<title>`` (the test's node id and seconds). Bars narrower than a couple of pixels are
merged into runs of quick tests, so a page of 10,000 tests stays small and readable; a run
containing a failure is drawn in the failure's colour, so no failure disappears.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ..types_summary import OTHER, TypeRow, type_rows

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..timing import TestTiming, TimingSummary

__all__ = ["render_html"]

#: outcomes in the order of the legend, with their CSS class and label
OUTCOMES = {"passed": "p", "failed": "f", "error": "e", "skipped": "s"}
#: failed tests and errors listed on the page; pytest's own output lists them all
FAILURE_ROWS = 200
#: every outcome counted, in the terms and order of pytest's summary line; an expected
#: failure is drawn as a skip, an unexpected pass as a pass
COUNTED = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
_CLASS = {**OUTCOMES, "xfailed": "s", "xpassed": "p"}
#: a run of quick tests takes the colour of its most serious outcome
_SEVERITY = ("failed", "error", "passed", "skipped")
#: the geometry of the SVG, in its own units (pixels at the page's full width)
WIDTH = 1200
LEFT = 96  # lane names
RIGHT = 104  # idle-tail seconds
PLOT = WIDTH - LEFT - RIGHT
TOP = 26  # axis labels
PITCH, BAR = 42, 30  # one lane, and a bar's height in it
COMPACT = 16  # with more workers than this, lanes are narrower:
COMPACT_PITCH, COMPACT_BAR = 22, 16
#: bars narrower than this are merged with their quick neighbours
MIN_PX = 2.0
#: a gap wider than this between two quick tests ends a merged run (the worker was idle)
GAP_PX = 1.0
#: rows of the slowest-tests table
SLOWEST_ROWS = 20
#: node ids named in the hover text of a merged run that contains failures
NAMED_FAILURES = 5

#: characters XML does not allow (and lone surrogates), replaced so the SVG always parses
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")

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
"""


def _esc(text: str) -> str:
    """Text or an attribute value, escaped for HTML and for XML (no control characters)."""
    return html.escape(_CONTROL.sub("\ufffd", text), quote=True)


def _sec(value: float) -> str:
    return f"{value:.2f}"


def _num(value: float) -> str:
    """A coordinate, short."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _worker_key(name: str) -> tuple[str, int, str]:
    """Natural order: gw2 before gw10; master and other names by name."""
    match = re.fullmatch(r"(\D*)(\d+)", name)
    if match:
        return (match.group(1), int(match.group(2)), name)
    return (name, -1, name)


def _nice_step(span: float, ticks: int = 10) -> float:
    """A 1, 2 or 5 times a power of ten step giving at most ``ticks`` ticks over ``span``."""
    raw = span / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power  # pragma: no cover - the loop always returns


def _tick_label(value: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return f"{value:.{decimals}f} s"


@dataclass
class _Run:
    """Quick tests merged into one bar."""

    x0: float
    x1: float
    start: float
    stop: float
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    def add(self, t: TestTiming, x0: float, x1: float, start: float, stop: float) -> None:
        self.x0 = min(self.x0, x0)
        self.x1 = max(self.x1, x1)
        self.start = min(self.start, start)
        self.stop = max(self.stop, stop)
        self.counts[t.outcome] = self.counts.get(t.outcome, 0) + 1
        self.seconds += t.total
        if t.outcome in ("failed", "error"):
            self.failures.append(t.nodeid)

    @property
    def outcome(self) -> str:
        return next((o for o in _SEVERITY if self.counts.get(o)), "passed")


@dataclass
class _Lane:
    name: str
    tests: list[TestTiming] = field(default_factory=list)

    @property
    def last_stop(self) -> float | None:
        return max((_stop(t) for t in self.tests), default=None)


def _stop(t: TestTiming) -> float:
    """The end of a test; never before its start."""
    return t.start + t.total if t.stop < t.start else t.stop


def _outcome_class(outcome: str) -> str:
    return _CLASS.get(outcome, "p")


def _bar(t: TestTiming, x0: float, x1: float, y: float, bar: int, t0: float) -> list[str]:
    width = max(x1 - x0, MIN_PX)
    cls = _outcome_class(t.outcome)
    hover = (
        f"{t.nodeid}\n{t.total:.3f} s ({t.outcome}; setup {t.setup:.3f}, call {t.call:.3f}, "
        f"teardown {t.teardown:.3f}; {t.start - t0:.2f} to {_stop(t) - t0:.2f} s)"
    )
    shared = _stop(t) - t.start - t.total
    if shared > 0.01:
        hover += f"\nplus {shared:.3f} s of shared fixture set-up (charged to the fixture)"
    out = [
        f'<rect class="b {cls}" x="{_num(x0)}" y="{_num(y)}" width="{_num(width)}" '
        f'height="{bar}"><title>{_esc(hover)}</title></rect>'
    ]
    chars = int((width - 8) / 6.6)
    name = t.nodeid.rpartition("::")[2] or t.nodeid
    if len(name) > chars and name.startswith("test_"):
        name = name[5:]  # the informative part first, where room is short
    if name and (chars >= 8 or len(name) <= chars):
        label = name if len(name) <= chars else name[: chars - 1] + "\u2026"
        out.append(
            f'<text class="bl {cls}" x="{_num(x0 + 4)}" y="{_num(y + bar / 2 + 4)}">'
            f"{_esc(label)}</text>"
        )
    return out


def _run_rect(run: _Run, y: float, bar: int, t0: float) -> str:
    count = sum(run.counts.values())
    parts = ", ".join(f"{run.counts[o]} {o}" for o in OUTCOMES if run.counts.get(o))
    hover = (
        f"{count} quick test{'s' if count != 1 else ''}, {run.seconds:.3f} s in all ({parts}; "
        f"{run.start - t0:.2f} to {run.stop - t0:.2f} s)"
    )
    if run.failures:
        named = run.failures[:NAMED_FAILURES]
        hover += "\nfailures: " + "\n".join(named)
        if len(run.failures) > len(named):
            hover += f"\n... and {len(run.failures) - len(named)} more"
    width = max(run.x1 - run.x0, MIN_PX)
    return (
        f'<rect class="{_outcome_class(run.outcome)}" x="{_num(run.x0)}" y="{_num(y)}" '
        f'width="{_num(width)}" height="{bar}"><title>{_esc(hover)}</title></rect>'
    )


def _lane_shapes(lane: _Lane, y: float, bar: int, t0: float, scale: float) -> list[str]:
    """The bars of one worker: wide tests one by one, quick neighbours merged into runs."""
    out: list[str] = []
    run: _Run | None = None

    def flush() -> None:
        nonlocal run
        if run is not None:
            out.append(_run_rect(run, y, bar, t0))
            run = None

    for t in sorted(lane.tests, key=lambda t: (t.start, _stop(t), t.nodeid)):
        start, stop = t.start, _stop(t)
        x0 = LEFT + (start - t0) * scale
        x1 = LEFT + (stop - t0) * scale
        if x1 - x0 >= MIN_PX:
            flush()
            out.extend(_bar(t, x0, x1, y, bar, t0))
            continue
        if run is not None and (
            x0 - run.x1 > GAP_PX or (run.x1 - run.x0 >= MIN_PX and run.outcome != t.outcome)
        ):
            flush()
        if run is None:
            run = _Run(x0, x1, start, stop)
        run.add(t, x0, x1, start, stop)
    flush()
    return out


def _timeline(lanes: list[_Lane], t0: float, end: float, bound: float) -> str:
    """The SVG: an axis, a lane per worker, its bars and idle tail, the lower bound."""
    span = end - t0
    scale = PLOT / span if span > 0 else 0.0
    pitch, bar = (PITCH, BAR) if len(lanes) <= COMPACT else (COMPACT_PITCH, COMPACT_BAR)
    bottom = TOP + pitch * max(len(lanes), 1)
    height = bottom + 20
    out = [
        f'<svg viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'role="img" aria-label="worker timeline">',
        '<defs><pattern id="idle" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/>'
        '<rect width="2" height="6" fill="#c3cad3"/></pattern></defs>',
    ]
    for i in range(len(lanes)):
        y = TOP + i * pitch
        out.append(f'<rect class="lane" x="{LEFT}" y="{y}" width="{PLOT}" height="{pitch - 4}"/>')
    if span > 0:
        step = _nice_step(span)
        k = 0
        while k * step <= span * (1 + 1e-9):
            x = LEFT + k * step * scale
            out.append(
                f'<line class="grid" x1="{_num(x)}" y1="{TOP - 4}" x2="{_num(x)}" '
                f'y2="{bottom - 4}"/>'
                f'<text class="ax" x="{_num(x)}" y="{TOP - 9}" text-anchor="middle">'
                f"{_tick_label(k * step, step)}</text>"
            )
            k += 1
    for i, lane in enumerate(lanes):
        y = TOP + i * pitch
        bar_y = y + (pitch - 4 - bar) / 2
        count = len(lane.tests)
        tests = f"{count} test{'s' if count != 1 else ''}"
        if pitch == PITCH:
            out.append(
                f'<text class="wn" x="{LEFT - 8}" y="{y + 16}" text-anchor="end">'
                f"{_esc(lane.name)}</text>"
                f'<text class="wc" x="{LEFT - 8}" y="{y + 30}" text-anchor="end">{tests}</text>'
            )
        else:
            out.append(
                f'<text class="wn" x="{LEFT - 8}" y="{_num(bar_y + bar / 2 + 4)}" '
                f'text-anchor="end">{_esc(lane.name)}<title>{tests}</title></text>'
            )
        if span > 0:
            out.extend(_lane_shapes(lane, bar_y, bar, t0, scale))
        last = lane.last_stop
        idle = end - (last if last is not None else t0)
        if span > 0 and idle > 0:
            x0 = LEFT + (end - idle - t0) * scale
            hover = (
                f"{lane.name} idle for the last {idle:.3f} s "
                f"({end - idle - t0:.2f} to {span:.2f} s)"
            )
            out.append(
                f'<rect class="idle" x="{_num(x0)}" y="{_num(bar_y)}" '
                f'width="{_num(max(idle * scale, 0.5))}" height="{bar}">'
                f"<title>{_esc(hover)}</title></rect>"
            )
        out.append(
            f'<text class="it" x="{LEFT + PLOT + 8}" y="{_num(bar_y + bar / 2 + 4)}">'
            f"idle {idle:.2f} s</text>"
        )
    if span > 0 and 0 < bound <= span:
        x = LEFT + bound * scale
        anchor = "end" if x > LEFT + PLOT - 70 else "middle"
        out.append(
            f'<line class="lb" x1="{_num(x)}" y1="{TOP - 4}" x2="{_num(x)}" y2="{bottom}"/>'
            f'<text class="lbt" x="{_num(x)}" y="{bottom + 13}" text-anchor="{anchor}">'
            f"lower bound {bound:.2f} s</text>"
        )
    if not lanes:
        out.append(
            f'<text class="ax" x="{LEFT + PLOT / 2}" y="{TOP + 18}" text-anchor="middle">'
            "no tests ran</text>"
        )
    out.append("</svg>")
    return "\n".join(out)


def _legend() -> str:
    items = [f'<li><span class="sw {c}"></span>{o}</li>' for o, c in OUTCOMES.items()]
    items.append('<li><span class="sw i"></span>idle tail: the worker had no more tests</li>')
    items.append('<li><span class="sw lb"></span>lower bound: no schedule ends before it</li>')
    return '<ul class="legend">' + "".join(items) + "</ul>"


def _tag(outcome: str) -> str:
    return f'<span class="tag {_outcome_class(outcome)}">{_esc(outcome)}</span>'


def _types_table(timings: Sequence[TestTiming]) -> str:
    rows = sorted(type_rows(timings, ()), key=lambda r: (r.name == OTHER, -r.seconds, r.name))
    if not rows:
        return '<p class="note">No tests ran.</p>'
    shown = [o for o in COUNTED if o in OUTCOMES or any(t.outcome == o for t in timings)]
    head = "".join(f'<th class="n">{h}</th>' for h in ("tests", *shown, "seconds"))
    out = [f"<table><thead><tr><th>type</th>{head}</tr></thead><tbody>"]
    field = {"error": "errors"}

    def cells(row: TypeRow) -> str:
        counts = (row.tests, *(getattr(row, field.get(o, o)) for o in shown))
        tds = "".join(f'<td class="n">{n}</td>' for n in counts)
        return f'{tds}<td class="n">{_sec(row.seconds)}</td>'

    out += [f"<tr><td>{_esc(row.name)}</td>{cells(row)}</tr>" for row in rows]
    total = type_rows([replace(t, types=("all tests",)) for t in timings], ())
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
            f'<tr><td class="id">{_esc(t.nodeid)}</td><td>{_esc(t.worker)}</td>'
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
        f'<tr><td class="id">{_esc(t.nodeid)}</td><td>{_tag(t.outcome)}</td>'
        f"<td>{_esc(t.worker)}</td></tr>"
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
        f'<tr><td class="id">{_esc(f.name)}</td><td>{_esc(f.scope)}</td>'
        f'<td class="id">{_esc(f.baseid) or "(root)"}</td><td class="n">{f.count}</td>'
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
    lanes = {name: _Lane(name) for name in sorted(names, key=_worker_key)}
    for t in drawn:
        lanes[t.worker].tests.append(t)
    t0 = min((t.start for t in drawn), default=0.0)
    end = max((_stop(t) for t in drawn), default=t0)
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
            _card("tests", str(len(counted)), _esc(outcome_detail)),
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
        f"<title>{_esc(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_esc(title)}</h1>",
        f'<p class="sub">{started}slow threshold {_sec(summary.threshold)} s</p>',
        f'<dl class="cards">{cards}</dl>',
        "<h2>Failures and errors</h2>",
        _failures_table(counted),
        *(extra for extra in extras if extra),
        "<h2>Worker timeline</h2>",
        _legend(),
        _timeline(list(lanes.values()), t0, end, bound),
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
