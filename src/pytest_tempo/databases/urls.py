"""Database and Redis URLs: parse, mask the password, put a worker's database in.

Pure functions on strings. The database part is replaced textually, so the user, password
(percent-encoded or not), host, port and query reach the result exactly as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Literal
from urllib.parse import SplitResult, unquote, urlsplit

__all__ = [
    "Backend",
    "DbUrl",
    "UrlError",
    "mask_password",
    "parse_db_url",
    "parse_redis_url",
]

Backend = Literal["postgresql", "mysql", "sqlite"]

_BACKENDS: dict[str, Backend] = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
}
_SCHEME = re.compile(r"([a-z][a-z0-9]*)(\+[a-z][a-z0-9_]*)?\Z")
MEMORY = ":memory:"


class UrlError(ValueError):
    """A URL pytest-tempo cannot use; the message says why."""


def mask_password(url: str) -> str:
    """The URL with its password, if any, replaced by ``***``."""
    return re.sub(r"^([^:/?#]+://[^:/?#@]*:)[^@/?#]*@", r"\1***@", url)


@dataclass(frozen=True)
class DbUrl:
    """A database URL split into the parts pytest-tempo needs.

    ``database`` is the name (PostgreSQL, MySQL) or the file path (SQLite; ``:memory:``
    or empty for an in-memory database). ``text`` is the URL exactly as given.
    """

    text: str
    scheme: str
    backend: Backend
    host: str
    port: int | None
    user: str
    password: str
    database: str
    query: str

    @property
    def masked(self) -> str:
        return mask_password(self.text)

    @property
    def is_memory(self) -> bool:
        return self.backend == "sqlite" and self.database in ("", MEMORY)

    @property
    def address(self) -> str:
        """``host:port`` with the backend's default port filled in."""
        default = {"postgresql": 5432, "mysql": 3306, "sqlite": 0}[self.backend]
        return f"{self.host or 'localhost'}:{self.port or default}"

    def with_database(self, database: str) -> DbUrl:
        """The same URL naming another database (or, for SQLite, another file path)."""
        head, _, rest = self.text.partition("://")
        netloc = re.match(r"[^/?#]*", rest)
        assert netloc is not None  # the pattern matches the empty string
        tail = "?" + self.query if self.query else ""
        path = "/" + database if database or self.backend != "sqlite" else ""
        text = f"{head}://{netloc.group(0)}{path}{tail}"
        return replace(self, text=text, database=database)

    def with_file_stem(self, stem: str) -> DbUrl:
        """SQLite: the same directory and suffix, another file stem (``app.db`` -> ``x.db``)."""
        path = PurePosixPath(self.database)
        return self.with_database(str(path.with_name(stem + path.suffix)))

    @property
    def file_stem(self) -> str:
        return PurePosixPath(self.database).stem


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port that is not a number
    except ValueError as exc:
        raise UrlError(f"it is not a valid URL ({exc})") from None
    return parts


def parse_db_url(url: str) -> DbUrl:
    """Parse a PostgreSQL, MySQL/MariaDB or SQLite URL; raise :class:`UrlError` if unusable."""
    text = url.strip()
    if "://" not in text:
        raise UrlError("it is not a URL; expected e.g. postgresql://user@localhost/app")
    scheme = text.partition("://")[0].lower()
    match = _SCHEME.match(scheme)
    backend = _BACKENDS.get(match.group(1)) if match else None
    if backend is None:
        raise UrlError(
            f"the scheme {scheme!r} is not supported; use postgresql://, mysql://, "
            "mariadb:// or sqlite:/// (optionally with a driver, e.g. postgresql+psycopg://)"
        )
    parts = _split(text)
    if parts.fragment:
        raise UrlError("a database URL has no #fragment")
    if backend == "sqlite":
        if parts.netloc:
            raise UrlError(
                "a SQLite URL has no host; write sqlite:///relative.db or sqlite:////abs.db"
            )
        database = unquote(parts.path[1:]) if parts.path.startswith("/") else ""
        if database and database != MEMORY and database.endswith("/"):
            raise UrlError("a SQLite URL must name a file, not a directory")
        return DbUrl(text, scheme, backend, "", None, "", "", database, parts.query)
    if not parts.hostname and not _has_socket(parts.query):
        raise UrlError("it names no host; expected e.g. postgresql://user@localhost:5432/app")
    if "," in parts.netloc.rpartition("@")[2]:
        raise UrlError("URLs with several hosts are not supported")
    database = unquote(parts.path[1:]) if parts.path.startswith("/") else parts.path
    if "/" in database:
        raise UrlError(f"{database!r} is not a database name")
    return DbUrl(
        text=text,
        scheme=scheme,
        backend=backend,
        host=parts.hostname or "",
        port=parts.port,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        database=database,
        query=parts.query,
    )


def _has_socket(query: str) -> bool:
    return "host=" in query or "unix_socket=" in query


def parse_redis_url(url: str) -> str:
    """Check a Redis URL (``redis://``, ``rediss://``, ``unix://``); return it stripped."""
    text = url.strip()
    scheme = text.partition("://")[0].lower() if "://" in text else ""
    if scheme not in ("redis", "rediss", "unix"):
        raise UrlError("expected a redis://, rediss:// or unix:// URL")
    parts = _split(text)
    if scheme != "unix" and not parts.hostname:
        raise UrlError("it names no host; expected e.g. redis://localhost:6379/0")
    if scheme != "unix" and parts.path not in ("", "/") and not parts.path[1:].isdigit():
        raise UrlError(f"{parts.path[1:]!r} is not a database number")
    return text
