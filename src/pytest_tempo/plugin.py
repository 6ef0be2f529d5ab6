"""The pytest entry point of pytest-tempo: options, markers, and one plugin per feature.

Each feature is a plugin object registered under its own name, so ``-p no:tempo-ordering``
turns off just that feature and ``-p no:tempo`` the whole plugin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import __version__
from .classify import TypesPlugin
from .markers import marker_lines, register_markers
from .ordering import OrderingPlugin
from .settings import SETTINGS_KEY, add_options, load_settings

if TYPE_CHECKING:
    from pytest import Config, Parser

    from .settings import Settings

#: Names of the feature plugins, in the order they are registered.
ORDERING = "tempo-ordering"
TYPES = "tempo-types"


def pytest_addoption(parser: Parser) -> None:
    add_options(parser)


def pytest_configure(config: Config) -> None:
    settings = load_settings(config)
    config.stash[SETTINGS_KEY] = settings
    register_markers(config, marker_lines(settings))
    manager = config.pluginmanager
    # register() skips a name blocked with -p no:NAME.
    manager.register(TypesPlugin(settings.test_types, config.rootpath), TYPES)
    if settings.order != "off":
        manager.register(OrderingPlugin(), ORDERING)


def header_line(settings: Settings, active: set[str]) -> str:
    """``tempo 0.1.0: order=tiers, test-types=5`` for the features that are on."""
    parts = []
    parts.append(f"order={settings.order if ORDERING in active else 'off'}")
    if TYPES in active and settings.test_types:
        parts.append(f"test-types={len(settings.test_types)}")
    return f"tempo {__version__}: {', '.join(parts)}"


def pytest_report_header(config: Config) -> list[str]:
    if config.get_verbosity() < 0:
        return []
    manager = config.pluginmanager
    active = {name for name in (ORDERING, TYPES) if manager.has_plugin(name)}
    return [header_line(config.stash[SETTINGS_KEY], active)]
