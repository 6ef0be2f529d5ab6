"""Duration-aware distribution over pytest-xdist workers (``--tempo-dist=duration``).

- :mod:`.plan`: pure planning: units, their estimated seconds, the dispatch order;
- :mod:`.partition`: balanced splits of costs (longest first, exact for a few);
- :mod:`.pool`: the units not yet sent, in dispatch order and cheapest first;
- :mod:`.dispatch`: :class:`DurationScheduling`, pytest-xdist's scheduler protocol;
- :mod:`.plugin`: :class:`SchedulingPlugin`, which hands xdist the scheduler.

The cost model itself is :mod:`pytest_tempo.costs`.
"""

from __future__ import annotations

from .dispatch import MIN_PENDING, DurationScheduling
from .partition import best_partition, lpt_partition
from .plan import GROUPING_MODES, Plan, dispatch_order, plan_units, scope_of
from .plugin import SchedulingPlugin

__all__ = [
    "GROUPING_MODES",
    "MIN_PENDING",
    "DurationScheduling",
    "Plan",
    "SchedulingPlugin",
    "best_partition",
    "dispatch_order",
    "lpt_partition",
    "plan_units",
    "scope_of",
]
