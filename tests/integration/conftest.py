"""Real servers for the integration tests: PostgreSQL, MariaDB/MySQL and Redis on 127.0.0.1.

A test that needs a server asks for its fixture. When the server (or its driver) is
missing the test is skipped, unless TEMPO_REQUIRE_SERVICES=1 (set by CI), which turns the
skip into a failure.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import time
import uuid

import pytest

REQUIRE = "TEMPO_REQUIRE_SERVICES"

#: Inner runs on two workers, each running every test. Hypothesis's plugin is left out:
#: importing it costs each worker process most of a second.
EACH_WORKER = ("-n", "2", "--dist", "each", "-p", "no:hypothesispytest")

#: name: (host, port, driver module, URL an administrator connects with)
SERVICES = {
    "PostgreSQL": ("127.0.0.1", 5432, "psycopg", "postgresql://postgres@127.0.0.1:5432/postgres"),
    "MariaDB": ("127.0.0.1", 3306, "pymysql", "mysql://root:@127.0.0.1:3306/mysql"),
    "Redis": ("127.0.0.1", 6379, "redis", "redis://127.0.0.1:6379/0"),
}

# The drivers are imported once, before any test: pytester takes its snapshot of
# sys.modules when its fixture is set up and drops every module imported after it. A
# driver first imported inside such a test is dropped at its end and imported anew by the
# next, but psycopg's compiled part cannot be imported twice and keeps raising the first
# import's exception classes, which the new module's `except psycopg.Error` never matches.
for _driver in ("psycopg", "pymysql", "redis"):
    if importlib.util.find_spec(_driver) is not None:
        importlib.import_module(_driver)


def service_problem(host: str, port: int, module: str) -> str | None:
    """Why a server cannot be used (driver missing, nothing listening), or None."""
    if importlib.util.find_spec(module) is None:
        return f"the {module} package is not installed"
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError as exc:
        return f"nothing answers at {host}:{port} ({exc.strerror or exc})"
    return None


def require_service(name: str, host: str, port: int, module: str) -> None:
    """Skip the test when the server is unusable, or fail it when REQUIRE is 1."""
    problem = service_problem(host, port, module)
    if problem is None:
        return
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{name}: {problem}, and {REQUIRE}=1 requires it", pytrace=False)
    pytest.skip(f"{name}: {problem} (set {REQUIRE}=1 to fail instead of skipping)")


def _service(name: str) -> str:
    host, port, module, url = SERVICES[name]
    require_service(name, host, port, module)
    return url


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return _service("PostgreSQL")


@pytest.fixture(scope="session")
def mysql_url() -> str:
    return _service("MariaDB")


@pytest.fixture(scope="session")
def redis_server_url() -> str:
    return _service("Redis")


@pytest.fixture
def base_name() -> str:
    """A db_name no other test (or concurrent run of the suite) uses."""
    return "tt" + uuid.uuid4().hex[:10]


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def wait_until_owner_gone(backend: str, owner: str, registry: str = "") -> None:
    """Until the server has let go of a closed owner connection (its lock, its client name).

    A client's ``close()`` returns before the server has ended the connection; a run started
    in that moment rightly finds the owner alive, as it would a moment after the owner's
    process was killed. A test that means "that run is dead" waits for the server to agree.
    Probes with a connection of its own, so nothing is swept meanwhile; ``registry`` names a
    PostgreSQL registry database of the test's own.
    """
    deadline = time.monotonic() + 30
    if backend == "postgresql":
        import psycopg

        from pytest_tempo.databases.owners import REGISTRY_DATABASE, owner_key

        url = f"postgresql://postgres@127.0.0.1:5432/{registry or REGISTRY_DATABASE}"
        with psycopg.connect(url, autocommit=True) as conn:
            key = owner_key(owner)
            while not (conn.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone() or [0])[0]:
                assert time.monotonic() < deadline, "the server kept the owner's lock"
                time.sleep(0.02)
            conn.execute("SELECT pg_advisory_unlock(%s)", [key])
    elif backend == "mysql":
        from pytest_tempo.databases.base import import_driver
        from pytest_tempo.databases.mysql import lock_name

        pymysql = import_driver("pymysql", "mysql", "MariaDB")

        conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
        try:
            with conn.cursor() as cur:
                while True:
                    cur.execute("SELECT IS_FREE_LOCK(%s)", [lock_name(owner)])
                    if cur.fetchone()[0] == 1:
                        break
                    assert time.monotonic() < deadline, "the server kept the owner's lock"
                    time.sleep(0.02)
        finally:
            conn.close()
    elif backend == "redis":
        import redis

        client = redis.Redis.from_url(SERVICES["Redis"][3])
        try:
            while owner in {str(c.get("name", "")) for c in client.client_list()}:
                assert time.monotonic() < deadline, "the server kept the owner's connection"
                time.sleep(0.02)
        finally:
            client.close()
