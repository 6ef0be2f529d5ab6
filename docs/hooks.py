"""MkDocs hook: fills the configuration reference with the tables rendered from the code.

``docs/reference.md`` holds the hand-written introduction and the placeholder comment that
:func:`pytest_tempo.reference.fill_reference` replaces; pytest-tempo must be installed.
"""

from __future__ import annotations

from typing import Any

from pytest_tempo.reference import fill_reference

#: The page whose placeholder is filled, relative to docs/.
REFERENCE_PAGE = "reference.md"


def on_page_markdown(markdown: str, *, page: Any, config: Any, files: Any) -> str:
    if page.file.src_uri != REFERENCE_PAGE:
        return markdown
    return fill_reference(markdown)
