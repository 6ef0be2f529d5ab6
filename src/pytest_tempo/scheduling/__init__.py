"""Duration-aware distribution over pytest-xdist workers (``--tempo-dist=duration``).

- :mod:`.plan`: pure planning: units, their estimated seconds, the dispatch order;
- :mod:`.partition`: balanced splits of costs (longest first, exact for a few);
- :mod:`.pool`: the units not yet sent, in dispatch order and cheapest first;
- :mod:`.dispatch`: :class:`DurationScheduling`, pytest-xdist's scheduler protocol;
- :mod:`.plugin`: :class:`SchedulingPlugin`, which hands xdist the scheduler.

The cost model itself is :mod:`pytest_tempo.costs`. Each name loads its module when first
asked for: the advice's forecast needs the scheduler and the plan, not the plugin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import _lazy_names

if TYPE_CHECKING:
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

#: Where each name is defined.
_MODULES = {
    "MIN_PENDING": "dispatch",
    "DurationScheduling": "dispatch",
    "best_partition": "partition",
    "lpt_partition": "partition",
    "GROUPING_MODES": "plan",
    "Plan": "plan",
    "dispatch_order": "plan",
    "plan_units": "plan",
    "scope_of": "plan",
    "SchedulingPlugin": "plugin",
}


__getattr__ = _lazy_names(__name__, _MODULES)
