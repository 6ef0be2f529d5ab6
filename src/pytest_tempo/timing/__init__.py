"""Timing: the Slow Tests Report, unmarked and stale ``slow`` markers, slow fixtures.

The package is split along the hooks / engine line:

- :mod:`.plugin`: the hooks (``TimingPlugin``, registered as ``tempo-timing``): measures
  where tests run, keeps one tuple per phase report on the controller, records the store;
- :mod:`.aggregate`: pure logic: per-test timings from those tuples, the summary;
- :mod:`.outputs`: the terminal lines, the step summary's Markdown, the JSON document and
  the files written.

The names below are importable from here; each module loads when one of its names is
first used, so importing the package costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import _lazy_names

if TYPE_CHECKING:
    from .aggregate import FixtureTiming, TestTiming, TimingSummary, outcome_of, summarize
    from .outputs import render_markdown, render_terminal, to_json
    from .plugin import HTML_EXTRAS, REPORT_EXTRAS, TimingPlugin, is_full_collection

__all__ = [
    "HTML_EXTRAS",
    "REPORT_EXTRAS",
    "FixtureTiming",
    "TestTiming",
    "TimingPlugin",
    "TimingSummary",
    "is_full_collection",
    "outcome_of",
    "render_markdown",
    "render_terminal",
    "summarize",
    "to_json",
]

#: Where each name lives.
_MODULES = {
    "FixtureTiming": "aggregate",
    "TestTiming": "aggregate",
    "TimingSummary": "aggregate",
    "outcome_of": "aggregate",
    "summarize": "aggregate",
    "render_markdown": "outputs",
    "render_terminal": "outputs",
    "to_json": "outputs",
    "HTML_EXTRAS": "plugin",
    "REPORT_EXTRAS": "plugin",
    "TimingPlugin": "plugin",
    "is_full_collection": "plugin",
}


__getattr__ = _lazy_names(__name__, _MODULES)
