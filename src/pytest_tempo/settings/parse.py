"""Pure parsers and validators: a raw value (text, or a list of lines) to a typed value.

Each parser raises :class:`SettingError` with the words of what is accepted; reading the
options (:mod:`.read`) turns it into a one-line :class:`pytest.UsageError` naming the flag or
ini key and the value. The bounds of the numeric options live here too. The load-test
options' parsers are in :mod:`.parse_load`.
"""

from __future__ import annotations

import math
import re
from fnmatch import translate
from typing import TYPE_CHECKING, TypeVar

from ..markers import MARKERS, PYTEST_MARKERS
from ..workers import MAX_IDENTIFIER, is_plain_identifier
from .model import (
    ADVICE_MODES,
    DIST_MODES,
    HYGIENE_MODES,
    ORDER_MODES,
    Floor,
    ShardSpec,
    TypeRule,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ..databases.urls import DbUrl

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: A decimal number in ASCII digits: ``5``, ``0.25``, ``.5``, ``1e-3``. ``float()`` alone would
#: also take other scripts' digits (``"\u0661"``), ``_`` separators, ``nan`` and ``inf``.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
#: A whole number in ASCII digits. ``str.isdigit()`` is also true of ``"\u00b2"``, which
#: ``int()`` refuses.
_WHOLE = re.compile(r"[+-]?[0-9]+")

#: Upper bounds of the numeric options: past them a value is a typo, and would overflow or
#: exhaust memory further on (k6 stages in milliseconds, virtual users allocated up front).
MAX_SLOW_THRESHOLD = 86_400  # seconds: a day
MAX_REPORT_ROWS = 100_000  # ``all`` shows every slow test
MAX_LOAD_VUS = 10_000  # the spike profile runs 10 times as many
MAX_TIME_SCALE = 100  # the soak profile's 4 h 10 min become about 17 days
MAX_PID = 2**31 - 1  # what kill(2) takes
MAX_GROWTH = 1_000_000  # MB per hour: a terabyte an hour
MAX_SHARDS = 10_000  # the largest N of ``--shard=K/N``
#: A value shown in an error message is cut to this many characters.
SHOWN_CHARS = 60


class SettingError(ValueError):
    """A value that cannot be used; the message says what is accepted."""


def parse_shard(raw: str) -> ShardSpec:
    """Parse ``K/N`` with 1 <= K <= N <= MAX_SHARDS; raise ValueError saying what is accepted."""
    k, sep, n = raw.strip().partition("/")
    if not sep or not k.strip().isdigit() or not n.strip().isdigit():
        raise ValueError("expected K/N with whole numbers, such as 1/4")
    index, count = int(k), int(n)
    if count < 1 or not 1 <= index <= count:
        raise ValueError("expected K/N with 1 <= K <= N, such as 1/4")
    if count > MAX_SHARDS:
        raise ValueError(f"expected at most {MAX_SHARDS} shards (N), such as 1/4")
    return ShardSpec(index, count)


def shown(value: object) -> str:
    """``value`` as an error message quotes it: ``repr``, so control characters and line
    breaks stay on one line, and cut after :data:`SHOWN_CHARS` characters."""
    if isinstance(value, str) and len(value) > SHOWN_CHARS:
        return f"{value[:SHOWN_CHARS]!r}... ({len(value)} characters)"
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS + 2 else f"{text[:SHOWN_CHARS]}..."


def line_named(line: str) -> str:
    return f"line {shown(line)}"


def decimal(raw: str) -> float | None:
    """``raw`` as a number if it is written as a decimal in ASCII digits, else None."""
    text = raw.strip()
    return float(text) if _DECIMAL.fullmatch(text) else None


def whole(raw: str) -> int | float | None:
    """``raw`` as a whole number if written in ASCII digits, else None; ``inf`` for one too
    long for ``int()`` (over 4300 digits), which no bound admits anyway."""
    text = raw.strip()
    if not _WHOLE.fullmatch(text):
        return None
    digits = text.lstrip("+-").lstrip("0")
    if len(digits) > 18:
        return -math.inf if text.startswith("-") else math.inf
    return int(text)


S = TypeVar("S", bound=str)
T = TypeVar("T")


def one_of(choices: tuple[S, ...]) -> Callable[[str], S]:
    """A parser accepting exactly one of ``choices`` (surrounding blanks ignored)."""

    def parse_choice(raw: str) -> S:
        value = raw.strip()
        for choice in choices:
            if value == choice:
                return choice
        raise SettingError(f"expected one of {', '.join(choices)}")

    return parse_choice


parse_order = one_of(ORDER_MODES)


def split_line(line: str, what: str) -> tuple[str, str]:
    key, sep, rest = line.partition(":")
    if not sep or not key.strip():
        raise SettingError(f"{line_named(line)} is not of the form '{what}'")
    return key.strip(), rest.strip()


def parse_test_types(lines: Sequence[str]) -> tuple[TypeRule, ...]:
    """Parse ``PATH_GLOB: MARKER [MARKER...]`` lines (blank lines and ``#`` comments skipped)."""
    rules = []
    for line in content_lines(lines):
        glob, rest = split_line(line, "PATH_GLOB: MARKER [MARKER...]")
        names = tuple(rest.replace(",", " ").split())
        if not names:
            raise SettingError(
                f"{line_named(line)} names no marker; expected 'PATH_GLOB: MARKER ...'"
            )
        for name in names:
            if not _IDENTIFIER.match(name):
                raise SettingError(
                    f"{line_named(line)}: {shown(name)} is not a marker name (letters, digits, _)"
                )
        glob = glob.replace("\\", "/")
        problem = glob_problem(glob)
        if problem:
            raise SettingError(f"{line_named(line)}: the glob {shown(glob)} {problem}")
        rules.append(TypeRule(glob=glob, markers=names))
    return tuple(rules)


def parse_markers(lines: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Parse ``NAME: description`` lines into (name, description) pairs.

    A name of pytest-tempo's or pytest's own markers is refused (its description would be
    replaced, or listed twice), as is a name given twice.
    """
    result: dict[str, str] = {}
    for line in content_lines(lines):
        name, description = split_line(line, "NAME: description")
        where = line_named(line)
        if not _IDENTIFIER.match(name):
            raise SettingError(f"{where}: {shown(name)} is not a marker name (letters, digits, _)")
        if not description:
            raise SettingError(f"{where} has no description; expected 'NAME: description'")
        if not description.isprintable():
            raise SettingError(f"{where}: the description has characters that are not printable")
        if name in MARKERS:
            raise SettingError(
                f"{where}: {name!r} is a built-in marker of pytest-tempo, whose description "
                "stays; choose another name"
            )
        if name in PYTEST_MARKERS:
            raise SettingError(f"{where}: {name!r} is one of pytest's own markers")
        if name in result:
            raise SettingError(f"{where}: the marker {name!r} is already described above")
        result[name] = description
    return tuple(result.items())


def parse_seconds(raw: str) -> float:
    """A number of seconds from 0 to :data:`MAX_SLOW_THRESHOLD`, such as ``0.5`` or ``2s``."""
    value = decimal(raw.strip().removesuffix("s"))
    if value is None or not 0 <= value <= MAX_SLOW_THRESHOLD:
        raise SettingError(
            f"expected a number of seconds from 0 to {MAX_SLOW_THRESHOLD}, such as 0.5"
        )
    return value


parse_dist = one_of(DIST_MODES)
parse_hygiene = one_of(HYGIENE_MODES)
parse_advice = one_of(ADVICE_MODES)


def parse_report_rows(raw: str) -> int | None:
    """A row count from 0 to :data:`MAX_REPORT_ROWS`, or ``all`` (None)."""
    if raw.strip().lower() == "all":
        return None
    value = whole(raw)
    if not isinstance(value, int) or not 0 <= value <= MAX_REPORT_ROWS:
        raise SettingError(f"expected a whole number from 0 to {MAX_REPORT_ROWS}, or 'all'")
    return value


def parse_path(raw: str) -> str | None:
    """A file path; empty means unset."""
    value = raw.strip()
    return value or None


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise SettingError("expected true or false")


def parse_percent(raw: str) -> float:
    """A percentage from 0 to 100, such as ``90``, ``92.5`` or ``90%``."""
    value = decimal(raw.strip().removesuffix("%"))
    if value is None:
        raise SettingError(f"{shown(raw.strip())} is not a percentage such as 90 or 92.5")
    if not 0 <= value <= 100:
        raise SettingError(f"{shown(raw.strip())} is not a percentage from 0 to 100")
    return value


def parse_cov_floors(lines: Sequence[str]) -> tuple[Floor, ...]:
    """Parse ``PATTERN: PCT`` lines (ini ``cov_floors``, or the ``--cov-floor`` values).

    A pattern is ``total`` or a glob in coverage.py's syntax, checked here so that a
    malformed glob stops the run before the tests do.
    """
    content = content_lines(lines)
    if not content:
        return ()
    # coverage is a dependency; imported only when there are floors, so that loading the
    # plugin stays cheap (importing coverage costs about 25 ms).
    from .._coverage import GlobError, glob_regex

    floors: list[Floor] = []
    seen: set[str] = set()
    for line in content:
        pattern, pct = split_line(line, "PATTERN: PCT")
        pattern = pattern.replace("\\", "/")
        try:
            percent = parse_percent(pct)
        except SettingError as exc:
            raise SettingError(f"{line_named(line)}: {exc}") from None
        if not pattern.isprintable():
            # No path has them, and coverage.py before 7.17 loops forever on a line break.
            raise SettingError(
                f"{line_named(line)}: the pattern has characters that are not printable"
            )
        if pattern != "total":
            try:
                glob_regex(pattern)
            except GlobError as exc:
                raise SettingError(f"{line_named(line)}: {exc}") from None
        if pattern in seen:
            raise SettingError(
                f"{line_named(line)}: the pattern {shown(pattern)} already has a floor"
            )
        seen.add(pattern)
        floors.append(Floor(pattern=pattern, percent=percent))
    return tuple(floors)


def glob_problem(glob: str) -> str | None:
    """Why ``glob`` (``fnmatch`` syntax, ``/`` separators) can never match a path relative
    to the rootdir, or None: the end of a sentence whose subject is the glob."""
    if not glob.isprintable():
        return "has characters that are not printable"
    i = 0
    while (i := glob.find("[", i) + 1) > 0:
        # Where fnmatch looks for the closing bracket (a "]" right after "[" or "[!" is
        # part of the set); without one, the "[" silently stands for itself.
        j = i + (glob[i : i + 1] == "!")
        j += glob[j : j + 1] == "]"
        end = glob.find("]", j)
        if end < 0:
            return "has an unclosed '['; write '[[]' for a literal '['"
        i = end
    if "(?!)" in translate(glob):
        return "has a character range that is empty, such as [z-a]"
    if "/" in glob:
        if glob.startswith("/") or re.match(r"[A-Za-z]:", glob):
            return "is absolute; paths are matched relative to the rootdir"
        if any(part in ("", ".", "..") for part in glob.split("/")):
            return (
                "has an empty, '.' or '..' part; paths are matched relative to the rootdir, "
                "as in tests/load/*.js"
            )
    return None


def content_lines(lines: Sequence[str]) -> list[str]:
    return [s for s in (line.strip() for line in lines) if s and not s.startswith("#")]


def parse_db_name(raw: str) -> str:
    """A database base name usable unquoted in PostgreSQL and MySQL."""
    value = raw.strip()
    if not is_plain_identifier(value):
        raise SettingError(
            "a database name must be usable without quoting: lower-case letters, digits and _, "
            f"starting with a letter or _, at most {MAX_IDENTIFIER} bytes"
        )
    return value


def optional(parse: Callable[[str], T]) -> Callable[[str], T | None]:
    """A parser for an optional value: empty means unset, and the ValueError of ``parse``
    becomes a SettingError with the same message."""

    def parse_optional(raw: str) -> T | None:
        if not raw.strip():
            return None
        try:
            return parse(raw)
        except ValueError as exc:
            raise SettingError(str(exc)) from None

    return parse_optional


# The URL parsers are imported only when a database URL is given.
def _db_url(raw: str) -> DbUrl:
    from ..databases.urls import parse_db_url as parse

    return parse(raw)


def _redis_url(raw: str) -> str:
    from ..databases.urls import parse_redis_url as parse

    return parse(raw)


#: ``--shard``: K/N, or unset.
parse_shard_option = optional(parse_shard)
#: ``db_url``: a PostgreSQL, MySQL/MariaDB or SQLite URL, or unset.
parse_db_url = optional(_db_url)
#: ``redis_url``: a redis://, rediss:// or unix:// URL, or unset.
parse_redis_url = optional(_redis_url)
