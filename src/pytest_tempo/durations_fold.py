"""Folding one run into the durations store's entry texts: the part that runs per test.

Every test a run measured has its entry rewritten at the end of the run; the others' text is
not touched. This is the only code of the store that runs once per measured test on every
run, so it works on the text (:mod:`.durations_entry`) without decoding it, and is written
out flat: a function call costs as much as what it would do.
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


def fold_texts(texts: dict[str, str], records: Iterable[Record], default: float) -> None:  # noqa: C901
    """Append each record's seconds to its test's entry text (``default``: the stamp of a
    record without one), keeping the last KEEP per series and the newest stamp."""
    # Flat on purpose (see the module's docstring); each series is pushed alike:
    # appended, the oldest dropped once KEEP are there.
    full = KEEP - 1
    default_text = stamp_text(default)
    seconds = seconds_text
    micro = MICROSECONDS  # what seconds_text gives under 10 ms, looked up without a call
    for nodeid, at, setup, call, teardown, shared, marks in records:
        text = texts.get(nodeid)
        if text is None:
            fields = ["", "", "", "", ""]
            fields[0] = default_text if at is None else stamp_text(at)
        else:
            fields = text.split("|")
            before = fields[0]
            if at is None:
                # Stamps of one shape (``%.3f``, as long) compare as text.
                if len(before) == len(default_text) and before[-4] == ".":
                    if before < default_text:
                        fields[0] = default_text
                elif _newer(default, before):
                    fields[0] = default_text
            else:
                stamp = stamp_text(at)
                if len(before) == len(stamp) and before[-4] == ".":
                    if before < stamp:
                        fields[0] = stamp
                elif _newer(at, before):
                    fields[0] = stamp
        if call is not None:
            old = fields[2]
            new = micro.get(int(call * 1e6 + 0.5)) if 0 < call < 0.01 else None
            if new is None:
                new = seconds(call)
            if not old:
                fields[2] = new
            else:
                commas = old.count(",")
                if commas < full:
                    fields[2] = f"{old},{new}"
                elif commas == full:
                    fields[2] = f"{old.partition(',')[2]},{new}"
                else:
                    fields[2] = _cut(old, new)
        if setup is not None:
            old = fields[1]
            new = micro.get(int(setup * 1e6 + 0.5)) if 0 < setup < 0.01 else None
            if new is None:
                new = seconds(setup)
            if not old:
                fields[1] = new
            else:
                commas = old.count(",")
                if commas < full:
                    fields[1] = f"{old},{new}"
                elif commas == full:
                    fields[1] = f"{old.partition(',')[2]},{new}"
                else:
                    fields[1] = _cut(old, new)
            old, new = fields[4], seconds(shared) if shared else "0"
            if not old:
                fields[4] = new
            else:
                commas = old.count(",")
                if commas < full:
                    fields[4] = f"{old},{new}"
                elif commas == full:
                    fields[4] = f"{old.partition(',')[2]},{new}"
                else:
                    fields[4] = _cut(old, new)
            if len(fields) > 5:
                fields[5] = _marks(marks)
            else:
                fields.append(_marks(marks))
        if teardown is not None:
            old = fields[3]
            new = micro.get(int(teardown * 1e6 + 0.5)) if 0 < teardown < 0.01 else None
            if new is None:
                new = seconds(teardown)
            if not old:
                fields[3] = new
            else:
                commas = old.count(",")
                if commas < full:
                    fields[3] = f"{old},{new}"
                elif commas == full:
                    fields[3] = f"{old.partition(',')[2]},{new}"
                else:
                    fields[3] = _cut(old, new)
        texts[nodeid] = "|".join(fields)
