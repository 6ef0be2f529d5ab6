"""SQLite: a database is a file; the template is a file copied per worker.

A file pytest-tempo creates carries its ``application_id`` (a SQLite header field meant to
name the application that owns a file), and any other file of the same name is left alone.
Its owner is the process that created it: before creating ``app_gw0.db`` the process
creates ``app_gw0.db.tempo-owner`` (the intent) and holds an exclusive lock on it for as
long as it lives; the operating system releases the lock when the process dies, however it
dies. On its first database in a directory, a process reclaims every file there whose owner
file is not locked: the database, its journal files, its template lock, the owner file,
except a template whose lock a live worker holds (it is about to lock the owner file) or
whose lock names this run (its builder finished and exited: xdist shuts a worker down once
it has no more tests, and the template is this run's until the controller drops it at the
end). Workers that start together take a lock on ``<template>.lock``: one builds the
template, the others wait and copy it. A lock file is removed only by a process that holds
it, and a process that waited for a lock file that was removed meanwhile takes the new one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .base import DatabaseError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from .urls import DbUrl

__all__ = [
    "APPLICATION_ID",
    "OWNER_SUFFIX",
    "SQLiteProvisioner",
    "file_lock",
    "is_ours",
    "try_lock",
]

#: ``PRAGMA application_id`` of the files pytest-tempo creates: "tmpo" in ASCII.
APPLICATION_ID = 0x746D706F
_HEADER = b"SQLite format 3\x00"
_SIDE_FILES = ("-wal", "-shm", "-journal")
#: The owner file of ``app.db`` is ``app.db.tempo-owner``.
OWNER_SUFFIX = ".tempo-owner"
#: How long a lock on an owner file may be a sweeping process's before it is an owner's.
SWEEP_GRACE = 2.0


def try_lock(handle: IO[str]) -> bool:
    """Take an exclusive lock on an open file without waiting; whether it was free."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _lock_unless_owned(handle: IO[str]) -> bool:
    """Lock an owner file unless a live owner holds it.

    Another process sweeping the directory holds the lock of each file it looks at for a
    moment (the time to remove a few files); an owner holds it for its whole life. A lock
    still held after :data:`SWEEP_GRACE` seconds is an owner's.
    """
    deadline = time.monotonic() + SWEEP_GRACE
    while not try_lock(handle):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def _owner_path(path: Path) -> Path:
    return path.with_name(path.name + OWNER_SUFFIX)


def _same_file(handle: IO[str], path: Path) -> bool:
    """Whether ``path`` still names the open file (not removed and made again meanwhile)."""
    try:
        return os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
    except OSError:
        return False


def _lock_wait(handle: IO[str]) -> None:
    """Take an exclusive lock on an open file, waiting for it."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        while True:
            try:
                msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
                return
            except OSError:
                time.sleep(0.05)
    import fcntl

    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)


def _unlock(handle: IO[str]) -> None:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def file_lock(path: Path, create: bool = True) -> Iterator[IO[str]]:
    """Hold an exclusive lock on ``path`` (created if missing, unless ``create`` is false:
    then a missing file raises :class:`FileNotFoundError`); yield the open file.

    The operating system releases the lock when the process dies, so a crashed run never
    leaves a lock behind. A lock file removed while this process waited for it (its holder
    was done with it) is not the lock any more: the one at ``path`` now is taken instead.
    """
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        handle = open(path, "a+" if create else "r+", encoding="utf-8")  # noqa: SIM115
        try:
            _lock_wait(handle)
        except BaseException:
            handle.close()
            raise
        if _same_file(handle, path):
            break
        handle.close()
    with handle:
        try:
            yield handle
        finally:
            _unlock(handle)


def is_ours(path: Path) -> bool:
    """Whether ``path`` is a SQLite file pytest-tempo created (or an empty file)."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(72)
    except FileNotFoundError:
        return False
    if not header:
        return True  # nothing in it to lose
    return header[:16] == _HEADER and int.from_bytes(header[68:72], "big") == APPLICATION_ID


def _remove(path: Path) -> None:
    for name in (path, *(Path(str(path) + s) for s in _SIDE_FILES)):
        with contextlib.suppress(FileNotFoundError):
            name.unlink()


def _clear_leftover(path: Path) -> None:
    if not path.exists():
        return
    if not is_ours(path):
        raise DatabaseError(
            f"the SQLite file {path} exists and was not created by pytest-tempo; "
            "refusing to replace it (remove it, or point db_url at another file)"
        )
    _remove(path)


