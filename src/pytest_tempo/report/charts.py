"""The "Load tests" part of the HTML page: per load test, its charts and baseline table.

Pure: the load tests' plain data (as they reach the controller, also from xdist workers)
in, an HTML fragment out. Per test: a line of its key numbers, then small charts over the
seconds since the load began (requests per second, p95 of the request duration, error
rate, active users, and the watched server's CPU and RSS when it was sampled), then the
comparison with its baseline when there was one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..load.series import read_chart
from .svg import Line, esc, line_chart

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ..load.series import Chart

__all__ = ["charts_of", "load_section"]

_TAGS = {"passed": "p", "failed": "f", "error": "e", "skipped": "s"}


def charts_of(chart: Chart) -> list[str]:
    """The SVG charts of one series: the server's only when it was sampled."""
    step = chart.step
    many = step > 1
    specs: list[tuple[str, str, Sequence[float | None], str, float]] = [
        ("Requests per second", "req/s", chart.rps, "rps", 0.0),
        ("p95 request duration" + (", worst second" if many else ""), "ms", chart.p95_ms,
         "p95", 0.0),
        ("Error rate", "%", chart.error_pct, "err", 1.0),
        ("Active users (VUs)" + (", most" if many else ""), "users", chart.users, "vus", 1.0),
        ("Server CPU", "% of a core", chart.cpu, "cpu", 10.0),
        ("Server memory (RSS)", "MB", chart.rss_mb, "rss", 1.0),
    ]  # fmt: skip
    suffix = f" ({step:g} s buckets)" if many else ""
    return [
        line_chart(
            title + suffix,
            unit,
            chart.t,
            [Line(title, values, cls)],
            step=step,
            end=chart.t[-1] + step,
            floor=floor,
        )
        for title, unit, values, cls, floor in specs
        if cls not in ("cpu", "rss") or any(v is not None for v in values)
    ]


def _fmt(value: object, spec: str, suffix: str = "") -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return format(value, spec) + suffix


def _facts(data: Mapping[str, Any]) -> str:
    """``k6 · 1,204 requests · 0.00% failed · p95 12.3 ms · ...``."""
    failed = data.get("failed_rate")
    parts = [
        esc(str(data.get("engine", "?"))),
        _fmt(data.get("requests"), ",.0f", " requests"),
        _fmt(failed * 100 if isinstance(failed, (int, float)) else None, ".2f", "% failed"),
        _fmt(data.get("p95_ms"), ",.1f", " ms p95"),
        _fmt(data.get("rps"), ",.1f", " req/s"),
        _fmt(data.get("peak_users"), ".0f", " users at most"),
        _fmt(data.get("seconds"), ".1f", " s"),
    ]
    if data.get("baseline"):
        parts.append("baseline: " + esc(str(data["baseline"])))
    return " · ".join(p for p in parts if p)


def _comparison(rows: object) -> str:
    if not isinstance(rows, list) or len(rows) < 2:
        return ""
    if not all(isinstance(r, list) and len(r) == len(rows[0]) for r in rows):
        return ""
    head = "".join(f"<th>{esc(str(h))}</th>" for h in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>" for row in rows[1:]
    )
    return (
        '<p class="note">Against the baseline (the median of the recorded passing runs):</p>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def load_section(entries: Sequence[tuple[str, str, Mapping[str, Any]]]) -> str:
    """The section for ``(node id, outcome, data)`` of each load test; "" without any."""
    if not entries:
        return ""
    out = [
        "<h2>Load tests</h2>",
        '<p class="note">Each chart runs over the seconds since the load began; hover a '
        "chart for its peak. Long runs are drawn in buckets of several seconds.</p>",
    ]
    for nodeid, outcome, data in entries:
        tag = _TAGS.get(outcome, "p")
        out.append(
            f'<h3 class="id">{esc(nodeid)} <span class="tag {tag}">{esc(outcome)}</span></h3>'
            f'<p class="sub">{_facts(data)}</p>'
        )
        chart = read_chart(data.get("series"))
        if chart is None:
            out.append('<p class="note">No time series was recorded for this test.</p>')
        else:
            out.append('<div class="charts">' + "".join(charts_of(chart)) + "</div>")
        if data.get("usage"):
            out.append(f'<p class="note">Server: {esc(str(data["usage"]))}</p>')
        out.append(_comparison(data.get("comparison")))
    return "\n".join(part for part in out if part)
