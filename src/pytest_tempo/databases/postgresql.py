"""PostgreSQL (psycopg 3): ``CREATE DATABASE``, ``TEMPLATE`` clones, ``DROP ... WITH (FORCE)``.

Each process keeps one owner connection per server, to the registry database
``tempo_registry`` (created on first use), with autocommit as ``CREATE DATABASE`` requires.
On it the process holds a session advisory lock naming it as an owner (see
:mod:`.owners`), writes its intent for a database before creating it, and runs every
statement. On opening it, leftovers of dead owners are reclaimed. Identifiers go through
``psycopg.sql.Identifier``. Every database created also gets a comment
(``pytest-tempo run=...``). Workers building the template take a session advisory lock
keyed by the template's name; the server releases it if the holder dies.

Advisory locks are per database, which is one more reason every owner connects to the same
one. Timeouts: ``connect_timeout`` (the whole connection, handshake included; 5 s unless
the URL sets it) and TCP keepalives, so a server that vanishes is noticed.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl

from .base import DatabaseError, HookFailed, import_driver, marker, marker_run
from .owners import (
    REGISTRY_DATABASE,
    Registry,
    close_registries,
    new_owner_id,
    owner_key,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from .urls import DbUrl

__all__ = ["PostgresProvisioner", "lock_key"]

_MAINTENANCE = ("postgres", "template1")
#: Detect a peer that vanished: first probe after 10 s idle, then every 5 s, 3 probes; data
#: sent and not acknowledged for 30 s ends the connection (libpq's tcp_user_timeout, in ms).
_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
               "keepalives_count": 3, "tcp_user_timeout": 30000}  # fmt: skip


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for a database name."""
    digest = hashlib.sha256(("pytest-tempo:" + name).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _conninfo(url: DbUrl, dbname: str) -> str:
    netloc = url.text.partition("://")[2].split("/", 1)[0].split("?", 1)[0]
    query = "?" + url.query if url.query else ""
    return f"postgresql://{netloc}/{dbname}{query}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def connect_error(url: DbUrl, exc: BaseException) -> DatabaseError:
    """A one-line error naming host and port for a failed connection."""
    text = str(exc).strip()
    if "refused" in text.lower():
        reason = "connection refused (is the server running and listening there?)"
    elif "timeout" in text.lower() or "timed out" in text.lower():
        reason = "timed out (the server accepted the connection but did not answer)"
    else:
        reason = _first_line(exc).rsplit("failed: ", 1)[-1]
    who = f" as user {url.user!r}" if url.user else ""
    return DatabaseError(
        f"cannot connect to PostgreSQL at {url.address}{who}: {reason} (url: {url.masked})"
    )


class _PgRegistry(Registry):
    insert_ignore = (
        "INSERT INTO {table} (name, owner, run_id, pid, host) VALUES (%s, %s, %s, %s, %s) "
        "ON CONFLICT (name) DO NOTHING"
    )

    def __init__(self, conn: Any, owner: str, where: str) -> None:
        super().__init__(owner, where)
        self.conn = conn

    def execute(self, statement: str, params: Sequence[object] = ()) -> tuple[list[Any], int]:
        cur = self.conn.execute(statement, list(params))
        rows = cur.fetchall() if cur.description is not None else []
        return rows, cur.rowcount

    def alive(self, owner: str) -> bool:
        key = owner_key(owner)
        if self.conn.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()[0]:
            self.conn.execute("SELECT pg_advisory_unlock(%s)", [key])
            return False
        return True

    def comment(self, name: str) -> tuple[str, str] | Literal["absent", "foreign"]:
        row = self.conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [name],
        ).fetchone()
        if row is None:
            return "absent"
        return marker_run(row[0]) or "foreign"

    def in_use(self, name: str) -> bool:
        row = self.conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [name])
        return bool(row.fetchone()[0])

    def drop_database(self, name: str) -> None:
        sql = import_driver("psycopg.sql", "postgres", "PostgreSQL")
        if self.conn.info.server_version >= 130000:
            self.conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            return
        terminate(self.conn, name)  # pragma: no cover - PostgreSQL 12 and older
        self.conn.execute(  # pragma: no cover
            sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name))
        )


