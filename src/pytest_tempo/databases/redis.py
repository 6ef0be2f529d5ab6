"""Redis: delete the keys under a worker's namespace, SCAN and DEL in batches.

Never ``FLUSHDB``: a Redis shared with other runs or other tools keeps every key outside
the namespace.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .base import DatabaseError, import_driver
from .urls import mask_password

__all__ = ["clear_namespace", "glob_escape"]


def glob_escape(text: str) -> str:
    """``text`` as a literal in a Redis ``MATCH`` pattern."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def _address(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}"


def clear_namespace(url: str, prefix: str, batch: int = 500, timeout: float = 5.0) -> int:
    """Delete every key starting with ``prefix``; return how many were deleted."""
    if not prefix:
        raise ValueError("refusing to clear an empty namespace")
    redis = import_driver("redis", "redis", "Redis namespaces")
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    deleted = 0
    try:
        pending: list[bytes] = []
        for key in client.scan_iter(match=glob_escape(prefix) + "*", count=batch):
            pending.append(key)
            if len(pending) >= batch:
                deleted += int(client.delete(*pending))
                pending = []
        if pending:
            deleted += int(client.delete(*pending))
    except redis.exceptions.ConnectionError as exc:
        reason = str(exc).rstrip(".")
        if "refused" in reason.lower():
            reason = "connection refused (is the server running there?)"
        raise DatabaseError(
            f"cannot connect to Redis at {_address(url)}: {reason} (url: {mask_password(url)})"
        ) from None
    finally:
        client.close()
    return deleted
