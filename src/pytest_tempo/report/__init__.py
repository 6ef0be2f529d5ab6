"""Renderers of a run's timings: pure functions from timing data to text."""

from __future__ import annotations

from .html import render_html

__all__ = ["render_html"]
