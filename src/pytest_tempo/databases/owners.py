"""Who owns a database: a registry of intents, and owners the server sees alive or dead.

Every database pytest-tempo creates on a PostgreSQL or MySQL/MariaDB server is first
written to a registry table (database ``tempo_registry``, table ``tempo_resources``) naming
its owner: one process of one run. The owner holds a lock on the server for as long as it
lives, on a connection it keeps open (a PostgreSQL session advisory lock, a MySQL/MariaDB
``GET_LOCK``); the server releases the lock when that connection ends, however the process
ends (a normal exit, ``SIGTERM``, ``SIGKILL``, a lost machine). Only then is the database
created, so a kill at any point leaves an intent whose owner the server knows is dead.

A database whose owner is dead is a leftover: any run reclaims it (drops the database if it
exists, deletes the intent). A database whose owner is alive is never touched. A database
without an intent is left alone unless it carries pytest-tempo's comment (a leftover of a
version without the registry) and nobody is connected to it.

The decision is the pure function :func:`decide`; :class:`Registry` runs it against a
server through the few statements a backend supplies.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import time
import uuid
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Literal

from .base import DatabaseError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "REGISTRY_DATABASE",
    "REGISTRY_TABLE",
    "Action",
    "DbState",
    "Registry",
    "decide",
    "new_owner_id",
    "owner_key",
]

#: The database holding the registry table on each server.
REGISTRY_DATABASE = "tempo_registry"
#: The registry table: one row per database pytest-tempo is creating or has created.
REGISTRY_TABLE = "tempo_resources"

#: What a database of a given name is on the server: absent, marked by pytest-tempo (its
#: comment), or anything else ("foreign": no comment, or a server that keeps none).
DbState = Literal["absent", "ours", "foreign"]
#: What a run does with a name it wants: create it, drop what is there and create it,
#: refuse because a live run owns it, refuse because it is not pytest-tempo's.
Action = Literal["create", "replace", "in-use", "foreign"]

_CLAIM_ATTEMPTS = 5
#: The run id a sweeping process writes into an intent it has taken over to reclaim: the
#: name is being freed, not used, so a run that wants it waits instead of refusing.
RECLAIMING = "-reclaiming-"
#: How long a claim waits for a live sweeper to finish freeing the name (seconds).
RECLAIM_WAIT = 60.0


def new_owner_id() -> str:
    """A fresh owner id: 32 hex digits, one per process and server."""
    return uuid.uuid4().hex


def owner_key(owner: str) -> int:
    """The signed 64-bit PostgreSQL advisory lock key of an owner."""
    digest = hashlib.sha256(("pytest-tempo-owner:" + owner).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def decide(owner: str | None, me: str, owner_alive: bool, state: DbState, in_use: bool) -> Action:
    """What to do with a database name this process wants.

    ``owner`` is the owner named by the name's intent (``None`` without one), ``me`` this
    process's owner id, ``owner_alive`` whether the server still holds that owner's lock,
    ``state`` what the server has under the name, ``in_use`` whether anyone is connected
    to it (only consulted for a marked database without an intent).
    """
    if owner is not None:
        if owner != me and owner_alive:
            return "in-use"
        # The intent proves the database is pytest-tempo's, with or without its comment
        # (a kill between CREATE DATABASE and the comment leaves none).
        return "create" if state == "absent" else "replace"
    if state == "absent":
        return "create"
    if state == "foreign":
        return "foreign"
    return "in-use" if in_use else "replace"


def close_registries(registries: dict[str, Any]) -> None:
    """Close owner connections: what this process still owns becomes reclaimable."""
    for registry in registries.values():
        with contextlib.suppress(Exception):
            registry.conn.close()
    registries.clear()


class Registry(ABC):
    """The registry on one server, seen through this process's owner connection.

    A backend supplies the connection-level statements; the claiming and reclaiming logic
    is shared. Placeholders are ``%s`` (psycopg and PyMySQL agree).
    """

    #: The registry table as statements name it.
    table = REGISTRY_TABLE
    #: ``INSERT`` that does nothing when the name already has a row.
    insert_ignore = ""

    def __init__(self, owner: str, where: str) -> None:
        self.owner = owner
        #: "PostgreSQL at host:port" or the like, for messages.
        self.where = where

    @abstractmethod
    def execute(self, statement: str, params: Sequence[object] = ()) -> tuple[list[Any], int]:
        """Run ``statement``; return its rows (empty for none) and its row count."""

    @abstractmethod
    def alive(self, owner: str) -> bool:
        """Whether the server holds ``owner``'s lock (the owner's connection is open)."""

    @abstractmethod
    def comment(self, name: str) -> tuple[str, str] | Literal["absent", "foreign"]:
        """The run of pytest-tempo's comment on ``name`` (see ``base.marker_run``), or
        whether ``name`` is absent or carries no such comment."""

    def state(self, name: str) -> DbState:
        """What the server has under ``name``."""
        found = self.comment(name)
        return "ours" if isinstance(found, tuple) else found

    @abstractmethod
    def in_use(self, name: str) -> bool:
        """Whether anyone is connected to ``name``."""

    @abstractmethod
    def drop_database(self, name: str) -> None:
        """Drop ``name`` if it exists, whoever is connected to it."""

    def _sql(self, statement: str) -> str:
        return statement.format(table=self.table)

    def owner_of(self, name: str) -> str | None:
        return self._intent(name)[0]

    def _intent(self, name: str) -> tuple[str | None, str | None]:
        """The owner and run id in ``name``'s intent (``None, None`` without one)."""
        rows, _ = self.execute(
            self._sql("SELECT owner, run_id FROM {table} WHERE name = %s"), [name]
        )
        return (str(rows[0][0]), str(rows[0][1])) if rows else (None, None)

    def _take_over(self, name: str, owner: str, run_id: str) -> bool:
        """Make this process the owner of ``name``'s intent, if ``owner`` still has it."""
        _, count = self.execute(
            self._sql("UPDATE {table} SET owner = %s, run_id = %s, pid = %s, host = %s "
                      "WHERE name = %s AND owner = %s"),
            [self.owner, run_id, os.getpid(), _host(), name, owner],
        )  # fmt: skip
        return count == 1

    def claim(self, name: str, run_id: str, address: str) -> None:
        """Write this process's intent for ``name``; drop a leftover there; or refuse.

        On return the database does not exist and this process owns its intent: the
        caller creates it. Raises :class:`DatabaseError` when a live run owns the name or
        the database there is not pytest-tempo's.
        """
        attempts = 0
        deadline = time.monotonic() + RECLAIM_WAIT
        while attempts < _CLAIM_ATTEMPTS:
            owner, owner_run = self._intent(name)
            alive = owner is not None and owner != self.owner and self.alive(owner)
            if alive and owner_run == RECLAIMING and time.monotonic() < deadline:
                # Another run is dropping a dead owner's leftover under this name: once it
                # has, the name is free. Refusing now would blame a run that never used it.
                time.sleep(0.05)
                continue
            attempts += 1
            state = self.state(name)
            busy = owner is None and state == "ours" and self.in_use(name)
            action = decide(owner, self.owner, alive, state, busy)
            if action == "in-use":
                raise DatabaseError(
                    f"the database {name!r} on {address} is in use by another run; set "
                    "db_unique = true so concurrent runs on one server get their own names"
                )
            if action == "foreign":
                raise DatabaseError(
                    f"the database {name!r} on {address} exists and was not created by "
                    "pytest-tempo; refusing to drop it (drop it yourself, or change db_name)"
                )
            if owner is None:
                _, count = self.execute(
                    self._sql(self.insert_ignore), [name, self.owner, run_id, os.getpid(), _host()]
                )
                if count != 1:
                    continue  # another run wrote its intent first: look again
            elif owner != self.owner and not self._take_over(name, owner, run_id):
                continue  # another run reclaimed it first: look again
            if action == "replace":
                self.drop_database(name)
            return
        raise DatabaseError(
            f"the database {name!r} on {address} was claimed by another run at the same "
            "moment; set db_unique = true so concurrent runs get their own names"
        )

    def forget(self, name: str, run_id: str | None = None) -> None:
        """Delete the intent for ``name`` (this process's, or any of run ``run_id``)."""
        if run_id is None:
            self.execute(
                self._sql("DELETE FROM {table} WHERE name = %s AND owner = %s"), [name, self.owner]
            )
        else:
            self.execute(
                self._sql("DELETE FROM {table} WHERE name = %s AND (owner = %s OR run_id = %s)"),
                [name, self.owner, run_id],
            )

    def drop_of_run(self, name: str, run_id: str) -> None:
        """Drop ``name`` and forget it when run ``run_id`` made it (its comment or its
        intent says so); another run's database, or one not pytest-tempo's, is never
        dropped."""
        found = self.comment(name)
        ours = isinstance(found, tuple) and found[0] == run_id
        if not ours and self.run_of(name) != run_id:
            return
        if found != "absent":
            self.drop_database(name)
        self.forget(name, run_id)

    def run_of(self, name: str) -> str | None:
        """The run id in ``name``'s intent, if it has one."""
        rows, _ = self.execute(self._sql("SELECT run_id FROM {table} WHERE name = %s"), [name])
        return str(rows[0][0]) if rows else None

    def sweep(self) -> list[str]:
        """Reclaim every database whose owner is dead; return their names.

        Each is taken over first, marked :data:`RECLAIMING` (so two runs sweeping at once
        never both drop it, a run that wants the name waits rather than refuses, and a kill
        mid-sweep leaves an intent of a dead owner again), then dropped, then forgotten. A
        database that cannot be dropped (another user's, say) is handed back to its dead
        owner, left for a run that can.
        """
        rows, _ = self.execute(self._sql("SELECT name, owner, run_id FROM {table} ORDER BY name"))
        reclaimed = []
        for name, owner, run_id in rows:
            if owner == self.owner or self.alive(str(owner)):
                continue
            if not self._take_over(str(name), str(owner), RECLAIMING):
                continue
            try:
                self.drop_database(str(name))
            except Exception:  # a driver's error: left, a dead owner's again, for a run that can
                with contextlib.suppress(Exception):
                    self.execute(
                        self._sql("UPDATE {table} SET owner = %s, run_id = %s "
                                  "WHERE name = %s AND owner = %s"),
                        [owner, run_id, name, self.owner],
                    )  # fmt: skip
                continue
            self.forget(str(name))
            reclaimed.append(str(name))
        return reclaimed


def _host() -> str:
    return socket.gethostname()[:64]
