"""Redis: owned namespaces, reclaimed when their owner dies; SCAN and DEL in batches.

Never ``FLUSHDB``: a Redis shared with other runs or other tools keeps every key outside
the namespaces. A process that uses a namespace owns it:

- it keeps a connection open named after it (``CLIENT SETNAME tempo-owner-<id>``), which
  the server drops the moment the process dies, however it dies;
- on that connection a daemon thread renews a key ``tempo-alive:<id>`` with a TTL of 30 s
  every 10 s (the fallback where ``CLIENT LIST`` is not allowed);
- the hash ``tempo-owners`` maps the namespace to the owner while it is in use.

An owner is alive while a client of its name is connected (or, without ``CLIENT LIST``,
while its ``tempo-alive`` key lives). Before using a namespace, a process reclaims every
namespace in ``tempo-owners`` whose owner is dead: its keys are deleted, its entry removed
(``tempo-reclaim:<namespace>``, set with ``NX``, picks one reclaimer among runs starting
together).
Namespaces made by versions without owners are not in the hash and are left alone.
Timeouts: 5 s to connect and per command, unless the URL's query sets ``socket_timeout`` or
``socket_connect_timeout``.
"""

from __future__ import annotations

import contextlib
import re
import threading
import uuid
from typing import Any
from urllib.parse import urlsplit

from .base import DatabaseError, import_driver
from .urls import mask_password

__all__ = ["OWNERS", "RedisOwner", "clear_namespace", "glob_escape", "redis_error"]

#: The hash of namespaces in use: namespace -> owner name.
OWNERS = "tempo-owners"
ALIVE_PREFIX = "tempo-alive:"
ALIVE_TTL = 30
RENEW_EVERY = 10.0
RECLAIM_PREFIX = "tempo-reclaim:"
RECLAIM_TTL = 60


