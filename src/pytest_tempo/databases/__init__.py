"""Per-worker databases: PostgreSQL, MySQL/MariaDB and SQLite, and Redis key namespaces.

The drivers are optional (extras ``postgres``, ``mysql``, ``redis``) and imported only
when a database is created.
"""

from __future__ import annotations

from .base import DatabaseError
from .urls import DbUrl, UrlError, mask_password, parse_db_url, parse_redis_url

__all__ = ["DatabaseError", "DbUrl", "UrlError", "mask_password", "parse_db_url", "parse_redis_url"]
