"""MySQL and MariaDB (PyMySQL): ``CREATE DATABASE`` and ``DROP DATABASE``.

MySQL has no ``CREATE DATABASE ... TEMPLATE``; the template hook runs once per worker on
the worker's own database instead (documented fallback). On MariaDB 10.5 and later a
database pytest-tempo creates carries a comment (``pytest-tempo run=...``), so leftovers of
a crashed run are recognised and replaced. MySQL has no database comments: there, a
database of the same name that already exists is never dropped (the error says so), and
only the databases this process created are dropped at the end.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl

from .base import DatabaseError, import_driver, marker, marker_run

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from .urls import DbUrl

__all__ = ["MySQLProvisioner", "quote_identifier"]

_CANNOT_CONNECT = 2003
_ACCESS_DENIED_DB = 1044
_ACCESS_DENIED_USER = 1045
_DB_EXISTS = 1007


def quote_identifier(name: str) -> str:
    """A MySQL identifier in backquotes (PyMySQL quotes only values)."""
    return "`" + name.replace("`", "``") + "`"


def _args(url: DbUrl, timeout: int) -> dict[str, Any]:
    args: dict[str, Any] = {
        "host": url.host or "localhost",
        "port": url.port or 3306,
        "user": url.user or None,
        "password": url.password,
        "connect_timeout": timeout,
        "autocommit": True,
    }
    for key, value in parse_qsl(url.query):
        if key in ("unix_socket", "charset"):
            args[key] = value
    return args


class MySQLProvisioner:
    """Creates and drops MySQL/MariaDB databases."""

    clones = False

    def __init__(self, connect_timeout: int = 5) -> None:
        self.connect_timeout = connect_timeout

    @contextlib.contextmanager
    def _admin(self, url: DbUrl) -> Iterator[Any]:
        pymysql = import_driver("pymysql", "mysql", "MySQL/MariaDB")
        try:
            conn = pymysql.connect(**_args(url, self.connect_timeout))
        except pymysql.err.OperationalError as exc:
            code = exc.args[0] if exc.args else 0
            if code == _CANNOT_CONNECT:
                reason = "connection refused or unreachable (is the server running there?)"
            elif code == _ACCESS_DENIED_USER:
                reason = f"access denied for user {url.user!r}"
            else:
                reason = str(exc.args[1] if len(exc.args) > 1 else exc)
            raise DatabaseError(
                f"cannot connect to MySQL/MariaDB at {url.address}: {reason} (url: {url.masked})"
            ) from None
        try:
            yield conn
        finally:
            conn.close()

    @staticmethod
    def _has_comments(cur: Any) -> bool:
        cur.execute(
            "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
            "'information_schema' AND TABLE_NAME = 'SCHEMATA' AND COLUMN_NAME = 'SCHEMA_COMMENT'"
        )
        return bool(cur.fetchone()[0])

    @staticmethod
    def _state(
        cur: Any, name: str, comments: bool
    ) -> tuple[str, str] | Literal["absent", "foreign"]:
        """``(run, state)`` for a database pytest-tempo made, else absent or foreign."""
        column = "SCHEMA_COMMENT" if comments else "NULL"
        cur.execute(
            f"SELECT {column} FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", [name]
        )
        row = cur.fetchone()
        if row is None:
            return "absent"
        return marker_run(row[0]) or "foreign"

    def create(
        self,
        url: DbUrl,
        run_id: str,
        template: DbUrl | None = None,
        build: Callable[[str], None] | None = None,
    ) -> None:
        pymysql = import_driver("pymysql", "mysql", "MySQL/MariaDB")
        name = url.database
        with self._admin(url) as conn, conn.cursor() as cur:
            comments = self._has_comments(cur)
            state = self._state(cur, name, comments)
            if state == "foreign":
                why = "" if comments else " (MySQL keeps no comment to tell)"
                raise DatabaseError(
                    f"the database {name!r} on {url.address} exists and was not created by "
                    f"pytest-tempo{why}; refusing to drop it (drop it yourself, or change "
                    "db_name)"
                )
            if state != "absent":
                cur.execute("DROP DATABASE " + quote_identifier(name))
            statement = "CREATE DATABASE " + quote_identifier(name)
            try:
                if comments:
                    cur.execute(statement + " COMMENT %s", [marker(run_id)])
                else:
                    cur.execute(statement)
            except pymysql.err.OperationalError as exc:
                code = exc.args[0] if exc.args else 0
                if code == _ACCESS_DENIED_DB:
                    raise DatabaseError(
                        f"MySQL/MariaDB user {url.user!r} may not create databases on "
                        f"{url.address}; GRANT it CREATE and DROP, or use a user that has them"
                    ) from None
                raise
            except pymysql.err.ProgrammingError as exc:
                if exc.args and exc.args[0] == _DB_EXISTS:
                    raise DatabaseError(
                        f"the database {name!r} on {url.address} was created by someone else "
                        "at the same moment; set db_unique = true"
                    ) from None
                raise
        if build is not None:
            build(url.text)

    def drop(self, url: DbUrl, run_id: str) -> None:
        with self._admin(url) as conn, conn.cursor() as cur:
            comments = self._has_comments(cur)
            state = self._state(cur, url.database, comments)
            ours = isinstance(state, tuple) and state[0] == run_id
            if ours or (state == "foreign" and not comments):
                cur.execute("DROP DATABASE IF EXISTS " + quote_identifier(url.database))

    def drop_template(self, url: DbUrl, run_id: str) -> None:
        """MySQL builds no template."""
