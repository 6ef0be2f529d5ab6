"""One test's entry in the durations store: a single short string, read only as needed.

An entry is ``STAMP|SETUPS|CALLS|TEARDOWNS|SHARED|MARKS``: the epoch seconds of the run
that last measured the test, then the last :data:`KEEP` seconds of each phase (and of the
module- or class-scoped fixture set-ups its setup triggered), oldest first, as short
decimal text separated by commas, then the recorded markers. An empty field is a series
never recorded; without the sixth field, no markers were ever recorded::

    1750000000.123|0.0012,0.0011|0.1234,0.1201|0.0003,0.0002|0,0|slow

A store of 100,000 tests is then one dict of strings, which the garbage collector does not
traverse, and a run touches only the entries of the tests it measured: the others' text is
copied as it is. :class:`Store` shows the entries as the mapping of phases to lists of
seconds that the readers use (decoded on every access); the hot paths (folding a run,
the recorded calls, the snapshot) read and write the text directly.
"""

from __future__ import annotations

import math
import re
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from .markers import RECORDED_MARKS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

__all__ = [
    "KEEP",
    "MAX_SECONDS",
    "MAX_STAMP",
    "PHASES",
    "SERIES",
    "STAMP",
    "Store",
    "check_text",
    "decode_entry",
    "entry_text",
    "median",
    "round_seconds",
    "seconds_text",
    "texts_of",
]

#: How many recent runs are kept per phase, so one noisy run does not decide.
KEEP = 5
PHASES = ("setup", "call", "teardown")
#: Recorded seconds kept per test: the phases, and the module- or class-scoped fixture
#: set-up its setup triggered (charged to the fixture, kept for scheduling).
SERIES = (*PHASES, "shared")
#: The key of a decoded entry's stamp: ``[epoch seconds]`` of the run that last measured it.
STAMP = "at"
#: The largest number of seconds a store accepts (11.6 days; a soak test runs 12 hours).
MAX_SECONDS = 1e6
#: The largest stamp a store accepts (epoch seconds, in the year 5138).
MAX_STAMP = 1e11

# What is checked when a store is read, in one pass over each entry's text: the fields,
# the stamp (at most 12 digits before the point), the markers, and that the series hold
# only digits, points and commas (no sign, exponent, NaN or infinity can be written so).
# Each series is checked further when it is read (:func:`series_values`): that every value
# is a number, and at most MAX_SECONDS.
_STAMP_RE = r"(?:[0-9]{1,12}(?:\.[0-9]*)?)?"
_MARK = "(?:" + "|".join(re.escape(m) for m in RECORDED_MARKS) + ")"
_MARKS_RE = rf"(?:{_MARK}(?:,{_MARK})*)?"
_ENTRY = re.compile(rf"{_STAMP_RE}\|[0-9.,]*\|[0-9.,]*\|[0-9.,]*\|[0-9.,]*(?:\|{_MARKS_RE})?")
_ONE_STAMP = re.compile(_STAMP_RE)
_ONE_MARKS = re.compile(_MARKS_RE)


def round_seconds(value: float) -> float:
    """Seconds as stored: 4 significant digits, and never finer than a microsecond.

    Enough to order and balance by, and short enough for a store file whose diff is read.
    """
    # Under 10 s by float arithmetic: ``k / 10**d`` is the float nearest that decimal, as
    # ``round`` gives it, without its decimal conversions (it runs for every phase of every
    # test); from 10 s on, ``round`` to 4 significant digits.
    if value < 0.01:
        return int(value * 1e6 + 0.5) / 1e6 if value > 0 else 0.0
    if value < 0.1:
        return int(value * 1e5 + 0.5) / 1e5
    if value < 1:
        return int(value * 1e4 + 0.5) / 1e4
    if value < 10:
        return int(value * 1e3 + 0.5) / 1e3
    return round(value, 3 - math.floor(math.log10(value)))


#: The text of whole numbers of units, per unit, as written so far: far fewer than the tests
#: (at most 10,001 per unit), and a look-up costs half as much as the formatting.
_WRITTEN: tuple[dict[int, str], dict[int, str], dict[int, str], dict[int, str]] = ({}, {}, {}, {})
#: Microseconds -> their text, for values under 10 ms (the common case, looked up inline).
MICROSECONDS = _WRITTEN[0]


