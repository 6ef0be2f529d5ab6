"""Per-worker databases on a real PostgreSQL server."""

from __future__ import annotations

import json
import re
import threading
import uuid
from typing import TYPE_CHECKING

import pytest

from pytest_tempo.databases.base import DatabaseError
from pytest_tempo.databases.postgresql import PostgresProvisioner
from pytest_tempo.databases.urls import parse_db_url

from ..conftest import xdist_params
from .conftest import EACH_WORKER, closed_port, wait_until_owner_gone

if TYPE_CHECKING:
    from collections.abc import Iterator

psycopg = pytest.importorskip("psycopg")


def databases(admin_url: str, prefix: str) -> set[str]:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", [prefix + "%"]
        ).fetchall()
    return {r[0] for r in rows}


def execute(admin_url: str, *statements: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


@pytest.fixture
def pg(postgres_url: str, base_name: str) -> Iterator[str]:
    """The base name; every database starting with it is dropped after the test."""
    yield base_name
    for name in databases(postgres_url, base_name):
        execute(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def ini(base: str, extra: str = "") -> str:
    return (
        "[pytest]\nconsole_output_style = classic\n"
        f"db_url = postgresql+psycopg://postgres@127.0.0.1:5432/app\ndb_name = {base}\n{extra}"
    )


SUITE = """
    import json, psycopg

    def _url(url):
        return url.replace("postgresql+psycopg://", "postgresql://")

    def test_sees_own_database(worker_database, worker_db_name, tempo_worker, pytestconfig):
        with psycopg.connect(_url(worker_database)) as conn:
            current = conn.execute("SELECT current_database()").fetchone()[0]
            tables = [r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
            conn.execute("CREATE TABLE mine (x int)")
        out = pytestconfig.rootpath / f"seen-{tempo_worker.id}.json"
        out.write_text(json.dumps({"db": current, "name": worker_db_name, "tables": tables}))

    def test_fails(worker_database):
        assert False, "a failing test"
"""

COUNTING_HOOK = """
    import psycopg

    def pytest_tempo_build_template(url, backend, config):
        with open(config.rootpath / "calls.txt", "a") as f:
            f.write(url + "\\n")
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            conn.execute("CREATE TABLE users (id serial PRIMARY KEY, name text)")
"""


def seen(pytester: pytest.Pytester) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted(pytester.path.glob("seen-*.json"))]


@xdist_params
def test_each_worker_has_its_own_database_dropped_after_a_failure(
    pytester: pytest.Pytester, postgres_url: str, pg: str, xdist_args: list[str]
) -> None:
    """Without a template hook: an empty database per worker."""
    pytester.makeini(ini(pg))
    pytester.makepyfile(SUITE)
    extra = [*EACH_WORKER[2:]] if xdist_args else []
    result = pytester.runpytest(*xdist_args, *extra)
    rows = seen(pytester)
    if xdist_args:
        result.assert_outcomes(passed=2, failed=2)
        assert sorted(str(r["db"]) for r in rows) == [f"{pg}_gw0", f"{pg}_gw1"]
    else:
        result.assert_outcomes(passed=1, failed=1)
        assert [r["db"] for r in rows] == [pg]
    assert all(r["db"] == r["name"] and r["tables"] == [] for r in rows)
    assert databases(postgres_url, pg) == set()


@pytest.mark.slow
def test_template_is_built_once_and_cloned_per_worker(
    pytester: pytest.Pytester, postgres_url: str, pg: str
) -> None:
    """Also the db_unique mode: the run's token in every name, the template's too."""
    pytest.importorskip("xdist")
    pytester.makeini(ini(pg, "db_unique = true\n"))
    pytester.makeconftest(COUNTING_HOOK)
    pytester.makepyfile(SUITE)
    result = pytester.runpytest(*EACH_WORKER)
    result.assert_outcomes(passed=2, failed=2)
    calls = (pytester.path / "calls.txt").read_text().splitlines()
    assert len(calls) == 1  # built once for two workers
    assert re.fullmatch(
        rf"postgresql\+psycopg://postgres@127\.0\.0\.1:5432/{pg}_r[0-9a-f]{{10}}_tmpl", calls[0]
    )
    token = calls[0].rsplit("/", 1)[1].removesuffix("_tmpl")
    rows = seen(pytester)
    assert sorted(str(r["db"]) for r in rows) == [f"{token}_gw0", f"{token}_gw1"]
    assert all(r["tables"] == ["users"] for r in rows)  # cloned from the template
    assert databases(postgres_url, pg) == set()  # the workers' and the template: dropped


def test_workers_on_a_fresh_server_all_create_the_registry(postgres_url: str, pg: str) -> None:
    """The first run on a server: its workers create the registry database at one moment."""
    errors: list[BaseException] = []
    workers = [PostgresProvisioner() for _ in range(4)]
    for provisioner in workers:  # a registry of this test's own: the server has none yet
        provisioner.registry_database = f"{pg}_registry"
    start = threading.Barrier(len(workers))

    def worker(n: int) -> None:
        url = parse_db_url(f"postgresql://postgres@127.0.0.1:5432/{pg}_gw{n}")
        start.wait()
        try:
            workers[n].create(url, "run")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(len(workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for provisioner in workers:
        provisioner.close()
    assert errors == []
    assert databases(postgres_url, pg) == {f"{pg}_registry", *(f"{pg}_gw{n}" for n in range(4))}


def test_concurrent_workers_build_the_template_once(postgres_url: str, pg: str) -> None:
    base = parse_db_url(f"postgresql://postgres@127.0.0.1:5432/{pg}")
    template = base.with_database(pg + "_tmpl")
    calls: list[str] = []

    def build(url: str) -> None:
        calls.append(url)
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE t (x int)")

    errors: list[BaseException] = []
    # One provisioner per simulated worker, kept until the end: each is an owner.
    workers = [PostgresProvisioner() for _ in range(3)]

    def worker(n: int) -> None:
        try:
            workers[n].create(
                base.with_database(f"{pg}_gw{n}"), "run", template=template, build=build
            )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert calls == [template.text]
    assert databases(postgres_url, pg) == {f"{pg}_gw0", f"{pg}_gw1", f"{pg}_gw2", f"{pg}_tmpl"}
    workers[0].drop_template(template, "another run")  # not that run's: kept
    assert f"{pg}_tmpl" in databases(postgres_url, pg)
    for provisioner in workers:
        provisioner.close()


@pytest.mark.slow
def test_keyboard_interrupt_drops_the_databases(
    pytester: pytest.Pytester, postgres_url: str, pg: str
) -> None:
    pytest.importorskip("xdist")
    pytester.makeini(ini(pg))
    pytester.makeconftest(COUNTING_HOOK)
    pytester.makepyfile(
        """
        def test_interrupted(worker_database):
            raise KeyboardInterrupt
        """
    )
    result = pytester.runpytest_subprocess(*EACH_WORKER)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert (pytester.path / "calls.txt").exists()
    assert databases(postgres_url, pg) == set()


def test_leftover_of_a_killed_run_is_recreated(
    pytester: pytest.Pytester, postgres_url: str, pg: str
) -> None:
    leftover = parse_db_url(f"postgresql://postgres@127.0.0.1:5432/{pg}")
    killed = PostgresProvisioner()
    killed.create(leftover, "killedrun")
    with psycopg.connect(leftover.text) as conn:
        conn.execute("CREATE TABLE stale (x int)")
    killed.close()  # its owner lock goes, as when its process dies
    wait_until_owner_gone("postgresql", killed.owner)
    pytester.makeini(ini(pg))
    pytester.makepyfile(SUITE)
    pytester.runpytest().assert_outcomes(passed=1, failed=1)
    assert seen(pytester)[0]["tables"] == []
    assert databases(postgres_url, pg) == set()


def test_a_database_it_did_not_create_is_refused(
    pytester: pytest.Pytester, postgres_url: str, pg: str
) -> None:
    execute(postgres_url, f"CREATE DATABASE {pg}")
    pytester.makeini(ini(pg))
    pytester.makepyfile("def test_it(worker_database): pass")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"*the database '{pg}' on 127.0.0.1:5432 exists and was not created by "
            "pytest-tempo; refusing to drop it (drop it yourself, or change db_name)*"
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert databases(postgres_url, pg) == {pg}  # untouched


def test_a_leftover_in_use_by_another_run_is_not_dropped(
    pytester: pytest.Pytester, postgres_url: str, pg: str
) -> None:
    other = parse_db_url(f"postgresql://postgres@127.0.0.1:5432/{pg}")
    live = PostgresProvisioner()  # a live run: its owner connection stays open
    live.create(other, "liverun")
    pytester.makeini(ini(pg))
    pytester.makepyfile("def test_it(worker_database): pass")
    try:
        result = pytester.runpytest()
    finally:
        live.close()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [f"*the database '{pg}' on 127.0.0.1:5432 is in use by another run; set db_unique*"]
    )
    assert databases(postgres_url, pg) == {pg}


def test_a_user_without_createdb_gets_a_clear_error(
    pytester: pytest.Pytester, postgres_url: str, pg: str
) -> None:
    role = "tempo_nocreatedb_" + uuid.uuid4().hex[:8]
    execute(postgres_url, f"CREATE ROLE {role} LOGIN NOCREATEDB")
    try:
        pytester.makeini(
            "[pytest]\nconsole_output_style = classic\n"
            f"db_url = postgresql://{role}@127.0.0.1:5432/app\ndb_name = {pg}\n"
        )
        pytester.makepyfile("def test_it(worker_database): pass")
        result = pytester.runpytest()
    finally:
        execute(postgres_url, f"DROP ROLE {role}")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"*PostgreSQL user '{role}' may not create databases on 127.0.0.1:5432; give it "
            f"the right with ALTER ROLE {role} CREATEDB, or use a user that has it*"
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_a_refused_connection_names_host_and_port(pytester: pytest.Pytester) -> None:
    port = closed_port()
    pytester.makeini(
        "[pytest]\nconsole_output_style = classic\n"
        f"db_url = postgresql://postgres:hunter2@127.0.0.1:{port}/app\n"
    )
    pytester.makepyfile("def test_a(worker_database): pass\ndef test_b(worker_database): pass")
    result = pytester.runpytest()
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            f"*cannot connect to PostgreSQL at 127.0.0.1:{port} as user 'postgres': connection "
            "refused (is the server running and listening there?) (url: "
            f"postgresql://postgres:***@127.0.0.1:{port}/test_db)*"
        ]
    )
    assert "hunter2" not in result.stdout.str()
    assert "Traceback" not in result.stdout.str()


def test_provisioner_errors_are_database_errors() -> None:
    url = parse_db_url(f"postgresql://nobody@127.0.0.1:{closed_port()}/x")
    with pytest.raises(DatabaseError, match=r"cannot connect to PostgreSQL at 127\.0\.0\.1:"):
        PostgresProvisioner(connect_timeout=1).create(url, "r")
