"""Our own suite measures coverage of the plugin, including the lines that run on import.

pytest imports entry-point plugins before pytest-cov starts measuring, so the suite runs
with ``-p no:tempo`` (in ``addopts``) and registers the plugin here instead, once coverage
is running. Inner pytester runs are separate sessions and load the plugin through its
entry point as users do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    if pluginmanager.is_blocked("tempo"):
        import pytest_tempo.plugin

        pluginmanager.register(pytest_tempo.plugin, "tempo-self")