def terminate(conn: Any, name: str) -> None:
    """End every other session connected to ``name``."""
    conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        [name],
    )


_SCHEMA = """
CREATE TABLE IF NOT EXISTS {table} (
    name text PRIMARY KEY,
    owner text NOT NULL,
    run_id text NOT NULL,
    pid integer NOT NULL,
    host text NOT NULL,
    since timestamptz NOT NULL DEFAULT now()
)
"""


class PostgresProvisioner:
    """Creates and drops PostgreSQL databases; one owner per instance and server."""

    clones = True
    #: Where the owners are recorded, one database per server.
    registry_database = REGISTRY_DATABASE

    def __init__(self, connect_timeout: int = 5) -> None:
        self.connect_timeout = connect_timeout
        self.owner = new_owner_id()
        self._registries: dict[str, _PgRegistry] = {}
        #: Databases reclaimed from dead owners when this process first connected.
        self.reclaimed: list[str] = []

    # --- connections ------------------------------------------------------------------------

    def _connect(self, url: DbUrl, dbname: str) -> Any:
        psycopg = import_driver("psycopg", "postgres", "PostgreSQL")
        given = dict(parse_qsl(url.query))
        options: dict[str, Any] = {k: v for k, v in _KEEPALIVES.items() if k not in given}
        if "connect_timeout" not in given:
            options["connect_timeout"] = self.connect_timeout
        return psycopg.connect(_conninfo(url, dbname), autocommit=True, **options)

    def _bootstrap(self, url: DbUrl) -> None:
        """Create the registry database (another run may be doing the same)."""
        psycopg = import_driver("psycopg", "postgres", "PostgreSQL")
        errors = import_driver("psycopg.errors", "postgres", "PostgreSQL")
        conn = None
        error: BaseException | None = None
        for dbname in _MAINTENANCE:
            try:
                conn = self._connect(url, dbname)
                break
            except psycopg.Error as exc:
                error = exc
                if f'"{dbname}" does not exist' not in str(exc):
                    break
        if conn is None:
            assert error is not None
            raise connect_error(url, error)
        name = self.registry_database
        with conn:
            try:
                conn.execute(f"CREATE DATABASE {name}")
            except (errors.DuplicateDatabase, errors.UniqueViolation):
                # Created meanwhile: the workers of a run on a fresh server all get here at
                # once, and the losers of that race see a unique violation, not "exists".
                return
            except errors.InsufficientPrivilege:
                raise _no_createdb(conn, url) from None
            conn.execute(
                f"COMMENT ON DATABASE {name} IS 'pytest-tempo: which run owns which test database'"
            )

    def _registry(self, url: DbUrl) -> _PgRegistry:
        """This process's owner connection to ``url``'s server, opened on first use."""
        key = url.with_database("").text
        found = self._registries.get(key)
        if found is not None and not found.conn.closed:
            return found
        psycopg = import_driver("psycopg", "postgres", "PostgreSQL")
        name = self.registry_database
        try:
            conn = self._connect(url, name)
        except psycopg.OperationalError as exc:
            if f'"{name}" does not exist' not in str(exc):
                raise connect_error(url, exc) from None
            self._bootstrap(url)
            conn = self._connect(url, name)
        except psycopg.Error as exc:
            raise connect_error(url, exc) from None
        registry = _PgRegistry(conn, self.owner, f"PostgreSQL at {url.address}")
        try:
            if conn.execute("SELECT to_regclass(%s)", [registry.table]).fetchone()[0] is None:
                # Serialised: concurrent CREATE TABLE IF NOT EXISTS and GRANT collide otherwise.
                conn.execute("SELECT pg_advisory_lock(%s)", [lock_key(name)])
                try:
                    conn.execute(_SCHEMA.format(table=registry.table))
                    conn.execute(
                        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {registry.table} TO PUBLIC"
                    )
                finally:
                    conn.execute("SELECT pg_advisory_unlock(%s)", [lock_key(name)])
            conn.execute("SELECT pg_advisory_lock(%s)", [owner_key(self.owner)])
        except BaseException:
            conn.close()  # never an owner connection without its lock
            raise
        self._registries[key] = registry
        self.reclaimed.extend(registry.sweep())
        return registry

    @contextlib.contextmanager
    def _server(self, url: DbUrl) -> Iterator[_PgRegistry]:
        """The owner connection; a driver error becomes one line naming server and URL."""
        psycopg = import_driver("psycopg", "postgres", "PostgreSQL")
        try:
            yield self._registry(url)
        except psycopg.Error as exc:
            raise DatabaseError(
                f"PostgreSQL at {url.address}: {_first_line(exc)} (url: {url.masked})"
            ) from None

    def close(self) -> None:
        """Close the owner connections: what this process still owns becomes reclaimable."""
        close_registries(self._registries)

    # --- statements -------------------------------------------------------------------------

    @staticmethod
    def _sql(template: str, *names: str) -> Any:
        sql = import_driver("psycopg.sql", "postgres", "PostgreSQL")
        return sql.SQL(template).format(*(sql.Identifier(n) for n in names))

    def _comment(self, conn: Any, name: str, text: str) -> None:
        sql = import_driver("psycopg.sql", "postgres", "PostgreSQL")
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(text))
        )

    def _create(
        self, reg: _PgRegistry, url: DbUrl, name: str, run_id: str, comment: str, template: str = ""
    ) -> None:
        """Claim ``name`` (intent first), then create it and mark it."""
        errors = import_driver("psycopg.errors", "postgres", "PostgreSQL")
        conn = reg.conn
        reg.claim(name, run_id, url.address)
        try:
            if template:
                conn.execute(self._sql("CREATE DATABASE {} TEMPLATE {}", name, template))
            else:
                conn.execute(self._sql("CREATE DATABASE {}", name))
        except errors.InsufficientPrivilege:
            reg.forget(name)
            raise _no_createdb(conn, url) from None
        except (errors.DuplicateDatabase, errors.UniqueViolation):
            reg.forget(name)
            raise DatabaseError(
                f"the database {name!r} on {url.address} was created by someone else at the "
                "same moment; set db_unique = true so concurrent runs get their own names"
            ) from None
        self._comment(conn, name, comment)

    def _ensure_template(
        self, reg: _PgRegistry, url: DbUrl, template: DbUrl, run_id: str,
        build: Callable[[str], None],
    ) -> None:  # fmt: skip
        """Build the template of this run unless it is ready; one worker builds, others wait."""
        conn = reg.conn
        key = lock_key(template.database)
        conn.execute("SELECT pg_advisory_lock(%s)", [key])
        try:
            if reg.comment(template.database) != (run_id, "ready"):
                self._create(reg, url, template.database, run_id, marker(run_id, "building"))
                try:
                    build(template.text)
                except BaseException as exc:
                    # Dropped, so a waiting worker builds again (and reports the same error).
                    reg.drop_database(template.database)
                    reg.forget(template.database)
                    raise HookFailed(exc) from None
                # The clone needs a template nobody is connected to.
                terminate(conn, template.database)
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
        try:
            with self._server(url) as reg:
                if template is None or build is None:
                    self._create(reg, url, url.database, run_id, marker(run_id))
                else:
                    self._ensure_template(reg, url, template, run_id, build)
                    # Clones run in parallel: copying needs no lock, only no one connected.
                    self._create(
                        reg, url, url.database, run_id, marker(run_id), template=template.database
                    )
        except HookFailed as failed:
            raise failed.error from None  # the project's own error, with its traceback
        if build is not None and template is None:
            try:
                build(url.text)
            except BaseException:
                self.drop(url, run_id)
                raise

    def drop(self, url: DbUrl, run_id: str) -> None:
        with self._server(url) as reg:
            reg.drop_of_run(url.database, run_id)

    def drop_template(self, url: DbUrl, run_id: str) -> None:
        self.drop(url, run_id)


def _no_createdb(conn: Any, url: DbUrl) -> DatabaseError:
    user = conn.info.user
    return DatabaseError(
        f"PostgreSQL user {user!r} may not create databases on {url.address}; "
        f"give it the right with ALTER ROLE {user} CREATEDB, or use a user that has it"
    )
