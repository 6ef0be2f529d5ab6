"""Hygiene: skips and xfails without a reason, xfails that are not strict, markers that are
not registered, and parametrize ids pytest could not make readable.

The package is split along the hooks / engine line:

- :mod:`.findings`: a finding as plain data, counted once (``Tally``) and merged across
  xdist workers (``merge``);
- :mod:`.rules`: the pure judges of one mark, one parametrized id, one skip;
- :mod:`.scan`: reads pytest's items, configuration and tracebacks for the judges;
- :mod:`.render`: the terminal section and the step-summary Markdown;
- :mod:`.plugin`: the hooks (``HygienePlugin``, registered as ``tempo-hygiene``).
"""

from __future__ import annotations

from .findings import RULES, Finding
from .plugin import HygienePlugin

__all__ = ["RULES", "Finding", "HygienePlugin"]
