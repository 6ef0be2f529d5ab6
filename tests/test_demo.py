"""The example project runs as a newcomer would run it: plain ``pytest`` in its folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_tempo import __version__

DEMO = Path(__file__).parent.parent / "examples" / "demo"


def test_demo_runs_smoke_first_and_slow_last(pytester: pytest.Pytester) -> None:
    shutil.copytree(DEMO, pytester.path, dirs_exist_ok=True, ignore=shutil.ignore_patterns(
        ".pytest_cache", "__pycache__"))  # fmt: skip
    (pytester.path / "tox.ini").unlink()  # the demo's own pyproject.toml configures the run
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [f"tempo {__version__}: order=tiers, test-types=3, slow-threshold=*"]
    )
    ran = [line.split(" ")[0] for line in result.outlines if line.endswith(" PASSED")]
    assert ran[0] == "tests/smoke/test_health.py::test_service_answers"
    assert set(ran[-2:]) == {
        "tests/integration/test_store.py::test_many_orders",
        "tests/test_reports.py::test_yearly_report",
    }
    assert len(ran) == 11
    result.stdout.fnmatch_lines(
        [
            "mark these slow (call over 0.10s, not marked slow):",
            "  tests/test_catalog.py::test_catalog_search (0.1?s)",
        ]
    )
    result.stdout.fnmatch_lines(["*session  catalog in tests (set up once)"])
