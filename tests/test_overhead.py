"""Pay only for what you use: features a suite does not use import nothing heavy.

Each run is a real pytest process (``runpytest_subprocess``) whose conftest writes, at the
end of the session, the modules every process that ran tests (the controller and each
xdist worker) has imported. Nothing here is timed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .conftest import xdist_params

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

#: Modules a suite that uses no database, no load test, no floors, no shard and no report
#: file must never import: drivers, Locust, k6 handling, psutil, coverage.py, the writers.
HEAVY = (
    "pytest_tempo.databases.urls",
    "pytest_tempo.databases.base",
    "pytest_tempo.databases.redis",
    "pytest_tempo.databases.postgresql",
    "pytest_tempo.databases.mysql",
    "pytest_tempo.databases.sqlite",
    "pytest_tempo.load.baseline",
    "pytest_tempo.load.k6",
    "pytest_tempo.load.k6bin",
    "pytest_tempo.load.locust",
    "pytest_tempo.load.resources",
    "pytest_tempo.load.series",
    "pytest_tempo.load.page",
    "pytest_tempo.load.thresholds",
    "pytest_tempo.coverage_floors",
    "pytest_tempo.report.html",
    "pytest_tempo.report.charts",
    "pytest_tempo.report.timeline",
    "pytest_tempo.shards",
    "pytest_tempo.scheduling",
    "pytest_tempo.hygiene.render",
    "psycopg",
    "psycopg2",
    "pymysql",
    "MySQLdb",
    "redis",
    "locust",
    "gevent",
    "psutil",
    "coverage",
    "statistics",
)

CONFTEST = """
import os
import sys


def pytest_sessionfinish(session):
    # Not PYTEST_XDIST_WORKER: a run under xdist passes it on to this process.
    worker = getattr(session.config, "workerinput", {}).get("workerid", "main")
    with open(os.path.join(str(session.config.rootpath), "modules-" + worker), "w") as f:
        f.write("\\n".join(sorted(sys.modules)))
"""


def _modules(root: Path) -> dict[str, set[str]]:
    return {p.name: set(p.read_text().split()) for p in root.glob("modules-*")}


@xdist_params
def test_an_unused_feature_imports_nothing_heavy(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_plain="def test_one():\n    pass\n\ndef test_two():\n    pass\n")
    result = pytester.runpytest_subprocess(*xdist_args, "-p", "no:cov", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    seen = _modules(pytester.path)
    assert len(seen) == (3 if xdist_args else 1)  # the controller and two workers, or one
    for process, modules in seen.items():
        assert "pytest_tempo.plugin" in modules, process  # the plugin was on
        assert sorted(set(HEAVY) & modules) == [], process


def test_a_database_fixture_imports_the_url_machinery_when_used(
    pytester: pytest.Pytester,
) -> None:
    """The control: the same check sees the modules a fixture really needs."""
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_db="def test_url(worker_db_url):\n    assert worker_db_url\n")
    result = pytester.runpytest_subprocess("-p", "no:cov", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    modules = _modules(pytester.path)["modules-main"]
    assert "pytest_tempo.databases.urls" in modules
    assert "pytest_tempo.databases.postgresql" not in modules  # a SQLite URL needs no driver
