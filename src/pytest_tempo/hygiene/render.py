"""The output of the hygiene report: findings as the lines of the terminal's "hygiene"
section and as Markdown tables for GitHub's step summary. Pure: plain findings in, text out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..step_summary import md_cell
from .findings import RULES

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .findings import Finding, Rule

__all__ = ["describe", "plural", "render_markdown", "render_terminal", "summary_line"]

#: The rules as counted in the last line.
SHORT: dict[Rule, str] = {
    "reason": "without a reason",
    "strict": "not strict",
    "marker": "not registered",
    "ids": "unreadable ids",
}


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _example(name: str, width: int = 60) -> str:
    return name if len(name) <= width else name[: width - 4] + "...]"


def describe(finding: Finding) -> str:
    """One finding as a line of text (without indentation)."""
    text = f"{finding.location}: {finding.what}"
    if finding.rule == "ids":
        such = f", such as {_example(finding.examples[0])}" if finding.examples else ""
        return f"{text} ({plural(finding.tests, 'test')}{such})"
    if finding.tests > 1:
        text += f" ({finding.tests} tests)"
    elif finding.examples and finding.examples[0] != finding.location:
        text += f" (in {finding.examples[0]})"
    return text


def summary_line(findings: Sequence[Finding]) -> str:
    """``6 hygiene findings: 3 without a reason, ...``."""
    counts = {rule: sum(1 for f in findings if f.rule == rule) for rule in RULES}
    parts = [f"{n} {SHORT[rule]}" for rule, n in counts.items() if n]
    return f"{plural(len(findings), 'hygiene finding')}: {', '.join(parts)}"


#: Lines per rule in the terminal; ``-v`` shows every finding.
ROWS = 10


def per_file(block: Sequence[Finding]) -> list[str]:
    """Unreadable ids summed up per file: ``path: 12 parametrized tests (40 ids, such as ...)``."""
    files: dict[str, list[Finding]] = {}
    for f in block:
        files.setdefault(f.path or f.location.split("::", 1)[0], []).append(f)
    lines = []
    for path, found in files.items():
        ids = sum(f.tests for f in found)
        example = next((f.examples[0] for f in found if f.examples), "")
        such = f", such as {_example(example)}" if example else ""
        functions = plural(len(found), "parametrized test")
        lines.append(f"{path}: {functions} ({plural(ids, 'id')}{such})")
    return lines


def render_terminal(findings: Sequence[Finding], rows: int | None = ROWS) -> list[str]:
    """The lines of the "hygiene" section: a block per rule, then a count.

    With ``rows``, a block of unreadable ids longer than that is summed up per file, and
    every block is cut to ``rows`` lines, saying how many more there are (None: all).
    """
    lines: list[str] = []
    for rule, title in RULES.items():
        block = [f for f in findings if f.rule == rule]
        if not block:
            continue
        lines.append(f"{title}:")
        if rule == "ids" and rows is not None and len(block) > rows:
            entries = per_file(block)
        else:
            entries = [describe(f) for f in block]
        shown = entries if rows is None else entries[:rows]
        lines.extend(f"  {entry}" for entry in shown)
        if len(shown) < len(entries):
            lines.append(f"  ({len(entries) - len(shown)} more; -v shows all)")
    lines.append(summary_line(findings))
    return lines


def render_markdown(findings: Sequence[Finding]) -> str:
    """The same findings as Markdown tables, for GitHub's step summary."""
    out = ["### Hygiene", ""]
    for rule, title in RULES.items():
        block = [f for f in findings if f.rule == rule]
        if not block:
            continue
        out += [f"#### {title[0].upper()}{title[1:]}", "", "| where | what | tests |"]
        out.append("|---|---|---|")
        for f in block:
            what = md_cell(f.what, code=True)
            if f.rule == "ids" and f.examples:
                example = md_cell(_example(f.examples[0]), code=True)
                what = f"{md_cell(f.what)}, such as {example}"
            out.append(f"| {md_cell(f.location, code=True)} | {what} | {f.tests or ''} |")
        out.append("")
    out.append(summary_line(findings) + ".")
    return "\n".join(out) + "\n\n"
