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
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pytest import Config, Parser

__all__ = [
    "OPTIONS",
    "SETTINGS_KEY",
    "Option",
    "OrderMode",
    "Settings",
    "TypeRule",
    "add_options",
    "load_settings",
]

OrderMode = Literal["tiers", "durations", "off"]
ORDER_MODES: tuple[OrderMode, ...] = ("tiers", "durations", "off")

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class SettingError(ValueError):
    """A value that cannot be used; the message says what is accepted."""


@dataclass(frozen=True)
class TypeRule:
    """One ``test_types`` line: tests whose path matches ``glob`` get ``markers``."""

    glob: str
    markers: tuple[str, ...]


@dataclass(frozen=True)
class Settings:
    """Everything pytest-tempo was configured with, validated."""

    order: OrderMode = "tiers"
    test_types: tuple[TypeRule, ...] = ()
    extra_markers: tuple[tuple[str, str], ...] = ()


# --- parsers: raw value (str, or list of lines) -> typed value; raise SettingError ---------


def parse_order(raw: str) -> OrderMode:
    value = raw.strip()
    for mode in ORDER_MODES:
        if value == mode:
            return mode
    raise SettingError(f"expected one of {', '.join(ORDER_MODES)}")


def _split_line(line: str, what: str) -> tuple[str, str]:
    key, sep, rest = line.partition(":")
    if not sep or not key.strip():
        raise SettingError(f"line {line!r} is not of the form '{what}'")
    return key.strip(), rest.strip()


def parse_test_types(lines: Sequence[str]) -> tuple[TypeRule, ...]:
    """Parse ``PATH_GLOB: MARKER [MARKER...]`` lines (blank lines and ``#`` comments skipped)."""
    rules = []
    for line in _content_lines(lines):
        glob, rest = _split_line(line, "PATH_GLOB: MARKER [MARKER...]")
        names = tuple(rest.replace(",", " ").split())
        if not names:
            raise SettingError(f"line {line!r} names no marker; expected 'PATH_GLOB: MARKER ...'")
        for name in names:
            if not _IDENTIFIER.match(name):
                raise SettingError(
                    f"line {line!r}: {name!r} is not a marker name (letters, digits, _)"
                )
        rules.append(TypeRule(glob=glob.replace("\\", "/"), markers=names))
    return tuple(rules)


def parse_markers(lines: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Parse ``NAME: description`` lines into (name, description) pairs."""
    result = []
    for line in _content_lines(lines):
        name, description = _split_line(line, "NAME: description")
        if not _IDENTIFIER.match(name):
            raise SettingError(f"line {line!r}: {name!r} is not a marker name (letters, digits, _)")
        if not description:
            raise SettingError(f"line {line!r} has no description; expected 'NAME: description'")
        result.append((name, description))
    return tuple(result)


def parse_seconds(raw: str) -> float:
    """A non-negative, finite number of seconds."""
    try:
        value = float(raw.strip().removesuffix("s"))
    except ValueError:
        raise SettingError("expected a number of seconds such as 0.5") from None
    if not math.isfinite(value) or value < 0:
        raise SettingError("expected a number of seconds of 0 or more")
    return value


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise SettingError("expected true or false")


def _content_lines(lines: Sequence[str]) -> list[str]:
    return [s for s in (line.strip() for line in lines) if s and not s.startswith("#")]


# --- the option table ---------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One user-facing setting: its flag, its ini key, its default and its parser."""

    field: str
    help: str
    parse: Callable[[Any], Any]
    flag: str | None = None
    ini: str | None = None
    ini_type: Literal["string", "linelist"] = "string"
    default: str | tuple[str, ...] = ""
    metavar: str | None = None
    action: Literal["store", "store_true", "append"] = "store"
    accepted: str = ""

    @property
    def dest(self) -> str:
        return "tempo_" + self.field


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
        accepted="tiers, durations or off",
        help="Order the run: 'tiers' runs smoke tests first and slow tests last; 'durations' "
        "also runs the fastest first inside each tier; 'off' keeps pytest's order. "
        "Default: tiers.",
    ),
    Option(
        field="test_types",
        ini="test_types",
        ini_type="linelist",
        default=DEFAULT_TEST_TYPES,
        parse=parse_test_types,
        accepted="lines 'PATH_GLOB: MARKER [MARKER...]'",
        help="Lines 'PATH_GLOB: MARKER [MARKER...]': tests under a path (relative to the "
        "rootdir) get those markers.",
    ),
    Option(
        field="extra_markers",
        ini="tempo_markers",
        ini_type="linelist",
        default=(),
        parse=parse_markers,
        accepted="lines 'NAME: description'",
        help="Lines 'NAME: description': extra markers to register.",
    ),
)

SETTINGS_KEY = pytest.StashKey[Settings]()


def add_options(parser: Parser) -> None:
    """Register every flag and ini key of :data:`OPTIONS` in the "tempo" group."""
    group = parser.getgroup("tempo", "pytest-tempo: ordering, timing and gates")
    for option in OPTIONS:
        if option.flag is not None:
            kwargs: dict[str, Any] = {"dest": option.dest, "default": None, "help": option.help}
            if option.action == "store_true":
                kwargs["action"] = "store_true"
            else:
                kwargs["action"] = option.action
                kwargs["metavar"] = option.metavar
            group.addoption(option.flag, **kwargs)
        if option.ini is not None:
            default = list(option.default) if option.ini_type == "linelist" else option.default
            parser.addini(option.ini, option.help, type=option.ini_type, default=default)


def _raw_value(config: Config, option: Option) -> tuple[Any, str]:
    """The value the user gave and where it came from: flag, then ini, then default."""
    if option.flag is not None:
        value = config.getoption(option.dest)
        if value is not None:
            return value, option.flag
    if option.ini is not None:
        return config.getini(option.ini), f"{option.ini} (ini)"
    return option.default, "default"


def load_settings(config: Config) -> Settings:
    """Read and validate every option; raise :class:`pytest.UsageError` on a bad value."""
    values: dict[str, Any] = {}
    for option in OPTIONS:
        raw, source = _raw_value(config, option)
        if option.action == "store_true" and isinstance(raw, bool):
            values[option.field] = raw
            continue
        try:
            values[option.field] = option.parse(raw)
        except SettingError as exc:
            if option.ini_type == "linelist":
                raise pytest.UsageError(f"{source}: {exc}") from None
            raise pytest.UsageError(f"{source}: {raw!r} is not valid: {exc}") from None
    return Settings(**values)
