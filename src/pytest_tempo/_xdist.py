"""The one place that touches pytest-xdist's internals.

Every feature that talks across xdist's process boundary goes through a function here, so a
change in xdist breaks one module, and ``tests/test_xdist_adapter.py`` says which capability
broke. Checked against pytest-xdist 3.5 to 3.8:

- a worker's ``config.workerinput`` is the dict the controller filled in
  ``pytest_configure_node`` (``node.workerinput``), plus xdist's own ``workerid``,
  ``workercount`` and ``testrunuid`` (``xdist/remote.py``); the controller has no
  ``workerinput`` attribute at all;
- a worker's ``config.workeroutput`` is sent back when the worker finishes and arrives as
  ``node.workeroutput`` in ``pytest_testnodedown`` (empty or missing when it crashed);
- ``xdist.workermanage.parse_tx_spec_config`` turns ``-n``/``--tx`` into one spec per
  worker, which is how xdist's own ``pytest_xdist_make_scheduler`` counts them;
- ``xdist.report.report_collection_diff`` words a collection that differs between workers.

The functions take pytest's objects and return plain data; none imports xdist unless it is
asked for something only xdist can answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import pytest

__all__ = [
    "collection_diff",
    "from_worker",
    "is_reporting_process",
    "is_worker",
    "planned_workers",
    "to_controller",
    "to_worker",
    "worker_input",
]


def worker_input(config: pytest.Config) -> Mapping[str, Any] | None:
    """The mapping the controller sent this worker, or ``None`` off a worker."""
    workerinput: Mapping[str, Any] | None = getattr(config, "workerinput", None)
    return workerinput


def is_worker(config: pytest.Config) -> bool:
    """True on an xdist worker; False on the controller and in a run without xdist."""
    return hasattr(config, "workerinput")


def is_reporting_process(config: pytest.Config) -> bool:
    """True where a run's results are reported once its tests have run: the controller (or
    the one process of a run without xdist), and not under ``--collect-only``, which runs
    no test."""
    return not is_worker(config) and not config.option.collectonly


def to_controller(config: pytest.Config, key: str, value: Any) -> bool:
    """Send ``value`` to the controller under ``key`` when this worker finishes.

    Returns False (and sends nothing) off a worker: the caller is the controller then.
    """
    workeroutput: dict[str, Any] | None = getattr(config, "workeroutput", None)
    if workeroutput is None:
        return False
    workeroutput[key] = value
    return True


def from_worker(node: Any, key: str, default: Any = None) -> Any:
    """What a finished worker sent under ``key`` (``default`` if it crashed or sent none)."""
    output = getattr(node, "workeroutput", None) or {}
    return output.get(key, default)


def to_worker(node: Any, key: str, value: Any) -> None:
    """Ship ``value`` to a worker about to start, as its ``workerinput[key]``."""
    node.workerinput[key] = value


def planned_workers(config: pytest.Config) -> int:
    """How many workers xdist starts for ``-n``/``--tx``, counted as xdist counts them."""
    from xdist.workermanage import parse_tx_spec_config

    return len(parse_tx_spec_config(config))


def collection_diff(
    first: Sequence[str], other: Sequence[str], first_id: str, other_id: str
) -> str | None:
    """xdist's own words for two workers' collections that differ, or None when they agree."""
    from xdist.report import report_collection_diff

    message: str | None = report_collection_diff(first, other, first_id, other_id)
    return message
