"""Advice: what to change, from what the plugin measures (fixture scope, sleeping tests,
what parallelism buys, tests that got slower, flaky tests).

The judges are pure functions in their own modules; :mod:`.hooks` holds the plugin and
:mod:`.render` the terminal, JSON, Markdown and HTML forms.
"""

from __future__ import annotations

from .hooks import AdvicePlugin

__all__ = ["AdvicePlugin"]