def _mark(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.commit()


def _checkpoint(path: Path) -> None:
    """Fold a write-ahead log into the file, so a plain copy holds everything."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


class SQLiteProvisioner:
    """Creates and removes SQLite database files; owns them through locked owner files."""

    clones = True

    def __init__(self) -> None:
        #: Owner files this process holds locked, by database path.
        self._owned: dict[Path, IO[str]] = {}
        self._swept: set[Path] = set()
        #: Files reclaimed from dead owners.
        self.reclaimed: list[Path] = []

    def _sweep(self, directory: Path, run_id: str) -> None:
        """Reclaim every database in ``directory`` whose owner is dead (once per directory),
        but not a template of the run ``run_id``."""
        if directory in self._swept:
            return
        self._swept.add(directory)
        for owner in sorted(directory.glob("*" + OWNER_SUFFIX)):
            path = owner.with_name(owner.name[: -len(OWNER_SUFFIX)])
            if path in self._owned:
                continue
            try:
                handle = open(owner, "a+", encoding="utf-8")  # noqa: SIM115 - closed below
            except OSError:
                continue
            with handle:
                if not try_lock(handle) or not _same_file(handle, owner):
                    continue  # alive, or already reclaimed by someone else
                if self._reclaim(path, run_id):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(owner)
                    self.reclaimed.append(path)

    def _reclaim(self, path: Path, run_id: str) -> bool:
        """Remove a dead owner's database and its template lock, unless a live process holds
        that lock (it is building the template and about to lock the owner file) or the lock
        names the run ``run_id`` (a template of this run, whose builder has exited)."""
        lock_path = _lock_path(path)
        try:
            lock = open(lock_path, "r+", encoding="utf-8")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            _remove(path)
            return True
        with lock:
            if not try_lock(lock) or not _same_file(lock, lock_path):
                return False
            if lock.read().strip() == run_id:
                return False
            _remove(path)
            os.unlink(lock_path)  # while holding it: a waiter notices and takes the new one
        return True

    def _own(self, path: Path, run_id: str) -> None:
        """Write the intent for ``path`` and lock it; remove a dead owner's file there."""
        if path in self._owned:
            _remove(path)  # this process's own leftover (a template being rebuilt)
            return
        owner = _owner_path(path)
        while True:
            existed = owner.exists()
            handle = open(owner, "a+", encoding="utf-8")  # noqa: SIM115 - kept open: the lock
            if not _lock_unless_owned(handle):
                handle.close()
                raise DatabaseError(
                    f"the SQLite file {path} is in use by another run; set db_unique = true "
                    "so concurrent runs get their own names"
                )
            if _same_file(handle, owner):
                break
            handle.close()  # removed meanwhile (by its owner, or reclaimed): make a new one
        if existed:
            _remove(path)  # a dead owner's file, whatever state it was left in
        else:
            try:
                _clear_leftover(path)
            except DatabaseError:
                handle.close()
                os.unlink(owner)
                raise
        handle.seek(0)
        handle.truncate()
        handle.write(f"run={run_id} pid={os.getpid()}\n")
        handle.flush()
        self._owned[path] = handle

    def _disown(self, path: Path) -> None:
        handle = self._owned.pop(path, None)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(_owner_path(path))
        if handle is not None:
            handle.close()

    def close(self) -> None:
        """Let go of the owner files still held: their databases become reclaimable."""
        for handle in self._owned.values():
            handle.close()
        self._owned.clear()

    def create(
        self,
        url: DbUrl,
        run_id: str,
        template: DbUrl | None = None,
        build: Callable[[str], None] | None = None,
    ) -> None:
        if url.is_memory:
            if build is not None:
                build(url.text)
            return
        path = Path(url.database)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._sweep(path.parent, run_id)
            if template is None or build is None:
                self._own(path, run_id)
                _mark(path)
                if build is not None:
                    build(url.text)
                return
            source = Path(template.database)
            self._sweep(source.parent, run_id)
            with file_lock(_lock_path(source)) as lock:
                lock.seek(0)
                if not (source.exists() and is_ours(source) and lock.read().strip() == run_id):
                    self._own(source, run_id)
                    _mark(source)
                    build(template.text)
                    _checkpoint(source)
                    lock.seek(0)
                    lock.truncate()
                    lock.write(run_id)
                    lock.flush()
                self._own(path, run_id)
                shutil.copyfile(source, path)
            _mark(path)
        except (OSError, sqlite3.Error) as exc:
            raise DatabaseError(f"cannot create the SQLite database {path}: {exc}") from None

    def drop(self, url: DbUrl, run_id: str) -> None:
        if not url.is_memory:
            path = Path(url.database)
            _remove(path)
            self._disown(path)

    def drop_template(self, url: DbUrl, run_id: str) -> None:
        source = Path(url.database)
        lock_path = _lock_path(source)
        try:
            with file_lock(lock_path, create=False) as lock:
                lock.seek(0)
                if lock.read().strip() == run_id and is_ours(source):
                    _remove(source)
                    self._disown(source)
                    os.unlink(lock_path)  # while holding it, as a reclaim does
        except FileNotFoundError:
            return


def _lock_path(template: Path) -> Path:
    return template.with_name(template.name + ".lock")
