"""Pay only for what you use: features a suite does not use import nothing heavy.

Each run is a real pytest process (``runpytest_subprocess``) whose conftest writes, at the
end of the session, the modules every process that ran tests (the controller and each
xdist worker) has imported. Nothing here is timed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from .conftest import xdist_params

if TYPE_CHECKING:
    from pathlib import Path

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
    "ctypes",
)

#: What ``pytest --co`` on a project without tests must not import either: the engines of
#: the features that are on by default, which load when they first have work to do.
ENGINES = (
    "pytest_tempo.timing.aggregate",
    "pytest_tempo.timing.outputs",
    "pytest_tempo.durations_record",
    # The store's reading code, loaded only for a store that exists.
    "pytest_tempo.durations_io",
    "pytest_tempo.jsonfile",
    # The per-type summary's rows and rendering, loaded when it has a test to show.
    "pytest_tempo.types_summary",
    # The advice's reading of fixtures, loaded when a collection has tests.
    "pytest_tempo.advice.facts",
    # The hook's documentation module: the package declares the hook.
    "pytest_tempo.databases.hookspecs",
    "pytest_tempo.load._supervisor",
    "pytest_tempo.shards",
    "pytest_tempo.scheduling",
    "pytest_tempo.costs",
    "pytest_tempo._coverage",
    # Load, hygiene and databases, registered but unused: only their hooks are imported.
    "pytest_tempo.load.plugin",
    "pytest_tempo.load.state",
    "pytest_tempo.load.profiles",
    "pytest_tempo.load.limits",
    "pytest_tempo.load.process",
    "pytest_tempo.load.render",
    "pytest_tempo.hygiene.findings",
    "pytest_tempo.hygiene.rules",
    "pytest_tempo.hygiene.scan",
    "pytest_tempo.databases.run",
    "pytest_tempo.workers",
    "pytest_tempo.step_summary",
    "pytest_tempo.shard_spec",  # --shard's value, only when given
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


#: Writes every module imported once the run is over, terminal sections included.
CONFTEST_AT_EXIT = """
import os
import sys


def pytest_unconfigure(config):
    with open(os.path.join(str(config.rootpath), "modules-main"), "w") as f:
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


