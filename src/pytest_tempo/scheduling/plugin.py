"""The ``--tempo-dist=duration`` plugin: hands pytest-xdist the duration scheduler.

Registered by :mod:`pytest_tempo.plugin` on the controller when ``--tempo-dist=duration``
is given with ``-n`` and a ``--dist`` mode it replaces or refines (``load``, ``loadscope``,
``loadfile``, ``loadgroup``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._hooks import HookObject
from .._xdist import planned_workers
from ..classify import markers_for_path
from .dispatch import DurationScheduling
from .plan import GROUPING_MODES, Plan, plan_units, scope_of, stored_id

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import pytest

    from ..durations import Snapshot
    from ..settings import TypeRule

__all__ = ["SchedulingPlugin"]


class SchedulingPlugin(HookObject):
    """``--tempo-dist=duration``: pytest-xdist hands out tests by recorded durations.

    ``dist`` is xdist's ``--dist`` mode: ``load`` (the default with ``-n``) is replaced
    outright; with ``loadscope``, ``loadfile`` or ``loadgroup`` the groups xdist would form
    are kept together and sent longest first. Under other modes the plugin is not registered.
    """

    def __init__(
        self,
        snapshot: Snapshot,
        rules: Sequence[TypeRule],
        dist: str = "load",
        stamps: Mapping[str, float] | None = None,
    ) -> None:
        self._snapshot = snapshot
        self._rules = rules
        self._dist = dist
        self._stamps = dict(stamps or {})

    def plan(self, collection: Sequence[str], workers: int) -> Plan:
        smoke = set(self._snapshot.smoke)
        for nodeid in collection:  # typed smoke by path: known without collecting
            if "smoke" in markers_for_path(nodeid.split("::", 1)[0], self._rules):
                smoke.add(stored_id(nodeid))
        mode = self._dist
        scope = (lambda nodeid: scope_of(mode, nodeid)) if mode in GROUPING_MODES else None
        return plan_units(
            collection,
            self._snapshot.totals,
            smoke,
            self._snapshot.shared,
            workers,
            stamps=self._stamps,
            scope=scope,
        )

    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> DurationScheduling:
        # xdist's own implementation is trylast and the hook is firstresult, so this wins.
        return DurationScheduling(config, log, self.plan, planned_workers(config))
