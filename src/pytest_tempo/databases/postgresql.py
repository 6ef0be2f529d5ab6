"""PostgreSQL (psycopg 3): ``CREATE DATABASE``, ``TEMPLATE`` clones, ``DROP ... WITH (FORCE)``.

Statements run on a maintenance connection (database ``postgres``, else ``template1``)
with autocommit, as ``CREATE DATABASE`` requires. Identifiers go through
``psycopg.sql.Identifier``. Every database created gets a comment (``pytest-tempo run=...``):
only a database with that comment is ever dropped. Workers building the template take a
session advisory lock keyed by the template's name; the server releases it if the holder
dies.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import TYPE_CHECKING, Any, Literal

from .base import DatabaseError, import_driver, marker, marker_run

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from .urls import DbUrl

__all__ = ["PostgresProvisioner", "lock_key"]

_MAINTENANCE = ("postgres", "template1")


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for a database name."""
    digest = hashlib.sha256(("pytest-tempo:" + name).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _conninfo(url: DbUrl, dbname: str) -> str:
    netloc = url.text.partition("://")[2].split("/", 1)[0].split("?", 1)[0]
    query = "?" + url.query if url.query else ""
    return f"postgresql://{netloc}/{dbname}{query}"


def connect_error(url: DbUrl, exc: BaseException) -> DatabaseError:
    """A one-line error naming host and port for a failed connection."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if "refused" in text.lower():
        reason = "connection refused (is the server running and listening there?)"
    elif "timeout" in text.lower():
        reason = "timed out"
    else:
        reason = first.rsplit("failed: ", 1)[-1]
    who = f" as user {url.user!r}" if url.user else ""
    return DatabaseError(
        f"cannot connect to PostgreSQL at {url.address}{who}: {reason} (url: {url.masked})"
    )


class PostgresProvisioner:
    """Creates and drops PostgreSQL databases."""

    clones = True

    def __init__(self, connect_timeout: int = 5) -> None:
        self.connect_timeout = connect_timeout

    @contextlib.contextmanager
    def _admin(self, url: DbUrl) -> Iterator[Any]:
        psycopg = import_driver("psycopg", "postgres", "PostgreSQL")
        conn = None
        error: BaseException | None = None
        for dbname in _MAINTENANCE:
            try:
                conn = psycopg.connect(
                    _conninfo(url, dbname), autocommit=True, connect_timeout=self.connect_timeout
                )
                break
            except psycopg.OperationalError as exc:
                error = exc
                if f'"{dbname}" does not exist' not in str(exc):
                    break
        if conn is None:
            assert error is not None
            raise connect_error(url, error)
        with conn:
            yield conn

    @staticmethod
    def _sql(template: str, *names: str) -> Any:
        sql = import_driver("psycopg.sql", "postgres", "PostgreSQL")
        return sql.SQL(template).format(*(sql.Identifier(n) for n in names))

    def _state(self, conn: Any, name: str) -> tuple[str, str] | Literal["absent", "foreign"]:
        """``(run, state)`` for a database pytest-tempo made, else absent or foreign."""
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [name],
        ).fetchone()
        if row is None:
            return "absent"
        return marker_run(row[0]) or "foreign"

    def _comment(self, conn: Any, name: str, text: str) -> None:
        sql = import_driver("psycopg.sql", "postgres", "PostgreSQL")
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(text))
        )

    def _create(self, conn: Any, url: DbUrl, name: str, comment: str, template: str = "") -> None:
        errors = import_driver("psycopg.errors", "postgres", "PostgreSQL")
        try:
            if template:
                conn.execute(self._sql("CREATE DATABASE {} TEMPLATE {}", name, template))
            else:
                conn.execute(self._sql("CREATE DATABASE {}", name))
        except errors.InsufficientPrivilege:
            user = conn.info.user
            raise DatabaseError(
                f"PostgreSQL user {user!r} may not create databases on {url.address}; "
                f"give it the right with ALTER ROLE {user} CREATEDB, or use a user that has it"
            ) from None
        except errors.DuplicateDatabase:
            raise DatabaseError(
                f"the database {name!r} on {url.address} was created by someone else at the "
                "same moment; set db_unique = true so concurrent runs get their own names"
            ) from None
        self._comment(conn, name, comment)

    def _drop_leftover(self, conn: Any, url: DbUrl, name: str) -> None:
        errors = import_driver("psycopg.errors", "postgres", "PostgreSQL")
        state = self._state(conn, name)
        if state == "absent":
            return
        if state == "foreign":
            raise DatabaseError(
                f"the database {name!r} on {url.address} exists and was not created by "
                "pytest-tempo; refusing to drop it (drop it yourself, or change db_name)"
            )
        in_use = DatabaseError(
            f"the database {name!r} on {url.address} is in use by another run; set "
            "db_unique = true so concurrent runs on one server get their own names"
        )
        # A database still in use belongs to a live run: no FORCE. Checked first, as DROP
        # would wait five seconds for the other sessions before giving up.
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [name])
        if row.fetchone()[0]:
            raise in_use
        try:
            conn.execute(self._sql("DROP DATABASE {}", name))
        except errors.ObjectInUse:
            raise in_use from None

    def _drop(self, conn: Any, name: str) -> None:
        if conn.info.server_version >= 130000:
            conn.execute(self._sql("DROP DATABASE IF EXISTS {} WITH (FORCE)", name))
            return
        self._terminate(conn, name)  # pragma: no cover - PostgreSQL 12 and older
        conn.execute(self._sql("DROP DATABASE IF EXISTS {}", name))  # pragma: no cover

    @staticmethod
    def _terminate(conn: Any, name: str) -> None:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )

    def _ensure_template(
        self, conn: Any, url: DbUrl, template: DbUrl, run_id: str, build: Callable[[str], None]
    ) -> None:
        """Build the template of this run unless it is ready; one worker builds, others wait."""
        key = lock_key(template.database)
        conn.execute("SELECT pg_advisory_lock(%s)", [key])
        try:
            if self._state(conn, template.database) != (run_id, "ready"):
                self._drop_leftover(conn, url, template.database)
                self._create(conn, url, template.database, marker(run_id, "building"))
                build(template.text)
                # The clone needs a template nobody is connected to.
                self._terminate(conn, template.database)
                self._comment(conn, template.database, marker(run_id, "ready"))
        finally:
            with contextlib.suppress(Exception):  # closing the connection frees it too
                conn.execute("SELECT pg_advisory_unlock(%s)", [key])

    def create(
        self,
        url: DbUrl,
        run_id: str,
        template: DbUrl | None = None,
        build: Callable[[str], None] | None = None,
    ) -> None:
        with self._admin(url) as conn:
            if template is None or build is None:
                self._drop_leftover(conn, url, url.database)
                self._create(conn, url, url.database, marker(run_id))
            else:
                self._ensure_template(conn, url, template, run_id, build)
                # Clones run in parallel: copying needs no lock, only no one connected.
                self._drop_leftover(conn, url, url.database)
                self._create(conn, url, url.database, marker(run_id), template=template.database)
        if build is not None and template is None:
            build(url.text)

    def drop(self, url: DbUrl, run_id: str) -> None:
        with self._admin(url) as conn:
            state = self._state(conn, url.database)
            if isinstance(state, tuple) and state[0] == run_id:
                self._drop(conn, url.database)

    def drop_template(self, url: DbUrl, run_id: str) -> None:
        self.drop(url, run_id)
