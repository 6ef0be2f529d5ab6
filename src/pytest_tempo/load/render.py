"""The "load" section: the table of load tests and the lines under it (text and Markdown).

Pure: the entries a run collected (node id, outcome, the key metrics each item recorded)
in, lines out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..step_summary import md_cell

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["markdown_table", "notes_lines", "summary_rows", "text_table"]


def _fmt(value: object, spec: str) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    return format(value, spec)


def summary_rows(entries: Sequence[tuple[str, str, Mapping[str, Any]]]) -> list[list[str]]:
    """Rows of the "load" section: test, outcome, requests, failed, p95, rps, users, time."""
    rows = [["test", "result", "requests", "failed", "p95 ms", "req/s", "peak users", "time s"]]
    for nodeid, outcome, data in entries:
        failed = data.get("failed_rate")
        rows.append(
            [
                nodeid,
                outcome,
                _fmt(data.get("requests"), ".0f"),
                _fmt(failed * 100, ".2f") + "%" if isinstance(failed, (int, float)) else "-",
                _fmt(data.get("p95_ms"), ".1f"),
                _fmt(data.get("rps"), ".1f"),
                _fmt(data.get("peak_users"), ".0f"),
                _fmt(data.get("seconds"), ".1f"),
            ]
        )
    return rows


def notes_lines(
    entries: Sequence[tuple[str, str, Mapping[str, Any]]], problems: Sequence[str] = ()
) -> list[str]:
    """Lines under the "load" table: the baselines, the Locust workers of distributed runs,
    each watched server, store problems."""
    from .baseline import MIN_REQUESTS

    lines: list[str] = []
    verdicts = [str(data["baseline"]) for _, _, data in entries if data.get("baseline")]
    if verdicts:
        counts: dict[str, int] = {}
        for verdict in verdicts:
            word = verdict.split(" ")[0]
            counts[word] = counts.get(word, 0) + 1
        order = ("ok", "regression", "few", "recorded", "none")
        names = {"ok": "within limits", "regression": "regressed", "recorded": "recorded",
                 "none": "without a baseline",
                 "few": f"not compared (under {MIN_REQUESTS} requests)"}  # fmt: skip
        parts = [f"{counts[w]} {names[w]}" for w in order if w in counts]
        lines.append("baselines: " + ", ".join(parts))
    for nodeid, _, data in entries:
        split = data.get("worker_requests")
        if isinstance(split, list) and split:
            shares = " + ".join(str(n) for n in split)
            lines.append(f"Locust workers under {nodeid}: {len(split)}, requests {shares}")
    for nodeid, _, data in entries:
        if data.get("usage"):
            lines.append(f"server under {nodeid}: {data['usage']}")
    lines += [f"tempo: {problem}" for problem in problems]
    return lines


def text_table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def markdown_table(rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += [
        f"| {md_cell(r[0], code=True)} | " + " | ".join(map(md_cell, r[1:])) + " |"
        for r in rows[1:]
    ]
    return lines
