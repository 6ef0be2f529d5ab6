"""Per-worker databases on a real MariaDB (or MySQL) server."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

import pytest

from pytest_tempo.databases.mysql import MySQLProvisioner, quote_identifier
from pytest_tempo.databases.urls import parse_db_url

from .conftest import EACH_WORKER, closed_port, wait_until_owner_gone

if TYPE_CHECKING:
    from collections.abc import Iterator

pymysql = pytest.importorskip("pymysql")


def _connect() -> object:
    return pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)


def databases(prefix: str) -> set[str]:
    conn = _connect()
    try:
        with conn.cursor() as cur:  # type: ignore[attr-defined]
            cur.execute(
                "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s",
                [prefix + "%"],
            )
            return {r[0] for r in cur.fetchall()}
    finally:
        conn.close()  # type: ignore[attr-defined]


def execute(*statements: str) -> None:
    conn = _connect()
    try:
        with conn.cursor() as cur:  # type: ignore[attr-defined]
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()  # type: ignore[attr-defined]


@pytest.fixture
def my(mysql_url: str, base_name: str) -> Iterator[str]:
    """The base name; every database starting with it is dropped after the test."""
    yield base_name
    for name in databases(base_name):
        execute("DROP DATABASE IF EXISTS " + quote_identifier(name))


def ini(base: str) -> str:
    return (
        "[pytest]\nconsole_output_style = classic\n"
        f"db_url = mysql+pymysql://root:@127.0.0.1:3306/app?charset=utf8mb4\ndb_name = {base}\n"
    )


SUITE = """
    import json, pymysql

    def _connect(url):
        from pytest_tempo.databases.urls import parse_db_url
        u = parse_db_url(url)
        return pymysql.connect(host=u.host, port=u.port, user=u.user, password=u.password,
                               database=u.database, autocommit=True)

    def test_sees_own_database(worker_database, tempo_worker, pytestconfig):
        conn = _connect(worker_database)
        with conn.cursor() as cur:
            cur.execute("SELECT DATABASE()")
            current = cur.fetchone()[0]
            cur.execute("SHOW TABLES")
            tables = [r[0] for r in cur.fetchall()]
            cur.execute("CREATE TABLE mine (x int)")
        conn.close()
        out = pytestconfig.rootpath / f"seen-{tempo_worker.id}.json"
        out.write_text(json.dumps({"db": current, "tables": tables}))

    def test_fails(worker_database):
        assert False, "a failing test"
"""

HOOK = """
    import pymysql
    from pytest_tempo.databases.urls import parse_db_url

    def pytest_tempo_build_template(url, backend, config):
        with open(config.rootpath / "calls.txt", "a") as f:
            f.write(backend + " " + url + "\\n")
        u = parse_db_url(url)
        conn = pymysql.connect(host=u.host, port=u.port, user=u.user, password=u.password,
                               database=u.database, autocommit=True)
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE users (id int PRIMARY KEY)")
        conn.close()
"""


def seen(pytester: pytest.Pytester) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted(pytester.path.glob("seen-*.json"))]


def test_per_worker_databases_with_the_hook_run_per_worker(
    pytester: pytest.Pytester, my: str
) -> None:
    """MySQL cannot clone: the hook builds each worker's database (documented fallback)."""
    pytest.importorskip("xdist")
    pytester.makeini(ini(my))
    pytester.makeconftest(HOOK)
    pytester.makepyfile(SUITE)
    result = pytester.runpytest(*EACH_WORKER)
    result.assert_outcomes(passed=2, failed=2)
    rows = seen(pytester)
    assert sorted(str(r["db"]) for r in rows) == [f"{my}_gw0", f"{my}_gw1"]
    assert all(r["tables"] == ["users"] for r in rows)
    calls = sorted((pytester.path / "calls.txt").read_text().splitlines())
    assert calls == [
        f"mysql mysql+pymysql://root:@127.0.0.1:3306/{my}_gw{n}?charset=utf8mb4" for n in (0, 1)
    ]
    assert databases(my) == set()  # gone, after a failing test


def test_serial_run_without_hook(pytester: pytest.Pytester, my: str) -> None:
    pytester.makeini(ini(my))
    pytester.makepyfile(SUITE)
    pytester.runpytest().assert_outcomes(passed=1, failed=1)
    assert seen(pytester) == [{"db": my, "tables": []}]
    assert databases(my) == set()


@pytest.mark.slow
def test_keyboard_interrupt_drops_the_database(pytester: pytest.Pytester, my: str) -> None:
    pytester.makeini(ini(my))
    pytester.makepyfile(
        """
        def test_interrupted(worker_database):
            raise KeyboardInterrupt
        """
    )
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert databases(my) == set()


def test_leftover_of_a_killed_run_is_recreated(pytester: pytest.Pytester, my: str) -> None:
    leftover = parse_db_url(f"mysql://root:@127.0.0.1:3306/{my}")
    killed = MySQLProvisioner()
    killed.create(leftover, "killedrun")
    execute(f"CREATE TABLE {quote_identifier(my)}.stale (x int)")
    killed.close()  # its owner lock goes, as when its process dies
    wait_until_owner_gone("mysql", killed.owner)
    pytester.makeini(ini(my))
    pytester.makepyfile(SUITE)
    pytester.runpytest().assert_outcomes(passed=1, failed=1)
    assert seen(pytester) == [{"db": my, "tables": []}]
    assert databases(my) == set()


def test_a_database_it_did_not_create_is_refused(pytester: pytest.Pytester, my: str) -> None:
    execute("CREATE DATABASE " + quote_identifier(my))
    pytester.makeini(ini(my))
    pytester.makepyfile("def test_it(worker_database): pass")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"*the database '{my}' on 127.0.0.1:3306 exists and was not created by "
            "pytest-tempo; refusing to drop it (drop it yourself, or change db_name)*"
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert databases(my) == {my}


def test_a_refused_connection_names_host_and_port(pytester: pytest.Pytester) -> None:
    port = closed_port()
    pytester.makeini(
        "[pytest]\nconsole_output_style = classic\n"
        f"db_url = mariadb://root:hunter2@127.0.0.1:{port}/app\n"
    )
    pytester.makepyfile("def test_it(worker_database): pass")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"*cannot connect to MySQL/MariaDB at 127.0.0.1:{port}: connection refused or "
            "unreachable (is the server running there?) (url: "
            f"mariadb://root:***@127.0.0.1:{port}/test_db)*"
        ]
    )
    assert "hunter2" not in result.stdout.str()
    assert "Traceback" not in result.stdout.str()


def test_a_user_without_create_gets_a_clear_error(pytester: pytest.Pytester, my: str) -> None:
    user = "tempo_nocreate_" + uuid.uuid4().hex[:8]
    execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'")
    try:
        pytester.makeini(
            "[pytest]\nconsole_output_style = classic\n"
            f"db_url = mysql://{user}:pw@127.0.0.1:3306/app\ndb_name = {my}\n"
        )
        pytester.makepyfile("def test_it(worker_database): pass")
        result = pytester.runpytest()
    finally:
        execute(f"DROP USER '{user}'@'%'")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"*MySQL/MariaDB user '{user}' may not create databases on 127.0.0.1:3306 (here "
            "tempo_registry, where pytest-tempo records who owns what); GRANT it CREATE and "
            "DROP on the test databases and CREATE, SELECT, INSERT, UPDATE, DELETE on "
            "tempo_registry, or use a user that has them*"
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_identifier_quoting() -> None:
    assert quote_identifier("a`b") == "`a``b`"
