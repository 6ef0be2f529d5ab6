"""The values of pytest-tempo's options: parsers from what a user wrote to typed values.

Each parser takes the raw text (or the lines of a ``linelist`` ini key) and returns the typed
value, or raises :class:`SettingError` saying what is accepted; :class:`Option` is one row of
the option table (:mod:`pytest_tempo.options`), which names the parser of each option. Pure:
nothing here reads pytest's configuration.
"""

from __future__ import annotations

import math
from fnmatch import fnmatchcase, translate
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ._tuples import NamedTuple
from .markers import MARKERS, PYTEST_MARKERS

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .databases.urls import DbUrl
    from .shard_spec import ShardSpec

__all__ = [
    "BaselineMode",
    "Floor",
    "HygieneMode",
    "Option",
    "OrderMode",
    "SettingError",
    "TypeRule",
    "decimal",
    "glob_problem",
    "one_of",
    "shown",
    "whole",
]

OrderMode = Literal["tiers", "durations", "off"]
DistMode = Literal["off", "duration"]
DIST_MODES: tuple[DistMode, ...] = ("off", "duration")
ORDER_MODES: tuple[OrderMode, ...] = ("tiers", "durations", "off")
HygieneMode = Literal["off", "report", "strict"]
HYGIENE_MODES: tuple[HygieneMode, ...] = ("off", "report", "strict")
AdviceMode = Literal["on", "off"]
ADVICE_MODES: tuple[AdviceMode, ...] = ("on", "off")
BaselineMode = Literal["auto", "compare", "update", "off"]
BASELINE_MODES: tuple[BaselineMode, ...] = ("auto", "compare", "update", "off")

#: A decimal number in ASCII digits (the grammar :func:`is_decimal` matches): ``5``, ``.5``,
#: ``1e-3``; ``float()`` would take other digits (``"\u0661"``), ``_``, ``nan`` and ``inf``.
_DECIMAL = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
#: A whole number in ASCII digits (:func:`is_whole`; ``str.isdigit()`` alone is true of
#: ``"\u00b2"``, which ``int()`` refuses).
_WHOLE = r"[+-]?[0-9]+"

#: Upper bounds of the numeric options: past them a value is a typo, and would overflow or
#: exhaust memory further on (k6 stages in milliseconds, virtual users allocated up front).
MAX_SLOW_THRESHOLD = 86_400  # seconds: a day
MAX_REPORT_ROWS = 100_000  # ``all`` shows every slow test
#: A value shown in an error message is cut to this many characters.
SHOWN_CHARS = 60

#: PostgreSQL cuts identifiers at 63 bytes (NAMEDATALEN - 1); MySQL allows 64 characters.
MAX_IDENTIFIER = 63
_PLAIN_FIRST = frozenset("abcdefghijklmnopqrstuvwxyz_")
_PLAIN_REST = _PLAIN_FIRST | frozenset("0123456789")


def is_marker_name(name: str) -> bool:
    """True for a marker name: ASCII letters, digits and ``_``, not starting with a digit."""
    return name.isascii() and name.replace("_", "a").isalnum() and not name[0].isdigit()


def is_plain_identifier(name: str) -> bool:
    """True for a name valid unquoted in PostgreSQL and MySQL, within 63 bytes."""
    return (
        0 < len(name) <= MAX_IDENTIFIER  # ASCII only: characters are bytes
        and name[0] in _PLAIN_FIRST
        and all(char in _PLAIN_REST for char in name)
    )


class SettingError(ValueError):
    """A value that cannot be used; the message says what is accepted."""


# Named tuples, not frozen dataclasses: defined at every start-up, where a frozen dataclass
# costs a millisecond or so.
class TypeRule(NamedTuple):
    """One ``test_types`` line: tests whose path matches ``glob`` get ``markers``."""

    glob: str
    markers: tuple[str, ...]


class Floor(NamedTuple):
    """One coverage floor: ``pattern`` (``total`` or a path glob) must reach ``percent``."""

    pattern: str
    percent: float

    @property
    def is_total(self) -> bool:
        return self.pattern == "total"


# --- parsers: raw value (str, or list of lines) -> typed value; raise SettingError ---------


