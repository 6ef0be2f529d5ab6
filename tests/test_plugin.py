from __future__ import annotations

import pytest

from pytest_tempo import __version__
from pytest_tempo.plugin import ORDERING, TIMING, TYPES, header_line
from pytest_tempo.settings import Settings

from .conftest import xdist_params


def test_header_line_names_active_features() -> None:
    settings = Settings()
    assert header_line(settings, {ORDERING}) == f"tempo {__version__}: order=tiers"
    assert header_line(Settings(order="off"), set()) == f"tempo {__version__}: order=off"
    assert (
        header_line(Settings(slow_threshold=0.5), {ORDERING, TIMING})
        == f"tempo {__version__}: order=tiers, slow-threshold=0.5s"
    )


@xdist_params
def test_header_shown(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest(*xdist_args)
    result.stdout.fnmatch_lines(
        [f"tempo {__version__}: order=tiers, test-types=5, slow-threshold=1.0s"]
    )
    assert result.stdout.str().count(f"tempo {__version__}:") == 1


def test_header_reflects_settings(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest("--tempo-order=off", "-o", "test_types=")
    result.stdout.fnmatch_lines([f"tempo {__version__}: order=off, slow-threshold=1.0s"])


@pytest.mark.parametrize("quiet", ["-q", "--no-header"])
def test_header_quiet(pytester: pytest.Pytester, quiet: str) -> None:
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest(quiet)
    result.assert_outcomes(passed=1)
    assert "tempo " not in result.stdout.str()


@pytest.mark.parametrize(
    ("disable", "header"),
    [
        ("no:tempo-ordering", "order=off, test-types=5, slow-threshold=1.0s"),
        ("no:tempo-types", "order=tiers, slow-threshold=1.0s"),
        ("no:tempo-timing", "order=tiers, test-types=5"),
    ],
)
def test_feature_switched_off(pytester: pytest.Pytester, disable: str, header: str) -> None:
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest("-p", disable)
    result.stdout.fnmatch_lines([f"tempo {__version__}: {header}"])


def test_whole_plugin_switched_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest("-p", "no:tempo")
    result.assert_outcomes(passed=1)
    assert "tempo " not in result.stdout.str()
    assert "tempo-" not in result.stdout.str()


def test_feature_plugins_registered_by_name(pytester: pytest.Pytester) -> None:
    config = pytester.parseconfigure()
    assert config.pluginmanager.has_plugin(ORDERING)
    assert config.pluginmanager.has_plugin(TYPES)
    config = pytester.parseconfigure("-p", "no:tempo-ordering")
    assert not config.pluginmanager.has_plugin(ORDERING)
    assert config.pluginmanager.has_plugin(TYPES)
