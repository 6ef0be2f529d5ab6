"""The hook a project implements to build its schema once per run.

Implement it in a ``conftest.py`` (or a plugin)::

    def pytest_tempo_build_template(url, backend, config):
        engine = sqlalchemy.create_engine(url)
        Base.metadata.create_all(engine)
        engine.dispose()
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest import Config

__all__ = ["pytest_tempo_build_template"]


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
