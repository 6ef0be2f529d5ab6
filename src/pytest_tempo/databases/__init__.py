"""Per-worker databases: PostgreSQL, MySQL/MariaDB and SQLite, and Redis key namespaces.

The drivers are optional (extras ``postgres``, ``mysql``, ``redis``) and imported only
when a database is created; the URL machinery only when a name below is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import DatabaseError
    from .urls import DbUrl, UrlError, mask_password, parse_db_url, parse_redis_url

__all__ = ["DatabaseError", "DbUrl", "UrlError", "mask_password", "parse_db_url", "parse_redis_url"]


def __getattr__(name: str) -> Any:
    if name == "DatabaseError":
        from . import base

        return base.DatabaseError
    if name in __all__:
        from . import urls

        return getattr(urls, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