def glob_escape(text: str) -> str:
    """``text`` as a literal in a Redis ``MATCH`` pattern."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def _address(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}"


def redis_error(url: str, exc: BaseException) -> DatabaseError:
    """A driver error as one line naming the server, the reason and the masked URL."""
    redis = import_driver("redis", "redis", "Redis namespaces")
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0].rstrip(".")
    if isinstance(exc, redis.exceptions.TimeoutError):
        reason = "timed out (the server accepted the connection but did not answer)"
    elif isinstance(exc, redis.exceptions.ConnectionError):
        if "refused" in reason.lower():
            reason = "connection refused (is the server running there?)"
        return DatabaseError(
            f"cannot connect to Redis at {_address(url)}: {reason} (url: {mask_password(url)})"
        )
    return DatabaseError(f"Redis at {_address(url)}: {reason} (url: {mask_password(url)})")


def _client(url: str, timeout: float, **kwargs: Any) -> Any:
    redis = import_driver("redis", "redis", "Redis namespaces")
    # URL query options win over these keywords (redis-py's ConnectionPool.from_url).
    return redis.Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout, **kwargs
    )


def _clear(client: Any, prefix: str, batch: int) -> int:
    if not prefix:
        raise ValueError("refusing to clear an empty namespace")
    deleted = 0
    pending: list[bytes] = []
    for key in client.scan_iter(match=glob_escape(prefix) + "*", count=batch):
        pending.append(key)
        if len(pending) >= batch:
            deleted += int(client.delete(*pending))
            pending = []
    if pending:
        deleted += int(client.delete(*pending))
    return deleted


def clear_namespace(url: str, prefix: str, batch: int = 500, timeout: float = 5.0) -> int:
    """Delete every key starting with ``prefix``; return how many were deleted."""
    if not prefix:
        raise ValueError("refusing to clear an empty namespace")
    redis = import_driver("redis", "redis", "Redis namespaces")
    client = _client(url, timeout)
    try:
        return _clear(client, prefix, batch)
    except redis.exceptions.RedisError as exc:
        raise redis_error(url, exc) from None
    finally:
        client.close()


class RedisOwner:
    """This process as the owner of namespaces on one Redis server."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url
        self.timeout = timeout
        self.name = "tempo-owner-" + uuid.uuid4().hex
        self.namespaces: set[str] = set()
        #: Namespaces reclaimed from dead owners.
        self.reclaimed: list[str] = []
        self._client: Any = None
        self._heart: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def _errors(self) -> Any:
        redis = import_driver("redis", "redis", "Redis namespaces")
        try:
            yield
        except redis.exceptions.RedisError as exc:
            raise redis_error(self.url, exc) from None

    def _start(self) -> None:
        if self._client is not None:
            return
        # The named connection is the owner: one connection, kept open by the heartbeat.
        heart = _client(
            self.url, self.timeout, client_name=self.name, single_connection_client=True
        )
        try:
            heart.set(ALIVE_PREFIX + self.name, "1", ex=ALIVE_TTL)
        except BaseException:
            heart.close()
            raise
        self._heart = heart
        self._client = _client(self.url, self.timeout)
        from ..signals import start_thread

        self._thread = start_thread(self._beat, "tempo-redis-owner")

    def _beat(self) -> None:
        while not self._stop.wait(RENEW_EVERY):
            with contextlib.suppress(Exception):  # a blip: the next beat tries again
                self._heart.set(ALIVE_PREFIX + self.name, "1", ex=ALIVE_TTL)

    def _live_names(self) -> set[str] | None:
        """Names of the connected clients, or ``None`` when ``CLIENT LIST`` is refused."""
        redis = import_driver("redis", "redis", "Redis namespaces")
        try:
            clients = self._client.client_list()
        except redis.exceptions.ResponseError:
            return None
        return {str(c.get("name", "")) for c in clients}

    def _alive(self, owner: str, names: set[str] | None) -> bool:
        if owner == self.name:
            return True
        if names is not None:
            return owner in names
        return bool(self._client.exists(ALIVE_PREFIX + owner))

    def sweep(self) -> list[str]:
        """Delete the keys of every namespace whose owner is dead; return the namespaces."""
        owners = {k.decode(): v.decode() for k, v in (self._client.hgetall(OWNERS) or {}).items()}
        if not owners:
            return []
        names = self._live_names()
        reclaimed = []
        for namespace, owner in sorted(owners.items()):
            if self._alive(owner, names):
                continue
            # Take it over first: two runs sweeping at once never both clear it, and a kill
            # now leaves a namespace owned by a dead owner again.
            if not self._take_over(namespace, owner):
                continue
            if namespace:
                _clear(self._client, namespace, 500)
            self._client.hdel(OWNERS, namespace)
            self._client.delete(ALIVE_PREFIX + owner, RECLAIM_PREFIX + namespace)
            reclaimed.append(namespace)
        return reclaimed

    def _take_over(self, namespace: str, owner: str) -> bool:
        """Make this process the owner of ``namespace`` if ``owner`` still has it.

        A short-lived key ``tempo-reclaim:<namespace>`` (``SET NX``) decides who reclaims
        it when several runs start together; if the winner dies before it is done, the
        key expires and the namespace is a dead owner's again.
        """
        guard = RECLAIM_PREFIX + namespace
        if not self._client.set(guard, self.name, nx=True, ex=RECLAIM_TTL):
            return False
        current = self._client.hget(OWNERS, namespace)
        if current is None or current.decode() != owner:
            self._client.delete(guard)
            return False
        self._client.hset(OWNERS, namespace, self.name)
        return True

    def claim(self, namespace: str) -> None:
        """Own ``namespace``: reclaim the dead owners' first, then clear it for this run."""
        with self._errors():
            self._start()
            self.reclaimed.extend(self.sweep())
            self._client.hset(OWNERS, namespace, self.name)
            self.namespaces.add(namespace)
            _clear(self._client, namespace, 500)

    def release(self, namespace: str) -> None:
        """Delete the namespace's keys and its entry."""
        with self._errors():
            _clear(self._client, namespace, 500)
            self._client.hdel(OWNERS, namespace)
            self.namespaces.discard(namespace)

    def close(self) -> None:
        """Stop the heartbeat and close the owner connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 1)
        with contextlib.suppress(Exception):
            if self._heart is not None:
                self._heart.delete(ALIVE_PREFIX + self.name)
        for client in (self._heart, self._client):
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()
        self._heart = self._client = self._thread = None