def seconds_text(value: float) -> str:
    """Seconds rounded as stored (:func:`round_seconds`), as fixed decimals.

    Under 10 s the rounded value is a whole number of units (microseconds, ten, a hundred
    microseconds, milliseconds), written by integer formatting, once per number: a
    fraction of the cost of a float's shortest ``repr``.
    """
    if value < 0.01:
        if value <= 0:
            return "0"
        units, written, places = int(value * 1e6 + 0.5), _WRITTEN[0], 6
    elif value < 0.1:
        units, written, places = int(value * 1e5 + 0.5), _WRITTEN[1], 5
    elif value < 1:
        units, written, places = int(value * 1e4 + 0.5), _WRITTEN[2], 4
    elif value < 10:
        units, written, places = int(value * 1e3 + 0.5), _WRITTEN[3], 3
    else:
        return _decimals(round_seconds(value))
    text = written.get(units)
    if text is None:
        text = written[units] = _units_text(units, places)
    return text


def _units_text(units: int, places: int) -> str:
    """A whole number of units of ``10**-places`` seconds as decimals (which may reach the
    next decade: 10000 hundred-microseconds is 1.0000)."""
    whole, part = divmod(units, 10**places)
    return "%d.%0*d" % (whole, places, part)  # noqa: UP031


def _decimals(value: float) -> str:
    """A float as fixed decimals that read back as the same float (``repr`` without an
    exponent)."""
    text = repr(value)
    if "e" not in text:
        return text
    digits, exponent = text.split("e")
    places = max(len(digits.replace(".", "")) - 1 - int(exponent), 0)
    while True:  # one more place where a tie rounded the other way
        text = "%.*f" % (places, value)  # noqa: UP031
        if float(text) == value:
            return text
        places += 1


def stamp_text(value: float) -> str:
    """A stamp to the millisecond (what a run records)."""
    return "%.3f" % value  # noqa: UP031


def median(values: Sequence[float]) -> float:
    """The median of a non-empty sequence (``statistics.median``, without importing it)."""
    if len(values) == 1:  # most entries of a young store: no sort
        return values[0]
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def series_values(series: str) -> list[float]:
    """A non-empty series field's last KEEP values; ValueError when one is not seconds (an
    empty value, two points, over MAX_SECONDS: what the check on reading leaves)."""
    values = list(map(float, series.split(",")[-KEEP:]))
    if max(values) > MAX_SECONDS:
        raise ValueError(series)
    return values


def median_text(series: str) -> float:
    """The median of a non-empty series field (its last KEEP values); ValueError when a
    value is not seconds."""
    if "," not in series:
        value = float(series)
        if value > MAX_SECONDS:
            raise ValueError(series)
        return value
    # :func:`median` of :func:`series_values`, sorted once (run for every test of the store)
    ordered = sorted(map(float, series.split(",")[-KEEP:]))
    if ordered[-1] > MAX_SECONDS:
        raise ValueError(series)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _short(nodeid: str) -> str:
    return repr(nodeid if len(nodeid) <= 80 else nodeid[:77] + "...")


def check_text(nodeid: str, text: object) -> str | None:
    """Why an entry's value is unusable, in a few words; None when it is usable.

    One regular expression over the whole text decides; only a bad entry is looked at
    field by field, to say which part is wrong.
    """
    if type(text) is not str:
        return f"entry for {_short(nodeid)} is not a string"
    if _ENTRY.fullmatch(text):
        return None
    fields = text.split("|")
    if len(fields) not in (5, 6):
        return f"entry for {_short(nodeid)} has {len(fields)} fields, not 5 or 6"
    if not _ONE_STAMP.fullmatch(fields[0]):
        return f"entry for {_short(nodeid)} has a bad stamp"
    if len(fields) == 6 and not _ONE_MARKS.fullmatch(fields[5]):
        return f"entry for {_short(nodeid)} has bad marks"
    return not_seconds(nodeid)


def decode_entry(text: str) -> dict[str, Any]:
    """An entry's text as phases -> recent seconds (and ``at``, ``marks``), as version 1
    held it; ValueError when a series holds a value that is not seconds."""
    fields = text.split("|")
    entry: dict[str, Any] = {}
    if fields[0]:
        entry[STAMP] = [float(fields[0])]
    for name, values in zip(SERIES, fields[1:5], strict=False):
        if values:
            entry[name] = series_values(values)
    if len(fields) > 5:
        entry["marks"] = fields[5].split(",") if fields[5] else []
    return entry