def test_collect_only_on_a_project_without_tests_imports_no_engine(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``pytest --co`` with every default feature on: what a run that has nothing to time,
    order, record or show must not import (it used to import most of the plugin)."""
    # A temp dir of its own: engine folders other tests leave behind would rightly make the
    # load feature import its sweep.
    monkeypatch.setenv("TMPDIR", str(pytester.mkdir("tmp")))
    pytester.makeconftest(CONFTEST_AT_EXIT)
    result = pytester.runpytest_subprocess("--co", "-q", "-p", "no:cov", "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    modules = _modules(pytester.path)["modules-main"]
    assert "pytest_tempo.timing.plugin" in modules  # the plugin was on
    assert sorted(set(HEAVY + ENGINES) & modules) == []


def test_collect_only_imports_no_judge_of_the_advice(pytester: pytest.Pytester) -> None:
    """``--co`` runs no test: the advice has nothing to judge, and imports none of its
    judges, even with an outcome history from an earlier run."""
    pytester.makeconftest(CONFTEST_AT_EXIT)
    pytester.makepyfile(test_plain="def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cov", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    assert "pytest_tempo.advice.judge" in _modules(pytester.path)["modules-main"]  # the control
    result = pytester.runpytest_subprocess("--co", "-q", "-p", "no:cov", "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.OK
    modules = _modules(pytester.path)["modules-main"]
    assert "pytest_tempo.advice.hooks" in modules  # the advice was on
    # Fixture definitions are read only when a fixture's set-ups are worth judging.
    judges = {
        f"pytest_tempo.advice.{name}" for name in ("judge", "flaky", "parallel", "render", "facts")
    }
    assert sorted(judges & modules) == []


def test_a_missing_store_never_loads_the_store_parser(pytester: pytest.Pytester) -> None:
    """The durations store is read when first needed: a run with nothing to order and no
    store yet loads neither its reader nor its parser (the advice, which reads earlier
    runs, is off)."""
    pytester.makeconftest(CONFTEST_AT_EXIT)
    result = pytester.runpytest_subprocess(
        "--co", "-q", "-p", "no:cov", "-p", "no:randomly", "-o", "tempo_advice=off"
    )
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    modules = _modules(pytester.path)["modules-main"]
    assert "pytest_tempo.store_handle" in modules  # the handle was made
    assert "pytest_tempo.durations_io" not in modules
    assert "pytest_tempo.jsonfile" not in modules
    assert "pytest_tempo.durations" not in modules
    assert not (pytester.path / ".pytest_cache" / "v" / "tempo").exists()


def test_a_store_is_read_and_written_once_tests_run(pytester: pytest.Pytester) -> None:
    """The control: the same checks see the store's modules when a test runs."""
    pytester.makeconftest(CONFTEST_AT_EXIT)
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cov", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    modules = _modules(pytester.path)["modules-main"]
    assert {"pytest_tempo.durations", "pytest_tempo.durations_record"} <= modules
    assert "pytest_tempo.timing.aggregate" in modules
    assert "pytest_tempo.types_summary" in modules  # the "test types" section was written
    assert "pytest_tempo.hygiene.scan" in modules  # a test collected: the hygiene scan ran
    assert "pytest_tempo.timing.outputs" not in modules  # nothing slow to show
    assert (pytester.path / ".pytest_cache" / "v" / "tempo" / "durations").exists()


def test_a_k6_script_loads_the_load_feature_when_collected(pytester: pytest.Pytester) -> None:
    """The control of the load guards: a k6 script collected (and skipped without a
    profile) imports the load state and the k6 items."""
    pytester.makeconftest(CONFTEST_AT_EXIT)
    pytester.path.joinpath("smoke.k6.js").write_text("export default function () {}\n")
    result = pytester.runpytest_subprocess("-p", "no:cov", "-p", "no:randomly", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*--load-profile=NAME*"])
    modules = _modules(pytester.path)["modules-main"]
    assert {"pytest_tempo.load.state", "pytest_tempo.load.k6"} <= modules
    assert "pytest_tempo.load.plugin" not in modules  # no profile: the hooks only


def test_floors_without_coverage_measured_do_not_import_coverage(
    pytester: pytest.Pytester,
) -> None:
    """Floors are configured but nothing measures coverage: coverage.py is not imported."""
    pytester.makeconftest(CONFTEST_AT_EXIT)
    pytester.makeini("[pytest]\ncov_floors =\n    total: 50\n")
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cov", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*coverage floor*not checked*"])
    modules = _modules(pytester.path)["modules-main"]
    assert "pytest_tempo.coverage_floors" in modules  # the floors were on
    assert "coverage" not in modules


CONFTEST_LOADERS = """
import os
import sys


def pytest_sessionfinish(session):
    worker = getattr(session.config, "workerinput", {}).get("workerid", "main")
    loaders = sorted(
        f"{name} {type(module.__loader__).__name__}"
        for name, module in list(sys.modules.items())
        if name.startswith("pytest_tempo.")
    )
    with open(os.path.join(str(session.config.rootpath), "loaders-" + worker), "w") as f:
        f.write("\\n".join(loaders))
"""


@xdist_params
def test_the_plugins_modules_skip_the_assertion_rewriter_and_tests_do_not(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    """pytest's assertion rewriting loader reads cached bytecode several times slower than
    Python's: the plugin's own modules load with Python's, the test modules still with
    pytest's (their failures keep the rewritten explanation)."""
    pytester.makeconftest(CONFTEST_LOADERS)
    pytester.makepyfile(test_lists="def test_lists():\n    assert [1, 2, 3] == [1, 2, 4]\n")
    result = pytester.runpytest_subprocess(*xdist_args, "-p", "no:cov", "-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*At index 2 diff: 3 != 4*"])
    files = sorted(pytester.path.glob("loaders-*"))
    assert len(files) == (3 if xdist_args else 1)
    for file in files:
        loaders = dict(line.split() for line in file.read_text().splitlines())
        assert "pytest_tempo.plugin" in loaders, file.name
        rewritten = {n: kind for n, kind in loaders.items() if kind != "SourceFileLoader"}
        assert rewritten == {}, file.name