def shown(value: object) -> str:
    """``value`` as an error message quotes it: ``repr``, so control characters and line
    breaks stay on one line, and cut after :data:`SHOWN_CHARS` characters."""
    if isinstance(value, str) and len(value) > SHOWN_CHARS:
        return f"{value[:SHOWN_CHARS]!r}... ({len(value)} characters)"
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS + 2 else f"{text[:SHOWN_CHARS]}..."


def line_of(line: str) -> str:
    return f"line {shown(line)}"


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def is_whole(text: str) -> bool:
    """Whether ``text`` is a whole number in ASCII digits, with an optional sign: the
    ``_WHOLE`` pattern, matched without compiling it (settings are read on every run)."""
    return _digits(text[1:] if text[:1] in ("+", "-") else text)


def is_decimal(text: str) -> bool:
    """Whether ``text`` is a decimal number in ASCII digits (the ``_DECIMAL`` pattern),
    matched without compiling it."""
    mantissa, e, exponent = text.replace("E", "e").partition("e")
    if e and not is_whole(exponent):
        return False
    whole, dot, fraction = (mantissa[1:] if mantissa[:1] in ("+", "-") else mantissa).partition(".")
    if whole:
        return _digits(whole) and (not fraction or _digits(fraction))
    return bool(dot) and _digits(fraction)


def decimal(raw: str) -> float | None:
    """``raw`` as a number if it is written as a decimal in ASCII digits, else None."""
    text = raw.strip()
    return float(text) if is_decimal(text) else None


def whole(raw: str) -> int | float | None:
    """``raw`` as a whole number if written in ASCII digits, else None; ``inf`` for one too
    long for ``int()`` (over 4300 digits), which no bound admits anyway."""
    text = raw.strip()
    if not is_whole(text):
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


def _split_line(line: str, what: str) -> tuple[str, str]:
    key, sep, rest = line.partition(":")
    if not sep or not key.strip():
        raise SettingError(f"{line_of(line)} is not of the form '{what}'")
    return key.strip(), rest.strip()


def parse_test_types(lines: Sequence[str]) -> tuple[TypeRule, ...]:
    """Parse ``PATH_GLOB: MARKER [MARKER...]`` lines (blank lines and ``#`` comments skipped)."""
    rules = []
    for line in content_lines(lines):
        glob, rest = _split_line(line, "PATH_GLOB: MARKER [MARKER...]")
        names = tuple(rest.replace(",", " ").split())
        if not names:
            raise SettingError(f"{line_of(line)} names no marker; expected 'PATH_GLOB: MARKER ...'")
        for name in names:
            if not is_marker_name(name):
                raise SettingError(
                    f"{line_of(line)}: {shown(name)} is not a marker name (letters, digits, _)"
                )
        glob = glob.replace("\\", "/")
        problem = glob_problem(glob)
        if problem:
            raise SettingError(f"{line_of(line)}: the glob {shown(glob)} {problem}")
        rules.append(TypeRule(glob=glob, markers=names))
    return tuple(rules)


