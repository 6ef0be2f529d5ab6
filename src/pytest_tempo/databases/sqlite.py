"""SQLite: a database is a file; the template is a file copied per worker.

A file pytest-tempo creates carries its ``application_id`` (a SQLite header field meant to
name the application that owns a file), so a leftover of a crashed run is recognised and
replaced, and any other file of the same name is left alone. Workers that start together
take a lock on ``<template>.lock``: one builds the template, the others wait and copy it.
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

__all__ = ["APPLICATION_ID", "SQLiteProvisioner", "file_lock", "is_ours"]

#: ``PRAGMA application_id`` of the files pytest-tempo creates: "tmpo" in ASCII.
APPLICATION_ID = 0x746D706F
_HEADER = b"SQLite format 3\x00"
_SIDE_FILES = ("-wal", "-shm", "-journal")


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[IO[str]]:
    """Hold an exclusive lock on ``path`` (created if missing); yield the open file.

    The operating system releases the lock when the process dies, so a crashed run never
    leaves a lock behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
            import msvcrt

            while True:
                try:
                    msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    time.sleep(0.05)
            try:
                yield handle
            finally:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield handle
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


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
    """Creates and removes SQLite database files."""

    clones = True

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
            if template is None or build is None:
                _clear_leftover(path)
                _mark(path)
                if build is not None:
                    build(url.text)
                return
            source = Path(template.database)
            with file_lock(_lock_path(source)) as lock:
                lock.seek(0)
                if not (source.exists() and is_ours(source) and lock.read().strip() == run_id):
                    _clear_leftover(source)
                    _mark(source)
                    build(template.text)
                    _checkpoint(source)
                    lock.seek(0)
                    lock.truncate()
                    lock.write(run_id)
                    lock.flush()
                _clear_leftover(path)
                shutil.copyfile(source, path)
            _mark(path)
        except (OSError, sqlite3.Error) as exc:
            raise DatabaseError(f"cannot create the SQLite database {path}: {exc}") from None

    def drop(self, url: DbUrl, run_id: str) -> None:
        if not url.is_memory:
            _remove(Path(url.database))

    def drop_template(self, url: DbUrl, run_id: str) -> None:
        source = Path(url.database)
        lock_path = _lock_path(source)
        try:
            built_by = lock_path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return
        if built_by == run_id and is_ours(source):
            _remove(source)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock_path)


def _lock_path(template: Path) -> Path:
    return template.with_name(template.name + ".lock")
