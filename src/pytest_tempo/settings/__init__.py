"""Every flag and ini key of pytest-tempo, read once into a frozen :class:`Settings`.

The table :data:`OPTIONS` is the single definition of the user-facing names: it registers
the options with pytest, drives parsing and validation, and feeds the configuration
reference in the docs. A flag defaults to ``None`` and falls back to its ini key, which
falls back to the documented default. Every invalid value is a :class:`pytest.UsageError`
that names where the value came from (the flag or the ini key), the value and what is
accepted.

The package is laid out along those lines:

- :mod:`.model`: the frozen :class:`Settings`, its value types and modes, and
  :class:`Option`, the shape of a row of the table;
- :mod:`.parse` and :mod:`.parse_load`: the pure parsers and validators, raising
  :class:`SettingError` with what is accepted;
- :mod:`.options`: the table :data:`OPTIONS`;
- :mod:`.read`: registering the options with pytest and reading them into
  :class:`Settings`.

This module re-exports the names the features and the tests use.
"""

from __future__ import annotations

from .model import (
    DIST_MODES,
    HYGIENE_MODES,
    ORDER_MODES,
    SETTINGS_KEY,
    BaselineMode,
    Floor,
    HygieneMode,
    Option,
    Settings,
    ShardSpec,
    TypeRule,
)
from .options import DEFAULT_TEST_TYPES, OPTIONS
from .parse import (
    MAX_LOAD_VUS,
    MAX_REPORT_ROWS,
    MAX_SHARDS,
    MAX_SLOW_THRESHOLD,
    MAX_TIME_SCALE,
    SHOWN_CHARS,
    SettingError,
    glob_problem,
    parse_bool,
    parse_cov_floors,
    parse_markers,
    parse_order,
    parse_percent,
    parse_report_rows,
    parse_seconds,
    parse_shard,
    parse_test_types,
    shown,
)
from .parse_load import parse_k6_globs, parse_scale, parse_vus
from .read import add_options, check_timing_off, load_settings, read_option

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
