"""Folding one run into the durations store's entry texts: the part that runs per test.

Every test a run measured has its entry rewritten at the end of the run; the others' text is
not touched. This is the only code of the store that runs once per measured test on every
run, so it works on the text (:mod:`.durations_entry`) without decoding it: each series is
pushed alike (:func:`_pushed`), appended and its oldest value dropped once KEEP are there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .durations_entry import KEEP, MICROSECONDS, seconds_text, stamp_text

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .durations import Record

__all__ = ["fold_texts"]

_MARKS: dict[tuple[str, ...], str] = {}


def _cut(series: str, value: str) -> str:
    """A series of more than KEEP values (written by hand) cut to its last KEEP - 1, and
    ``value`` appended."""
    return ",".join([*series.split(",")[1 - KEEP :], value])


def _marks(marks: Iterable[str] | None) -> str:
    if not marks:
        return ""
    key = tuple(marks)
    shown = _MARKS.get(key)
    return shown if shown is not None else _MARKS.setdefault(key, ",".join(key))


def _newer(at: float, before: str) -> bool:
    """Whether the stamp ``at`` is newer than the stamp text ``before``."""
    return not before or at > float(before)


def _pushed(old: str, new: str) -> str:
    """The series text ``old`` with ``new`` appended, its oldest value dropped once KEEP are
    there."""
    if not old:
        return new
    commas = old.count(",")
    if commas < KEEP - 1:
        return f"{old},{new}"
    if commas == KEEP - 1:
        return f"{old.partition(',')[2]},{new}"
    return _cut(old, new)


def _stamped(before: str, at: float | None, default: float, default_text: str) -> str:
    """The newer of the stamp text ``before`` and this record's stamp (``at``, or the run's
    ``default``)."""
    if at is None:
        # Stamps of one shape (``%.3f``, as long) compare as text.
        if len(before) == len(default_text) and before[-4] == ".":
            return default_text if before < default_text else before
        return default_text if _newer(default, before) else before
    stamp = stamp_text(at)
    if len(before) == len(stamp) and before[-4] == ".":
        return stamp if before < stamp else before
    return stamp if _newer(at, before) else before


def fold_texts(texts: dict[str, str], records: Iterable[Record], default: float) -> None:
    """Append each record's seconds to its test's entry text (``default``: the stamp of a
    record without one), keeping the last KEEP per series and the newest stamp.

    The common case takes no call: a full series (KEEP values) drops its oldest and
    appends, and seconds under 10 ms seen before are looked up."""
    default_text = stamp_text(default)
    micro = MICROSECONDS
    full = KEEP - 1  # the commas of a full series
    for nodeid, at, setup, call, teardown, shared, marks in records:
        text = texts.get(nodeid)
        if text is None:
            fields = [default_text if at is None else stamp_text(at), "", "", "", ""]
        else:
            fields = text.split("|")
            fields[0] = _stamped(fields[0], at, default, default_text)
        series: tuple[tuple[int, float | None], ...]
        if setup is not None:
            series = ((1, setup), (2, call), (3, teardown), (4, shared or 0.0))
            if len(fields) > 5:
                fields[5] = _marks(marks)
            else:
                fields.append(_marks(marks))
        else:
            series = ((2, call), (3, teardown))
        for index, value in series:
            if value is None:
                continue
            new = micro.get(int(value * 1e6 + 0.5)) if 0 < value < 0.01 else None
            if new is None:
                new = seconds_text(value)
            old = fields[index]
            if old.count(",") == full:
                fields[index] = f"{old[old.index(',') + 1 :]},{new}"
            else:
                fields[index] = _pushed(old, new)
        texts[nodeid] = "|".join(fields)
