"""GitHub Actions' job summary: the features append their tables in Markdown to it.

Every cell of those tables goes through :func:`md_cell`, so a node id, path or pattern with
``|``, backticks, line breaks or Markdown punctuation shows as it is and never breaks a table.
"""

from __future__ import annotations

import os
import re

__all__ = ["append_step_summary", "md_cell"]

#: What a backslash protects in plain text: ASCII punctuation that Markdown (and GitHub's
#: tables, strikethrough and math) give a meaning. Any ASCII punctuation may be escaped.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&$!#])")
_BACKTICKS = re.compile(r"`+")


def _printable(text: str) -> str:
    """``text`` with each unprintable character (line breaks, tabs, escape...) written as its
    Python escape, ``\\n`` say, as pytest writes them in parametrize ids."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


def md_cell(text: str, *, code: bool = False) -> str:
    """``text`` as the content of one cell of a GitHub Markdown table, on one line.

    With ``code``, a code span: fenced with more backticks than the longest run in ``text``
    (padded with a space where ``text`` starts or ends with one), ``|`` escaped as the table
    needs even there. Otherwise Markdown's punctuation is escaped with backslashes.
    """
    text = _printable(text)
    if not code:
        return _SPECIAL.sub(r"\\\1", text)
    if not text.strip(" "):  # a table cell drops blanks anyway
        return ""
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    pad = text[0] in "` " or text[-1] in "` "
    text = text.replace("|", "\\|")
    return f"{fence} {text} {fence}" if pad else f"{fence}{text}{fence}"


def append_step_summary(text: str) -> str:
    """Append ``text`` to the file named by ``GITHUB_STEP_SUMMARY``, if set.

    Returns the problem in one line ("" when written or not asked for): a summary that
    cannot be written is reported, never raised, so it does not end the run.
    """
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return ""
    try:
        with open(path, "a", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as exc:
        return f"could not append to GITHUB_STEP_SUMMARY: {exc.strerror or exc}"
    return ""
