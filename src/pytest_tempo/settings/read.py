"""From pytest's config to :class:`~.model.Settings`: registering and reading the options.

:func:`add_options` registers every flag and ini key of the table; :func:`load_settings`
reads each from the flag, then the ini key, then the environment, then the default, and
turns a parser's :class:`~.parse.SettingError` into one :class:`pytest.UsageError` line
naming where the value came from, the value (masked where secret) and what is accepted.
:func:`check_timing_off` says which options do nothing without the timing feature.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pytest

from .._xdist import is_worker
from .model import Option, Settings
from .options import OPTIONS
from .parse import SettingError, shown

if TYPE_CHECKING:
    from pytest import Config, Parser


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
            from ..databases.urls import mask_password

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
