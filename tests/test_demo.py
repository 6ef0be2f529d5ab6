"""The example project runs as a newcomer would run it: plain ``pytest`` in its folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_tempo import __version__

from .conftest import HAS_COV, HAS_XDIST

DEMO = Path(__file__).parent.parent / "examples" / "demo"


@pytest.fixture
def demo(pytester: pytest.Pytester) -> pytest.Pytester:
    ignore = shutil.ignore_patterns(".pytest_cache", "__pycache__", ".coverage*")
    shutil.copytree(DEMO, pytester.path, dirs_exist_ok=True, ignore=ignore)
    (pytester.path / "tox.ini").unlink()  # the demo's own pyproject.toml configures the run
    return pytester


def test_demo_runs_smoke_first_and_slow_last(demo: pytest.Pytester) -> None:
    result = demo.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=14, skipped=2)  # the load tests wait for --load-profile
    result.stdout.fnmatch_lines([f"tempo {__version__}: order=tiers, test-types=4, *"])
    ran = [line.split(" ")[0] for line in result.outlines if line.endswith(" PASSED")]
    assert ran[0] == "tests/smoke/test_health.py::test_service_answers"
    assert set(ran[-2:]) == {
        "tests/integration/test_store.py::test_many_orders",
        "tests/test_reports.py::test_yearly_report",
    }
    result.stdout.fnmatch_lines(
        [
            "mark these slow (call over 0.10s, not marked slow):",
            "  tests/test_catalog.py::test_catalog_search (*s)",
        ]
    )
    result.stdout.fnmatch_lines(["*session  catalog in tests (set up once)"])
    result.stdout.fnmatch_lines(
        [
            "*= slow tests =*",
            "*= coverage floors =*",
            "WARNING: 2 coverage floors not checked: coverage is not active*",
            "*= test types =*",
            "type         tests  passed  failed  skipped  seconds",
            "unit             4       4       0        0    *s",
            "integration      4       4       0        0    *s",
            "smoke            2       2       0        0    *s",
            "load             2       0       0        2    *s",
            "db               4       4       0        0    *s",
            "other            4       4       0        0    *s",
        ]
    )


@pytest.mark.skipif(not HAS_COV, reason="pytest-cov is not installed")
@pytest.mark.slow
def test_demo_meets_its_coverage_floors(demo: pytest.Pytester) -> None:
    args = ["--cov", "--cov-context=test", *(["-n", "2"] if HAS_XDIST else [])]
    result = demo.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["total * PASS", "demo_app/pricing.py * 100% * 100% * PASS"])
    # The unit tests run all of pricing.py, the only file they import.
    result.stdout.fnmatch_lines(
        ["type * seconds  coverage", "unit             4       4       0        0    *s      100%"]
    )


def test_demo_skipped_load_test_starts_no_server(demo: pytest.Pytester) -> None:
    """Without --load-profile the load test is skipped before the app's fixture is set up."""
    result = demo.runpytest_subprocess("--setup-show", "tests/load/test_shop_load.py")
    result.assert_outcomes(skipped=1)
    assert "app_url" not in result.stdout.str()
