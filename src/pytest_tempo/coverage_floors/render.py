"""Coverage floors, rendered: the terminal section and the Markdown step summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._coverage import display_percent
from ..step_summary import md_cell
from .engine import floor_precision

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..settings import Floor
    from .engine import FileCoverage, FloorResult, Verdict

__all__ = ["markdown", "summary_line", "terminal_rows"]


def _floor_text(floor: Floor) -> str:
    return f"{floor.percent:g}%"


def _cells(result: FloorResult, precision: int) -> tuple[str, str, str, str, str]:
    decimals = floor_precision(result.floor.percent, precision)
    covered = "-" if result.percent is None else display_percent(result.percent, decimals)
    return (
        result.floor.pattern,
        str(result.files),
        covered,
        _floor_text(result.floor),
        result.status,
    )


def _missed_text(f: FileCoverage) -> str:
    parts = []
    if f.missing or not f.missing_branches:
        parts.append(f"{f.missing} line{'s' if f.missing != 1 else ''}")
    if f.missing_branches:
        parts.append(f"{f.missing_branches} branch{'es' if f.missing_branches != 1 else ''}")
    return " and ".join(parts) + " missed"


def _unchecked_line(verdict: Verdict) -> str:
    what = f"{verdict.floors} coverage floor{'s' if verdict.floors != 1 else ''}"
    line = f"{what} not checked: {verdict.unchecked}"
    if verdict.required:
        return f"ERROR: {line} (cov_floors_required = true)"
    return f"WARNING: {line}"


def summary_line(verdict: Verdict) -> str:
    """The last line of the section, e.g. ``FAIL: 1 of 3 coverage floors not met``."""
    if verdict.unchecked:
        return _unchecked_line(verdict)
    total = len(verdict.results)
    if verdict.unmatched:
        names = ", ".join(repr(p) for p in verdict.unmatched)
        return f"ERROR: no measured file matches {names}"
    if verdict.failed:
        return f"FAIL: {len(verdict.failed)} of {total} coverage floors not met"
    return f"PASS: {total} of {total} coverage floors met"


def terminal_rows(verdict: Verdict) -> list[tuple[str, str]]:
    """The lines of the "coverage floors" section, each with a colour ("", green, red)."""
    lines: list[tuple[str, str]] = []
    if verdict.unchecked:
        return [(_unchecked_line(verdict), "red")]
    header = ("pattern", "files", "covered", "floor", "result")
    rows = [_cells(r, verdict.precision) for r in verdict.results]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(5)]

    def fmt(row: Sequence[str]) -> str:
        return (
            f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}  "
            f"{row[3]:>{widths[3]}}  {row[4]}"
        )

    lines.append((fmt(header), ""))
    for result, row in zip(verdict.results, rows, strict=True):
        lines.append((fmt(row), "green" if result.met else "red"))
        for f in result.worst:
            text = f"    {f.path}: {_missed_text(f)}"
            lines.append((f"{text}: {f.missed}" if f.missed else text, ""))
    lines.extend((note, "") for note in verdict.notes)
    ok = not verdict.failed and not verdict.unmatched
    lines.append((summary_line(verdict), "green" if ok else "red"))
    return lines


def markdown(verdict: Verdict) -> str:
    """The same verdict as Markdown, for ``GITHUB_STEP_SUMMARY``."""
    out = ["### Coverage floors", ""]
    if verdict.unchecked:
        out += [f"**{md_cell(_unchecked_line(verdict))}**", ""]
        return "\n".join(out) + "\n"
    out += ["| pattern | files | covered | floor | result |", "|---|---:|---:|---:|---|"]
    for result in verdict.results:
        pattern, files, covered, floor, status = _cells(result, verdict.precision)
        shown = status if result.met else f"**{status}**"
        out.append(f"| {md_cell(pattern, code=True)} | {files} | {covered} | {floor} | {shown} |")
    worst = [(r, f) for r in verdict.results for f in r.worst]
    if worst:
        out += ["", "Files with the most missed lines under the failing floors:", ""]
        out += ["| floor | file | missed | lines |", "|---|---|---|---|"]
        for result, f in worst:
            out.append(
                f"| {md_cell(result.floor.pattern, code=True)} | {md_cell(f.path, code=True)} "
                f"| {_missed_text(f)} | {md_cell(f.missed)} |"
            )
    out += ["", md_cell(summary_line(verdict)), "", ""]
    return "\n".join(out)