def entry_text(entry: Mapping[str, Any]) -> str:
    """An entry of phases -> seconds (checked already) as its text, every number exact."""
    at = entry.get(STAMP)
    fields = [_exact(float(at[0]), stamp_text) if at else ""]
    for name in SERIES:
        values = entry.get(name)
        if values:
            fields.append(",".join([_exact(float(v), seconds_text) for v in values[-KEEP:]]))
        else:
            fields.append("")
    if "marks" in entry:
        fields.append(",".join(entry["marks"]))
    return "|".join(fields)


def _exact(value: float, short: Callable[[float], str]) -> str:
    """``value`` as ``short`` writes it when that reads back the same, else all its digits."""
    text = short(value)
    return text if float(text) == value else _decimals(value)


def not_seconds(nodeid: str) -> str:
    return f"entry for {_short(nodeid)} has values that are not seconds"


def stamp_of(text: str) -> float | None:
    """An entry's stamp; None when it has none."""
    at = text[: text.index("|")]
    return float(at) if at else None


class Store(MutableMapping[str, dict[str, Any]]):
    """The durations store in memory: node id -> entry text (:attr:`texts`).

    As a mapping it shows each entry decoded (:func:`decode_entry`), a new dict at every
    access: changing that dict changes nothing; assigning an entry encodes it. An entry
    found bad when read (a series value that is not seconds) is dropped and counted, with
    those the check on reading dropped (:attr:`bad`, :meth:`problem`).
    """

    __slots__ = ("bad", "first", "texts")

    def __init__(
        self, texts: dict[str, str] | None = None, bad: int = 0, first: str | None = None
    ) -> None:
        self.texts: dict[str, str] = {} if texts is None else texts
        #: how many entries were dropped as bad, and why the first was
        self.bad = bad
        self.first = first

    @classmethod
    def of(cls, entries: Mapping[str, Mapping[str, Any]]) -> Store:
        """A store of its own: a copy of a store, or one made of decoded entries."""
        if isinstance(entries, Store):
            return cls(dict(entries.texts), entries.bad, entries.first)
        return cls({nodeid: entry_text(entry) for nodeid, entry in entries.items()})

    def drop(self, nodeids: Iterable[str]) -> None:
        """Drop entries whose series hold values that are not seconds, and count them."""
        for nodeid in nodeids:
            del self.texts[nodeid]
            self.bad += 1
            self.first = self.first or not_seconds(nodeid)

    def problem(self) -> str | None:
        """What was dropped, in a few words; None when nothing was."""
        if self.bad > 1:
            return f"{self.bad} bad entries, the first: {self.first}"
        return self.first if self.bad else None

    def checked(self) -> Store:
        """This store, every entry read once: the bad ones dropped."""
        bad = []
        for nodeid, text in self.texts.items():
            try:
                decode_entry(text)
            except ValueError:
                bad.append(nodeid)
        self.drop(bad)
        return self

    def __getitem__(self, nodeid: str) -> dict[str, Any]:
        try:
            return decode_entry(self.texts[nodeid])
        except ValueError:
            self.drop([nodeid])
            raise KeyError(nodeid) from None

    def __setitem__(self, nodeid: str, entry: Mapping[str, Any]) -> None:
        self.texts[nodeid] = entry_text(entry)

    def __delitem__(self, nodeid: str) -> None:
        del self.texts[nodeid]

    def __iter__(self) -> Iterator[str]:
        return iter(self.checked().texts)

    def __len__(self) -> int:
        return len(self.texts)

    def __contains__(self, nodeid: object) -> bool:
        return nodeid in self.texts

    def keys(self) -> Any:  # the dict's own view: set operations in C
        return self.checked().texts.keys()

    def __repr__(self) -> str:
        return f"Store({self.texts!r})"

    def stamps(self) -> dict[str, float]:
        """The stamp of every entry that has one."""
        stamps = {}
        for nodeid, text in self.texts.items():
            at = text[: text.index("|")]
            if at:
                stamps[nodeid] = float(at)
        return stamps


def texts_of(store: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """The entry texts of a store (its own, not a copy), or of decoded entries (encoded)."""
    if isinstance(store, Store):
        return store.texts
    return Store.of(store).texts
