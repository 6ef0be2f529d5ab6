"""The load tests on the HTML page and in the JSON report.

:class:`LoadPage` is registered as ``tempo-load-page`` only when load tests run and
``--tempo-html`` or ``--slow-report-json`` is written. It reads each load test's data off
its report (under xdist, on the controller, from the worker's ``user_properties``) and gives
the page its "Load tests" section (:mod:`pytest_tempo.report.charts`) and the JSON report
its ``load`` list: per test its node id, outcome, key numbers, ``series`` (the run over
time, :func:`pytest_tempo.load.series.chart`) and baseline comparison.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._hooks import HookObject
from .state import PROPERTY

if TYPE_CHECKING:
    import pytest

__all__ = ["LoadPage"]


class LoadPage(HookObject):
    """Collects the load tests' data as their reports come in."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str, dict[str, Any]]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for key, value in report.user_properties:
            if key == PROPERTY and isinstance(value, dict):
                self.entries.append((report.nodeid, report.outcome, value))

    def html_part(self) -> str:
        """The "Load tests" section ("" when no load test ran)."""
        from ..report.charts import load_section

        return load_section(self.entries)

    def json_part(self) -> list[dict[str, Any]] | None:
        """The ``load`` list of the JSON report (None when no load test ran)."""
        if not self.entries:
            return None
        return [
            {"nodeid": nodeid, "outcome": outcome}
            | {key: value for key, value in data.items() if key != "record"}
            for nodeid, outcome, data in self.entries
        ]
