"""GitHub Actions' job summary: the features append their tables in Markdown to it."""

from __future__ import annotations

import os

__all__ = ["append_step_summary"]


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
