"""Per-worker databases: PostgreSQL, MySQL/MariaDB and SQLite, and Redis key namespaces.

The drivers are optional (extras ``postgres``, ``mysql``, ``redis``) and imported only
when a database is created; the URL machinery only when a name below is first used.

The hook a project implements to build its schema once per run,
:func:`pytest_tempo_build_template`, is specified here (and documented in
:mod:`.hookspecs`), so that declaring it loads no other module. Implement it in a
``conftest.py`` (or a plugin)::

    def pytest_tempo_build_template(url, backend, config):
        engine = sqlalchemy.create_engine(url)
        Base.metadata.create_all(engine)
        engine.dispose()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest import Config

    from .base import DatabaseError
    from .urls import DbUrl, UrlError, mask_password, parse_db_url, parse_redis_url

__all__ = [
    "DatabaseError",
    "DbUrl",
    "UrlError",
    "mask_password",
    "parse_db_url",
    "parse_redis_url",
    "pytest_tempo_build_template",
]

#: The names :mod:`.urls` holds, imported when one is first used.
_URLS = frozenset(("DbUrl", "UrlError", "mask_password", "parse_db_url", "parse_redis_url"))


@pytest.hookspec
def pytest_tempo_build_template(url: str, backend: str, config: Config) -> None:
    """Build the schema (run the migrations, load reference data) into the database at ``url``.

    Called once per run, on one worker, with the URL of a template database; every
    worker's database is then cloned from it (PostgreSQL ``CREATE DATABASE ... TEMPLATE``,
    a file copy on SQLite). On MySQL/MariaDB, which cannot clone, and on a run without
    xdist, it is called on each worker's database instead. ``backend`` is ``postgresql``,
    ``mysql`` or ``sqlite``. Close every connection you opened before returning (a
    PostgreSQL template cannot be cloned while someone is connected to it; leftover
    connections are terminated).
    """


def __getattr__(name: str) -> Any:
    if name == "DatabaseError":
        from . import base

        return base.DatabaseError
    if name in _URLS:
        from . import urls

        return getattr(urls, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