def parse_markers(lines: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Parse ``NAME: description`` lines into (name, description) pairs.

    A name of pytest-tempo's or pytest's own markers is refused (its description would be
    replaced, or listed twice), as is a name given twice.
    """
    result: dict[str, str] = {}
    for line in content_lines(lines):
        name, description = _split_line(line, "NAME: description")
        where = line_of(line)
        if not is_marker_name(name):
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
    from ._coverage import GlobError, glob_regex

    floors: list[Floor] = []
    seen: set[str] = set()
    for line in content:
        pattern, pct = _split_line(line, "PATTERN: PCT")
        pattern = pattern.replace("\\", "/")
        try:
            percent = parse_percent(pct)
        except SettingError as exc:
            raise SettingError(f"{line_of(line)}: {exc}") from None
        if not pattern.isprintable():
            # No path has them, and coverage.py before 7.17 loops forever on a line break.
            raise SettingError(
                f"{line_of(line)}: the pattern has characters that are not printable"
            )
        if pattern != "total":
            try:
                glob_regex(pattern)
            except GlobError as exc:
                raise SettingError(f"{line_of(line)}: {exc}") from None
        if pattern in seen:
            raise SettingError(f"{line_of(line)}: the pattern {shown(pattern)} already has a floor")
        seen.add(pattern)
        floors.append(Floor(pattern=pattern, percent=percent))
    return tuple(floors)


def glob_match(text: str, glob: str) -> bool:
    """``fnmatch.fnmatchcase(text, glob)``, with no regex to compile where ``glob`` has no
    wildcard, or a single ``*`` at its start or end and no other (``tests/unit/*``,
    ``*.k6.js``): the usual globs, matched on every run."""
    if "?" not in glob and "[" not in glob:
        star = glob.find("*")
        if star < 0:
            return text == glob
        if glob.count("*") == 1:
            if star == len(glob) - 1:
                return text.startswith(glob[:-1])
            if star == 0:
                return text.endswith(glob[1:])
    return fnmatchcase(text, glob)


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
    if "[" in glob and "(?!)" in translate(glob):  # only a set can be empty
        return "has a character range that is empty, such as [z-a]"
    if "/" in glob:
        if glob.startswith("/") or (glob[1:2] == ":" and glob[:1].isascii() and glob[0].isalpha()):
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
    from .databases.urls import parse_db_url as parse

    return parse(raw)


def _redis_url(raw: str) -> str:
    from .databases.urls import parse_redis_url as parse

    return parse(raw)


def parse_shard_option(raw: str) -> ShardSpec | None:
    """``--shard=K/N`` (:mod:`pytest_tempo.shard_spec`, imported only when given), or unset."""
    if not raw.strip():
        return None
    from .shard_spec import parse_shard

    try:
        return parse_shard(raw)
    except ValueError as exc:
        raise SettingError(str(exc)) from None


#: ``db_url``: a PostgreSQL, MySQL/MariaDB or SQLite URL, or unset.
parse_db_url = optional(_db_url)
#: ``redis_url``: a redis://, rediss:// or unix:// URL, or unset.
parse_redis_url = optional(_redis_url)


# --- the option table ---------------------------------------------------------------------


class Option(NamedTuple):
    """One user-facing setting: its flag, its ini key, its default, its parser, and the words
    that describe it in ``pytest --help`` and in the configuration reference.

    ``help``, ``kind``, ``example`` and ``shown_default`` are Markdown (code in backticks), so
    the reference can show them as they are; ``pytest --help`` shows ``help`` followed by
    ``Default: ...`` from the data.
    """

    field: str
    #: What the setting does, in sentences; without the default, which is added from the data.
    help: str
    parse: Callable[[Any], Any]
    #: The accepted values in words, e.g. "seconds, 0 or more".
    kind: str
    #: A flag or an ini line as a user writes it, e.g. "`--slow-threshold=0.5`".
    example: str
    flag: str | None = None
    ini: str | None = None
    ini_type: Literal["string", "linelist"] = "string"
    default: str | tuple[str, ...] = ""
    #: The default as users should read it, where the raw ``default`` is not (an environment
    #: fallback, say); None shows ``default``.
    shown_default: str | None = None
    metavar: str | None = None
    action: Literal["store", "store_true", "append"] = "store"
    #: Environment variables read, in order, when neither the flag nor the ini key is set.
    env: tuple[str, ...] = ()
    #: Of ``env``, the variables other tools read too (``DATABASE_URL``): a value there that
    #: this option cannot use is reported when the feature is used, not at start-up.
    shared_env: tuple[str, ...] = ()
    #: Mask the password of a URL value in error messages.
    secret: bool = False

    @property
    def dest(self) -> str:
        return "tempo_" + self.field

    @property
    def default_text(self) -> str:
        """The default in Markdown: `1.0`, "unset", "none", or ``shown_default``."""
        if self.shown_default is not None:
            return self.shown_default
        if isinstance(self.default, tuple):
            return ", ".join(f"`{line}`" for line in self.default) or "none"
        return f"`{self.default}`" if self.default else "unset"

    @property
    def help_text(self) -> str:
        """The ``pytest --help`` text: ``help`` and the default."""
        return f"{self.help} Default: {self.default_text.replace('`', '')}."