def test_a_module_the_plugin_only_drives_is_imported_plainly(pytester: pytest.Pytester) -> None:
    """``_import_plainly`` (pytest-xdist's schedulers for the advice's forecast) loads a
    package's modules with Python's loader while it imports, and only then."""
    pkg = pytester.mkpydir("plainpkg")
    (pkg / "sub.py").write_text("from plainpkg import helper\n")
    (pkg / "helper.py").write_text("")
    (pkg / "other.py").write_text("")
    pytester.makeconftest("import pytest\npytest.register_assert_rewrite('plainpkg')\n")
    pytester.makepyfile(
        test_plain="""
        import importlib
        import sys

        import pytest_tempo


        def loader(name):
            return type(sys.modules[name].__loader__).__name__


        def test_plain():
            pytest_tempo._import_plainly("plainpkg.sub")
            assert loader("plainpkg.sub") == "SourceFileLoader"
            assert loader("plainpkg.helper") == "SourceFileLoader"
            importlib.import_module("plainpkg.other")
            assert loader("plainpkg.other") == "AssertionRewritingHook"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cov", "-p", "no:randomly")
    result.assert_outcomes(passed=1)


#: Writes, per tempo plugin registered, the names ``dir()`` lists and whether pluggy took
#: every hook of its class.
CONFTEST_HOOK_OBJECTS = """
import os


def pytest_sessionfinish(session):
    worker = getattr(session.config, "workerinput", {}).get("workerid", "main")
    manager = session.config.pluginmanager
    lines = []
    for name, plugin in manager.list_name_plugin():
        if not str(name).startswith("tempo") or plugin is None:
            continue
        if isinstance(plugin, type(os)):
            hooks = {n for n in vars(plugin) if n.startswith("pytest_")}
        else:
            hooks = {n for n in dir(type(plugin)) if n.startswith("pytest_")}
        taken = {caller.name for caller in manager.get_hookcallers(plugin) or ()}
        listed = sorted(dir(plugin))
        lines.append(f"{name} {','.join(listed)} {sorted(hooks - taken)}")
    with open(os.path.join(str(session.config.rootpath), "hooks-" + worker), "w") as f:
        f.write("\\n".join(lines))
"""


@xdist_params
def test_registering_a_feature_looks_only_at_its_hooks_and_fixtures(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    """pluggy and pytest look up every name ``dir()`` lists of a registered object (pytest 9
    with several lookups each, for fixtures): the plugin's objects and modules list their
    hooks and fixtures alone, and every hook is still taken."""
    pytester.makeconftest(CONFTEST_HOOK_OBJECTS)
    pytester.makepyfile(test_uses="def test_one(tempo_worker):\n    assert tempo_worker.id\n")
    result = pytester.runpytest_subprocess(*xdist_args, "-p", "no:cov", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    files = sorted(pytester.path.glob("hooks-*"))
    assert len(files) == (3 if xdist_args else 1)
    fixtures = {"tempo_worker", "worker_database", "worker_db_name", "worker_db_url",
                "worker_namespace", "load_test", "RUN_KEY"}  # fmt: skip
    for file in files:
        rows = [line.split(" ", 2) for line in file.read_text().splitlines()]
        names = {row[0] for row in rows}
        assert {"tempo", "tempo-timing", "tempo-databases", "tempo-load"} <= names, file.name
        for name, listed, missing in rows:
            assert missing == "[]", (file.name, name, missing)
            strays = [n for n in listed.split(",") if n and not n.startswith("pytest_")]
            assert set(strays) <= fixtures, (file.name, name, strays)
    shown = pytester.runpytest_subprocess("--fixtures", "-p", "no:cov", "-p", "no:randomly")
    shown.stdout.fnmatch_lines_random(["load_test*", "worker_namespace*", "tempo_worker*"])
