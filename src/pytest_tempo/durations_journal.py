"""The run journal's lines: one per measured test, appended while a run goes on.

A line is ``[nodeid, at, setup, call, teardown, shared, marks]`` (a phase that did not run
is null; ``shared`` and ``marks`` are null without a setup). :mod:`.durations_record`
writes and folds them; this module turns a :class:`~pytest_tempo.durations.Measured` into
a line and checks a line read back, whatever it holds.
"""

from __future__ import annotations

from typing import Any

from .durations import Measured, Record, _seconds_ok, _stamp_ok, round_seconds
from .markers import RECORDED_MARKS

__all__ = ["check_record", "from_record", "to_raw", "to_record"]


def to_record(nodeid: str, m: Measured) -> list[Any]:
    """One journal line's value: ``[nodeid, at, setup, call, teardown, shared, marks]``.

    A phase that did not run is null; ``shared`` and ``marks`` are null without a setup.
    """

    def phase(name: str) -> float | None:
        return round_seconds(getattr(m, name)) if name in m.phases else None

    has_setup = "setup" in m.phases
    return [
        nodeid,
        m.at,
        phase("setup"),
        phase("call"),
        phase("teardown"),
        round_seconds(m.shared) if has_setup else None,
        list(m.marks) if has_setup else None,
    ]


def to_raw(nodeid: str, m: Measured) -> Record:
    """A :class:`Measured` as a :data:`Record` (unrounded)."""
    phases = m.phases
    has_setup = "setup" in phases
    return (
        nodeid,
        m.at,
        m.setup if has_setup else None,
        m.call if "call" in phases else None,
        m.teardown if "teardown" in phases else None,
        m.shared if has_setup else None,
        m.marks if has_setup else None,
    )


def check_record(value: object) -> Record | None:
    """A journal line's value as a :data:`Record`; None when it is not one."""
    if type(value) is not list or len(value) != 7:
        return None
    nodeid, at, setup, call, teardown, shared, marks = value
    if type(nodeid) is not str or not _stamp_ok(at):
        return None
    present = [v for v in (setup, call, teardown) if v is not None]
    if not _seconds_ok(present):
        return None
    if setup is not None:
        if not _seconds_ok([shared]) or type(marks) is not list:
            return None
        if not all(type(m) is str and m in RECORDED_MARKS for m in marks):
            return None
        return nodeid, float(at), float(setup), _float(call), _float(teardown), float(shared), marks
    return nodeid, float(at), None, _float(call), _float(teardown), None, None


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def from_record(value: object) -> tuple[str, Measured] | None:
    """A journal line's value back as (node id, Measured); None when it is not one."""
    record = check_record(value)
    if record is None:
        return None
    nodeid, at, setup, call, teardown, shared, marks = record
    seconds = {"setup": setup, "call": call, "teardown": teardown}
    present = {k: v for k, v in seconds.items() if v is not None}
    m = Measured(phases=set(present), at=at)
    for name, v in present.items():
        setattr(m, name, float(v))
    if setup is not None:
        m.shared, m.marks = float(shared or 0.0), tuple(marks or ())
    return nodeid, m
