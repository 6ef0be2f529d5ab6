"""MySQL and MariaDB (PyMySQL): ``CREATE DATABASE`` and ``DROP DATABASE``.

MySQL has no ``CREATE DATABASE ... TEMPLATE``; the template hook runs once per worker on
the worker's own database instead (documented fallback).

Each process keeps one owner connection per server. On it the process holds a named lock
(``GET_LOCK('tempo-owner-<id>', 0)``, released by the server when the connection ends),
writes its intent for a database into ``tempo_registry.tempo_resources`` before creating
it (see :mod:`.owners`), and runs every statement. On opening it, leftovers of dead owners
are reclaimed. On MariaDB 10.5 and later a database pytest-tempo creates also carries a
comment (``pytest-tempo run=...``); MySQL keeps none, so there the intent alone marks it.

Timeouts: ``connect_timeout``, ``read_timeout`` and ``write_timeout`` of 5 s while
connecting (PyMySQL's read timeout covers the server's greeting, so a server that accepts
and never answers fails in 5 s), then 60 s per statement. The URL's query may set each.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl

from .base import DatabaseError, import_driver, marker, marker_run
from .owners import (
    REGISTRY_DATABASE,
    REGISTRY_TABLE,
    Registry,
    close_registries,
    new_owner_id,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .urls import DbUrl

__all__ = ["MySQLProvisioner", "quote_identifier"]

_CANNOT_CONNECT = 2003
_LOST_CONNECTION = 2013
_ACCESS_DENIED_DB = 1044
_ACCESS_DENIED_USER = 1045
_DB_EXISTS = 1007
_TIMEOUTS = ("connect_timeout", "read_timeout", "write_timeout")
#: Read timeout for statements, once connected (DROP DATABASE of many tables takes time).
STATEMENT_TIMEOUT = 60


def quote_identifier(name: str) -> str:
    """A MySQL identifier in backquotes (PyMySQL quotes only values)."""
    return "`" + name.replace("`", "``") + "`"


def _args(url: DbUrl, timeout: float) -> dict[str, Any]:
    args: dict[str, Any] = {
        "host": url.host or "localhost",
        "port": url.port or 3306,
        "user": url.user or None,
        "password": url.password,
        "connect_timeout": timeout,
        "read_timeout": timeout,
        "write_timeout": timeout,
        "autocommit": True,
    }
    for key, value in parse_qsl(url.query):
        if key in ("unix_socket", "charset"):
            args[key] = value
        elif key in _TIMEOUTS:
            try:
                args[key] = float(value)
            except ValueError:
                raise DatabaseError(
                    f"MySQL/MariaDB URL: {key}={value!r} is not a number of seconds "
                    f"(url: {url.masked})"
                ) from None
    return args


def _reason(exc: BaseException) -> str:
    args: tuple[object, ...] = exc.args
    text = str(args[1] if len(args) > 1 else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class _MyRegistry(Registry):
    table = f"{REGISTRY_DATABASE}.{REGISTRY_TABLE}"
    insert_ignore = (
        "INSERT IGNORE INTO {table} (name, owner, run_id, pid, host) VALUES (%s, %s, %s, %s, %s)"
    )

    def __init__(self, conn: Any, owner: str, where: str) -> None:
        super().__init__(owner, where)
        self.conn = conn
        self.comments = False

    def execute(self, statement: str, params: Sequence[object] = ()) -> tuple[list[Any], int]:
        with self.conn.cursor() as cur:
            count = cur.execute(statement, list(params) if params else None)
            return list(cur.fetchall() or []), int(count)

    def alive(self, owner: str) -> bool:
        rows, _ = self.execute("SELECT IS_FREE_LOCK(%s)", [lock_name(owner)])
        return bool(rows[0][0] != 1)

    def comment(self, name: str) -> tuple[str, str] | Literal["absent", "foreign"]:
        column = "SCHEMA_COMMENT" if self.comments else "NULL"
        rows, _ = self.execute(
            f"SELECT {column} FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", [name]
        )
        if not rows:
            return "absent"
        return marker_run(rows[0][0]) or "foreign"

    def in_use(self, name: str) -> bool:
        # Without the PROCESS privilege only this user's sessions are listed: best effort.
        rows, _ = self.execute(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = %s "
            "AND ID <> CONNECTION_ID()",
            [name],
        )
        return bool(rows[0][0])

    def drop_database(self, name: str) -> None:
        self.execute("DROP DATABASE IF EXISTS " + quote_identifier(name))


def lock_name(owner: str) -> str:
    """The ``GET_LOCK`` name of an owner (at most 64 characters)."""
    return "tempo-owner-" + owner


_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {REGISTRY_DATABASE}.{REGISTRY_TABLE} (
    name VARCHAR(64) NOT NULL PRIMARY KEY,
    owner VARCHAR(64) NOT NULL,
    run_id VARCHAR(64) NOT NULL,
    pid INT NOT NULL,
    host VARCHAR(64) NOT NULL,
    since TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
)
"""


