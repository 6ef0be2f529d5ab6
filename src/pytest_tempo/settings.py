"""Every flag and ini key of pytest-tempo, read once into a frozen :class:`Settings`.

The table :data:`~pytest_tempo.options.OPTIONS` is the single definition of the user-facing
names: it registers the options with pytest, drives parsing and validation (the parsers are in
:mod:`pytest_tempo.parsers`), and feeds the configuration reference in the docs. A flag
defaults to ``None`` and falls back to its ini key, which falls back to the documented default.
Every invalid value is a :class:`pytest.UsageError` that names where the value came from (the
flag or the ini key), the value and what is accepted. The names of :mod:`pytest_tempo.parsers`
and the option table that other modules use are imported from here too.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pytest

from ._tuples import NamedTuple
from ._xdist import is_worker
from .load.options import MAX_LOAD_VUS, MAX_TIME_SCALE, parse_k6_globs, parse_scale, parse_vus
from .options import DEFAULT_TEST_TYPES, OPTIONS
from .parsers import (
    DIST_MODES,
    HYGIENE_MODES,
    MAX_REPORT_ROWS,
    MAX_SLOW_THRESHOLD,
    ORDER_MODES,
    SHOWN_CHARS,
    AdviceMode,
    BaselineMode,
    DistMode,
    Floor,
    HygieneMode,
    Option,
    OrderMode,
    SettingError,
    TypeRule,
    glob_problem,
    parse_bool,
    parse_cov_floors,
    parse_markers,
    parse_order,
    parse_percent,
    parse_report_rows,
    parse_seconds,
    parse_test_types,
    shown,
)

if TYPE_CHECKING:
    from pytest import Config, Parser

    from .databases.urls import DbUrl
    from .shard_spec import MAX_SHARDS, ShardSpec, parse_shard

__all__ = [
    "DEFAULT_TEST_TYPES",
    "DIST_MODES",
    "HYGIENE_MODES",
    "MAX_LOAD_VUS",
    "MAX_REPORT_ROWS",
    "MAX_SHARDS",
    "MAX_SLOW_THRESHOLD",
    "MAX_TIME_SCALE",
    "OPTIONS",
    "ORDER_MODES",
    "SETTINGS_KEY",
    "SHOWN_CHARS",
    "BaselineMode",
    "Floor",
    "HygieneMode",
    "Option",
    "OrderMode",
    "SettingError",
    "Settings",
    "ShardSpec",
    "TypeRule",
    "add_options",
    "check_timing_off",
    "glob_problem",
    "load_settings",
    "parse_bool",
    "parse_cov_floors",
    "parse_k6_globs",
    "parse_markers",
    "parse_order",
    "parse_percent",
    "parse_report_rows",
    "parse_scale",
    "parse_seconds",
    "parse_shard",
    "parse_test_types",
    "parse_vus",
    "read_option",
    "shown",
]


class Settings(NamedTuple):
    """Everything pytest-tempo was configured with, validated.

    A named tuple: built at every start-up, where a frozen dataclass of this many fields
    costs about a millisecond to define."""

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
    #: Checked ``load_regression`` text; the load feature parses it when a load test runs.
    load_regression: str = "none"
    load_baseline_path: str | None = None  # None: pytest's cache
    k6_binary: str | None = None
    load_require: bool = False
    load_watch: str | None = None
    load_rss_growth_limit: float | None = None
    load_workers: int | None = None  # None: Locust runs its users on this machine
    load_master_bind: tuple[str, int] | None = None  # None: 127.0.0.1 and a free port
    load_workers_timeout: float = 60.0
    hygiene: HygieneMode = "report"
    advice: AdviceMode = "on"
    #: (field, message) of values from a shared environment variable that the option cannot
    #: use: the feature reports them when it is used (see ``Option.shared_env``).
    deferred: tuple[tuple[str, str], ...] = ()

    def problem(self, field: str) -> str | None:
        return dict(self.deferred).get(field)


SETTINGS_KEY = pytest.StashKey[Settings]()


def __getattr__(name: str) -> Any:
    # The shard's value is imported only when it is used (``--shard``).
    if name in ("MAX_SHARDS", "ShardSpec", "parse_shard"):
        from . import shard_spec

        return getattr(shard_spec, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
