"""SVG drawing shared by the HTML page: escaping, coordinates, ticks, and a line chart.

Pure: numbers and strings in, SVG text out. Every text and attribute value goes through
:func:`esc`, so a node id or label can hold ``<``, ``&`` or control characters and the SVG
still parses as XML. No script, no font or stylesheet to fetch: the page's inline CSS
colours the classes used here.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["Line", "esc", "line_chart", "nice_step", "num"]

#: characters XML does not allow (and lone surrogates), replaced so the SVG always parses
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")

#: the geometry of a line chart, in its own units
CHART_W, CHART_H = 372, 196
C_LEFT, C_RIGHT, C_TOP, C_BOTTOM = 50, 14, 40, 36
#: unknown values in a row that a line still bridges
BRIDGED = 2


def esc(text: str) -> str:
    """Text or an attribute value, escaped for HTML and for XML (no control characters)."""
    return html.escape(_CONTROL.sub("\ufffd", text), quote=True)


def num(value: float) -> str:
    """A coordinate, short."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def nice_step(span: float, ticks: int = 10) -> float:
    """A 1, 2 or 5 times a power of ten step giving at most ``ticks`` ticks over ``span``."""
    raw = span / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power  # pragma: no cover - the loop always returns


def _label(value: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    text = f"{value:,.{decimals}f}"
    return text


@dataclass(frozen=True)
class Line:
    """One line of a chart: its values (None: a gap) and the CSS class of its colour."""

    label: str
    values: Sequence[float | None]
    cls: str


def _segments(
    xs: Sequence[float], values: Sequence[float | None]
) -> list[list[tuple[float, float]]]:
    """Runs of known values, split where more than :data:`BRIDGED` in a row are unknown
    (a sample taken once a second now and then misses a second: that is no gap)."""
    runs: list[list[tuple[float, float]]] = [[]]
    unknown = 0
    for x, v in zip(xs, values, strict=True):
        if v is None:
            unknown += 1
            if unknown > BRIDGED and runs[-1]:
                runs.append([])
        else:
            unknown = 0
            runs[-1].append((x, v))
    return [run for run in runs if run]


def _x_axis(end: float, left: float, width: float, bottom: float) -> list[str]:
    minutes = end > 600
    unit, span = (60.0, end / 60) if minutes else (1.0, end)
    step = nice_step(span, 6) if span > 0 else 1.0
    out = []
    k = 0
    while k * step <= span * (1 + 1e-9):
        x = left + k * step * unit / end * width if end > 0 else left
        out.append(
            f'<line class="grid" x1="{num(x)}" y1="{C_TOP}" x2="{num(x)}" y2="{num(bottom)}"/>'
            f'<text class="ax" x="{num(x)}" y="{num(bottom + 13)}" text-anchor="middle">'
            f"{_label(k * step, step)}</text>"
        )
        k += 1
    words = "minutes" if minutes else "seconds"
    out.append(
        f'<text class="ax" x="{num(left + width)}" y="{num(bottom + 29)}" text-anchor="end">'
        f"{words} since the load began</text>"
    )
    return out


def line_chart(
    title: str,
    unit: str,
    t: Sequence[float],
    lines: Sequence[Line],
    *,
    step: float,
    end: float | None = None,
    floor: float = 0.0,
) -> str:
    """A small chart of ``lines`` over the bucket starts ``t`` (seconds), each value drawn
    at its bucket's middle. The y axis starts at 0 and reaches at least ``floor``; ``unit``
    labels it, ``title`` heads the chart and names it for screen readers."""
    end = end if end is not None else (t[-1] + step if t else step)
    width = CHART_W - C_LEFT - C_RIGHT
    bottom = CHART_H - C_BOTTOM
    height = bottom - C_TOP
    known = [v for line in lines for v in line.values if v is not None]
    top = max([floor, *known]) if known else floor
    top = max(top, 1e-6) if top > 0 else 0.0  # a tick step of a denormal does not exist
    y_step = nice_step(top, 4) if top > 0 else 1.0
    y_max = math.ceil(top / y_step - 1e-9) * y_step if top > 0 else y_step

    def ys(v: float) -> float:
        return bottom - v / y_max * height

    def xs(seconds: float) -> float:
        return C_LEFT + min(max(seconds, 0.0), end) / end * width if end > 0 else C_LEFT

    peak = max(known) if known else None
    summary = f"{title}: " + (f"peak {peak:,.4g} {unit}" if peak is not None else "no samples")
    out = [
        f'<svg class="chart" viewBox="0 0 {CHART_W} {CHART_H}" width="{CHART_W}" '
        f'height="{CHART_H}" role="img" aria-label="{esc(summary)}">',
        f"<title>{esc(summary)}</title>",
        f'<text class="ct" x="4" y="16">{esc(title)}</text>',
        f'<text class="ax" x="4" y="{C_TOP - 9}">{esc(unit)}</text>',
    ]
    k = 0
    while k * y_step <= y_max * (1 + 1e-9):
        y = ys(k * y_step)
        out.append(
            f'<line class="grid" x1="{C_LEFT}" y1="{num(y)}" x2="{C_LEFT + width}" y2="{num(y)}"/>'
            f'<text class="ax" x="{C_LEFT - 6}" y="{num(y + 4)}" text-anchor="end">'
            f"{_label(k * y_step, y_step)}</text>"
        )
        k += 1
    out += _x_axis(end, C_LEFT, width, bottom)
    middles = [xs(start + step / 2) for start in t]
    for line in lines:
        for run in _segments(middles, line.values):
            points = " ".join(f"{num(x)},{num(ys(v))}" for x, v in run)
            if len(run) == 1:
                x, v = run[0]
                out.append(f'<circle class="{line.cls}" cx="{num(x)}" cy="{num(ys(v))}" r="2"/>')
                continue
            first, last = run[0][0], run[-1][0]
            out.append(
                f'<polygon class="area {line.cls}" points="{num(first)},{num(bottom)} '
                f'{points} {num(last)},{num(bottom)}"/>'
                f'<polyline class="ln {line.cls}" points="{points}"/>'
            )
    if not known:
        out.append(
            f'<text class="ax" x="{num(C_LEFT + width / 2)}" y="{num(C_TOP + height / 2)}" '
            'text-anchor="middle">no samples</text>'
        )
    out.append("</svg>")
    return "".join(out)