class MySQLProvisioner:
    """Creates and drops MySQL/MariaDB databases; one owner per instance and server."""

    clones = False

    def __init__(self, connect_timeout: float = 5) -> None:
        self.connect_timeout = connect_timeout
        self.owner = new_owner_id()
        self._registries: dict[str, _MyRegistry] = {}
        #: Databases reclaimed from dead owners when this process first connected.
        self.reclaimed: list[str] = []

    def _connect(self, url: DbUrl) -> Any:
        pymysql = import_driver("pymysql", "mysql", "MySQL/MariaDB")
        args = _args(url, self.connect_timeout)
        try:
            conn = pymysql.connect(**args)
        except pymysql.err.MySQLError as exc:
            code = exc.args[0] if exc.args else 0
            if code == _CANNOT_CONNECT and "timed out" not in str(exc):
                reason = "connection refused or unreachable (is the server running there?)"
            elif code in (_CANNOT_CONNECT, _LOST_CONNECTION):
                reason = (
                    f"no answer within {args['read_timeout']:g} s (is it a MySQL/MariaDB server?)"
                )
            elif code == _ACCESS_DENIED_USER:
                reason = f"access denied for user {url.user!r}"
            else:
                reason = _reason(exc)
            raise DatabaseError(
                f"cannot connect to MySQL/MariaDB at {url.address}: {reason} (url: {url.masked})"
            ) from None
        if "read_timeout" not in dict(parse_qsl(url.query)):
            # PyMySQL applies its read timeout per read (pymysql/connections.py, _read_bytes).
            conn._read_timeout = max(STATEMENT_TIMEOUT, args["read_timeout"])
        return conn

    def _registry(self, url: DbUrl) -> _MyRegistry:
        key = url.with_database("").text
        found = self._registries.get(key)
        if found is not None and found.conn.open:
            return found
        pymysql = import_driver("pymysql", "mysql", "MySQL/MariaDB")
        conn = self._connect(url)
        registry = _MyRegistry(conn, self.owner, f"MySQL/MariaDB at {url.address}")
        try:
            try:
                registry.execute(f"CREATE DATABASE IF NOT EXISTS {REGISTRY_DATABASE}")
            except pymysql.err.OperationalError as exc:
                if exc.args and exc.args[0] == _ACCESS_DENIED_DB:
                    raise _no_create(url, registry=True) from None
                raise
            registry.execute(_SCHEMA)
            rows, _ = registry.execute(
                "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
                "'information_schema' AND TABLE_NAME = 'SCHEMATA' AND COLUMN_NAME = "
                "'SCHEMA_COMMENT'"
            )
            registry.comments = bool(rows[0][0])
            rows, _ = registry.execute("SELECT GET_LOCK(%s, 0)", [lock_name(self.owner)])
            if rows[0][0] != 1:  # pragma: no cover - the name is fresh
                raise DatabaseError(f"cannot take the owner lock on {url.address}")
        except BaseException:
            conn.close()  # never an owner connection without its lock
            raise
        self._registries[key] = registry
        self.reclaimed.extend(registry.sweep())
        return registry

    @contextlib.contextmanager
    def _server(self, url: DbUrl) -> Any:
        pymysql = import_driver("pymysql", "mysql", "MySQL/MariaDB")
        try:
            yield self._registry(url)
        except pymysql.err.MySQLError as exc:
            raise DatabaseError(
                f"MySQL/MariaDB at {url.address}: {_reason(exc)} (url: {url.masked})"
            ) from None

    def close(self) -> None:
        """Close the owner connections: what this process still owns becomes reclaimable."""
        close_registries(self._registries)

    def create(
        self,
        url: DbUrl,
        run_id: str,
        template: DbUrl | None = None,
        build: Callable[[str], None] | None = None,
    ) -> None:
        pymysql = import_driver("pymysql", "mysql", "MySQL/MariaDB")
        name = url.database
        with self._server(url) as reg:
            reg.claim(name, run_id, url.address)
            statement = "CREATE DATABASE " + quote_identifier(name)
            try:
                if reg.comments:
                    reg.execute(statement + " COMMENT %s", [marker(run_id)])
                else:
                    reg.execute(statement)
            except pymysql.err.OperationalError as exc:
                if exc.args and exc.args[0] == _ACCESS_DENIED_DB:
                    reg.forget(name)
                    raise _no_create(url) from None
                raise
            except pymysql.err.ProgrammingError as exc:
                if exc.args and exc.args[0] == _DB_EXISTS:
                    reg.forget(name)
                    raise DatabaseError(
                        f"the database {name!r} on {url.address} was created by someone else "
                        "at the same moment; set db_unique = true"
                    ) from None
                raise
        if build is not None:
            try:
                build(url.text)
            except BaseException:
                self.drop(url, run_id)
                raise

    def drop(self, url: DbUrl, run_id: str) -> None:
        with self._server(url) as reg:
            reg.drop_of_run(url.database, run_id)

    def drop_template(self, url: DbUrl, run_id: str) -> None:
        """MySQL builds no template."""


def _no_create(url: DbUrl, registry: bool = False) -> DatabaseError:
    where = f" (here {REGISTRY_DATABASE}, where pytest-tempo records who owns what)"
    return DatabaseError(
        f"MySQL/MariaDB user {url.user!r} may not create databases on {url.address}"
        f"{where if registry else ''}; GRANT it CREATE and DROP on the test databases and "
        f"CREATE, SELECT, INSERT, UPDATE, DELETE on {REGISTRY_DATABASE}, or use a user that "
        "has them"
    )
