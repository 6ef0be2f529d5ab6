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

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .findings import RULES, Finding
    from .plugin import HygienePlugin

__all__ = ["RULES", "Finding", "HygienePlugin"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the hooks load the rest of the package when they need it.
    if name == "HygienePlugin":
        from .plugin import HygienePlugin

        return HygienePlugin
    if name in __all__:
        from . import findings

        return getattr(findings, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
