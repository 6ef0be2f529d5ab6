"""The worker timeline: one lane per worker, a bar per test, as inline SVG.

Hovering a bar shows its SVG ``<title>`` (the test's node id and seconds). Bars narrower
than a couple of pixels are merged into runs of quick tests, so a page of 10,000 tests stays
small and readable; a run containing a failure is drawn in the failure's colour, so no
failure disappears. Pure: timing data in, SVG text out.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .svg import esc, nice_step, num

if TYPE_CHECKING:
    from ..timing import TestTiming

__all__ = [
    "MIN_PX",
    "OUTCOMES",
    "PLOT",
    "Lane",
    "legend",
    "outcome_class",
    "stop_of",
    "timeline_svg",
    "worker_key",
]

#: outcomes in the order of the legend, with their CSS class and label
OUTCOMES = {"passed": "p", "failed": "f", "error": "e", "skipped": "s"}
#: an expected failure is drawn as a skip, an unexpected pass as a pass
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
#: node ids named in the hover text of a merged run that contains failures
NAMED_FAILURES = 5


def worker_key(name: str) -> tuple[str, int, str]:
    """Natural order: gw2 before gw10; master and other names by name."""
    match = re.fullmatch(r"(\D*)(\d+)", name)
    if match:
        return (match.group(1), int(match.group(2)), name)
    return (name, -1, name)


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
class Lane:
    name: str
    tests: list[TestTiming] = field(default_factory=list)

    @property
    def last_stop(self) -> float | None:
        return max((stop_of(t) for t in self.tests), default=None)


def stop_of(t: TestTiming) -> float:
    """The end of a test; never before its start."""
    return t.start + t.total if t.stop < t.start else t.stop


def outcome_class(outcome: str) -> str:
    return _CLASS.get(outcome, "p")


def _bar(t: TestTiming, x0: float, x1: float, y: float, bar: int, t0: float) -> list[str]:
    width = max(x1 - x0, MIN_PX)
    cls = outcome_class(t.outcome)
    hover = (
        f"{t.nodeid}\n{t.total:.3f} s ({t.outcome}; setup {t.setup:.3f}, call {t.call:.3f}, "
        f"teardown {t.teardown:.3f}; {t.start - t0:.2f} to {stop_of(t) - t0:.2f} s)"
    )
    shared = stop_of(t) - t.start - t.total
    if shared > 0.01:
        hover += f"\nplus {shared:.3f} s of shared fixture set-up (charged to the fixture)"
    out = [
        f'<rect class="b {cls}" x="{num(x0)}" y="{num(y)}" width="{num(width)}" '
        f'height="{bar}"><title>{esc(hover)}</title></rect>'
    ]
    chars = int((width - 8) / 6.6)
    name = t.nodeid.rpartition("::")[2] or t.nodeid
    if len(name) > chars and name.startswith("test_"):
        name = name[5:]  # the informative part first, where room is short
    if name and (chars >= 8 or len(name) <= chars):
        label = name if len(name) <= chars else name[: chars - 1] + "\u2026"
        out.append(
            f'<text class="bl {cls}" x="{num(x0 + 4)}" y="{num(y + bar / 2 + 4)}">'
            f"{esc(label)}</text>"
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
        f'<rect class="{outcome_class(run.outcome)}" x="{num(run.x0)}" y="{num(y)}" '
        f'width="{num(width)}" height="{bar}"><title>{esc(hover)}</title></rect>'
    )


def _lane_shapes(lane: Lane, y: float, bar: int, t0: float, scale: float) -> list[str]:
    """The bars of one worker: wide tests one by one, quick neighbours merged into runs."""
    out: list[str] = []
    run: _Run | None = None

    def flush() -> None:
        nonlocal run
        if run is not None:
            out.append(_run_rect(run, y, bar, t0))
            run = None

    # By start, stop and node id (the index keeps two records of one test apart).
    timed = sorted([(t.start, stop_of(t), t.nodeid, i, t) for i, t in enumerate(lane.tests)])
    for start, stop, _, _, t in timed:
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


def timeline_svg(lanes: list[Lane], t0: float, end: float, bound: float) -> str:
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
        step = nice_step(span)
        k = 0
        while k * step <= span * (1 + 1e-9):
            x = LEFT + k * step * scale
            out.append(
                f'<line class="grid" x1="{num(x)}" y1="{TOP - 4}" x2="{num(x)}" '
                f'y2="{bottom - 4}"/>'
                f'<text class="ax" x="{num(x)}" y="{TOP - 9}" text-anchor="middle">'
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
                f"{esc(lane.name)}</text>"
                f'<text class="wc" x="{LEFT - 8}" y="{y + 30}" text-anchor="end">{tests}</text>'
            )
        else:
            out.append(
                f'<text class="wn" x="{LEFT - 8}" y="{num(bar_y + bar / 2 + 4)}" '
                f'text-anchor="end">{esc(lane.name)}<title>{tests}</title></text>'
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
                f'<rect class="idle" x="{num(x0)}" y="{num(bar_y)}" '
                f'width="{num(max(idle * scale, 0.5))}" height="{bar}">'
                f"<title>{esc(hover)}</title></rect>"
            )
        out.append(
            f'<text class="it" x="{LEFT + PLOT + 8}" y="{num(bar_y + bar / 2 + 4)}">'
            f"idle {idle:.2f} s</text>"
        )
    if span > 0 and 0 < bound <= span:
        x = LEFT + bound * scale
        anchor = "end" if x > LEFT + PLOT - 70 else "middle"
        out.append(
            f'<line class="lb" x1="{num(x)}" y1="{TOP - 4}" x2="{num(x)}" y2="{bottom}"/>'
            f'<text class="lbt" x="{num(x)}" y="{bottom + 13}" text-anchor="{anchor}">'
            f"lower bound {bound:.2f} s</text>"
        )
    if not lanes:
        out.append(
            f'<text class="ax" x="{LEFT + PLOT / 2}" y="{TOP + 18}" text-anchor="middle">'
            "no tests ran</text>"
        )
    out.append("</svg>")
    return "\n".join(out)


def legend() -> str:
    items = [f'<li><span class="sw {c}"></span>{o}</li>' for o, c in OUTCOMES.items()]
    items.append('<li><span class="sw i"></span>idle tail: the worker had no more tests</li>')
    items.append('<li><span class="sw lb"></span>lower bound: no schedule ends before it</li>')
    return '<ul class="legend">' + "".join(items) + "</ul>"
