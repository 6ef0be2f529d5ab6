"""Servers that accept and never answer, and driver errors: one line, in seconds, no traceback.

A "silent" server is a socket that listens and is never read: the kernel accepts the
connection, nothing ever answers. The timeouts here are the URL's or the provisioner's own
(1 or 2 s) so the tests stay short; the limits asserted leave several seconds of margin.
"""

from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING

import pytest

from pytest_tempo.databases.base import DatabaseError
from pytest_tempo.databases.mysql import MySQLProvisioner
from pytest_tempo.databases.postgresql import PostgresProvisioner
from pytest_tempo.databases.redis import RedisOwner
from pytest_tempo.databases.urls import parse_db_url

from .conftest import SERVICES, require_service

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def timed(action: Callable[[], object]) -> tuple[str, float]:
    start = time.monotonic()
    with pytest.raises(DatabaseError) as info:
        action()
    return str(info.value), time.monotonic() - start


def test_postgresql_silent_server(silent_port: int) -> None:
    pytest.importorskip("psycopg")
    url = parse_db_url(f"postgresql://app:secret@127.0.0.1:{silent_port}/x")
    provisioner = PostgresProvisioner(connect_timeout=2)  # libpq's least
    message, took = timed(lambda: provisioner.create(url, "r"))
    assert message == (
        f"cannot connect to PostgreSQL at 127.0.0.1:{silent_port} as user 'app': timed out "
        f"(the server accepted the connection but did not answer) (url: "
        f"postgresql://app:***@127.0.0.1:{silent_port}/x)"
    )
    assert took < 10


def test_mysql_silent_server(silent_port: int) -> None:
    pytest.importorskip("pymysql")
    url = parse_db_url(f"mysql://root:secret@127.0.0.1:{silent_port}/x")
    message, took = timed(lambda: MySQLProvisioner(connect_timeout=1).create(url, "r"))
    assert message == (
        f"cannot connect to MySQL/MariaDB at 127.0.0.1:{silent_port}: no answer within 1 s "
        f"(is it a MySQL/MariaDB server?) (url: mysql://root:***@127.0.0.1:{silent_port}/x)"
    )
    assert took < 8


def test_a_mysql_url_at_postgresqls_port_fails_in_seconds() -> None:
    """PostgreSQL waits for the client to speak first, MySQL for the server: both wait."""
    pytest.importorskip("pymysql")
    require_service("PostgreSQL", *SERVICES["PostgreSQL"][:3])
    url = parse_db_url("mysql://root@127.0.0.1:5432/x?read_timeout=1")
    message, took = timed(lambda: MySQLProvisioner().create(url, "r"))
    assert message.startswith("cannot connect to MySQL/MariaDB at 127.0.0.1:5432: no answer")
    assert took < 8  # PostgreSQL itself gives up after its authentication_timeout, 60 s


def test_redis_silent_server(silent_port: int) -> None:
    pytest.importorskip("redis")
    owner = RedisOwner(f"redis://:secret@127.0.0.1:{silent_port}/0", timeout=1)
    message, took = timed(lambda: owner.claim("tempo:x:gw0:"))
    owner.close()
    assert message == (
        f"Redis at 127.0.0.1:{silent_port}: timed out (the server accepted "
        f"the connection but did not answer) (url: redis://:***@127.0.0.1:{silent_port}/0)"
    )
    assert took < 8


@pytest.mark.parametrize(
    ("ini", "message"),
    [
        pytest.param(
            "db_url = mysql://root@127.0.0.1:{port}/app?connect_timeout=1&read_timeout=1",
            "cannot connect to MySQL/MariaDB at 127.0.0.1:{port}: no answer within 1 s (is it "
            "a MySQL/MariaDB server?) (url: mysql://root@127.0.0.1:{port}/test_db?"
            "connect_timeout=1&read_timeout=1)",
            id="mysql",
        ),
        pytest.param(
            "redis_url = redis://127.0.0.1:{port}/0?socket_timeout=1&socket_connect_timeout=1",
            "Redis at 127.0.0.1:{port}: timed out (the server accepted the "
            "connection but did not answer) (url: redis://127.0.0.1:{port}/0?socket_timeout=1"
            "&socket_connect_timeout=1)",
            id="redis",
        ),
    ],
)
def test_a_silent_server_errors_the_test_with_one_line(
    pytester: pytest.Pytester, silent_port: int, ini: str, message: str
) -> None:
    """The URL's own timeouts apply; the tests asking for the fixture error, others run."""
    pytest.importorskip("pymysql" if "mysql" in ini else "redis")
    pytester.makeini(f"[pytest]\nconsole_output_style = classic\n{ini.format(port=silent_port)}\n")
    fixture = "worker_database" if "mysql" in ini else "worker_namespace"
    pytester.makepyfile(f"def test_uses_it({fixture}): pass\ndef test_other(): pass")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([message.format(port=silent_port)])
    assert "Traceback" not in result.stdout.str()


def test_a_bad_uri_parameter_errors_the_test_with_one_line(pytester: pytest.Pytester) -> None:
    pytest.importorskip("psycopg")
    require_service("PostgreSQL", *SERVICES["PostgreSQL"][:3])
    pytester.makeini(
        "[pytest]\nconsole_output_style = classic\n"
        "db_url = postgresql://postgres:pw@127.0.0.1:5432/app?bogus=1\n"
    )
    pytester.makepyfile("def test_uses_it(worker_database): pass\ndef test_other(): pass")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "cannot connect to PostgreSQL at 127.0.0.1:5432 as user 'postgres': invalid URI "
            'query parameter: "bogus" (url: postgresql://postgres:***@127.0.0.1:5432/test_db'
            "?bogus=1)"
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_a_redis_database_out_of_range_errors_the_test_with_one_line(
    pytester: pytest.Pytester,
) -> None:
    pytest.importorskip("redis")
    require_service("Redis", *SERVICES["Redis"][:3])
    pytester.makeini(
        "[pytest]\nconsole_output_style = classic\nredis_url = redis://127.0.0.1:6379/99\n"
    )
    pytester.makepyfile("def test_uses_it(worker_namespace): pass\ndef test_other(): pass")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["Redis at 127.0.0.1:6379: DB index is out of range (url: redis://127.0.0.1:6379/99)"]
    )
    assert "Traceback" not in result.stdout.str()
