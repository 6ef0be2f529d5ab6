"""The hook a project implements to build its schema once per run.

Implement it in a ``conftest.py`` (or a plugin)::

    def pytest_tempo_build_template(url, backend, config):
        engine = sqlalchemy.create_engine(url)
        Base.metadata.create_all(engine)
        engine.dispose()

The specification is defined in :mod:`pytest_tempo.databases` (the package pytest loads
anyway) and named here.
"""

from __future__ import annotations

from . import pytest_tempo_build_template

__all__ = ["pytest_tempo_build_template"]
