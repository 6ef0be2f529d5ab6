"""Reading a JSON file that may be anything: missing, huge, a FIFO, not UTF-8, not JSON.

The one reader of the durations store, the flaky-test history and the load baselines:
:func:`read_text` reads a regular file of bounded size and never raises;
:func:`parse_json` and :func:`read_json` turn what was read into a value or one clause
saying why it cannot be used. The store and the history are written by
:func:`compact_json` and :func:`write_atomic`, a slice of their tests at a time.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from itertools import islice
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from pathlib import Path

__all__ = [
    "MAX_BYTES",
    "FileKey",
    "JsonRead",
    "compact_json",
    "joined_pieces",
    "parse_json",
    "read_json",
    "read_text",
    "reason",
    "write_atomic",
]

#: A store larger than this is not read (100,000 tests take about 20 MiB).
MAX_BYTES = 128 * 1024 * 1024

#: (device, inode, size, mtime) of a store file: changed by any rename over it.
FileKey = tuple[int, int, int, int]


def reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def read_text(path: Path, limit: int = MAX_BYTES) -> tuple[str | None, str | None, FileKey | None]:
    """(text or None when missing, why it cannot be used, the key of the file read).

    Only a regular file is read (a FIFO would block), and only when it is at most ``limit``
    bytes; never raises.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except (FileNotFoundError, NotADirectoryError):
        return None, None, None
    except IsADirectoryError:  # pragma: no cover - Windows; POSIX opens folders
        return None, "it is a folder", None
    except OSError as exc:
        return None, f"it could not be read: {reason(exc)}", None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            return None, "it is a folder", None
        if not stat.S_ISREG(st.st_mode):
            return None, "it is not a regular file", None
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if st.st_size > limit:
            return None, f"it is {_size(st.st_size)}, over the {_size(limit)} a store may have", key
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(limit + 1 - size, 1 << 24) or 1)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            return None, f"it is over the {_size(limit)} a store may have", key
    except OSError as exc:
        return None, f"it could not be read: {reason(exc)}", None
    finally:
        os.close(fd)
    try:
        return b"".join(chunks).decode("utf-8"), None, key
    except UnicodeDecodeError as exc:
        return None, f"it is not UTF-8 text (byte {exc.start})", key


class JsonRead(NamedTuple):
    """A JSON file or text as :func:`read_json` and :func:`parse_json` read it."""

    #: The value; None when the file is missing or cannot be used.
    value: Any = None
    #: Why it cannot be used, a clause about the file: "it is not UTF-8 text (byte 26)",
    #: "it is not valid JSON", "it is nested too deeply to be read"; None when it can.
    problem: str | None = None
    #: Where invalid JSON fails ("line 3, column 1"), or what it holds that JSON has no
    #: value for (an integer of thousands of digits); empty otherwise.
    where: str = ""

    @property
    def reason(self) -> str | None:
        """:attr:`problem` with :attr:`where` in brackets."""
        if self.problem is None or not self.where:
            return self.problem
        return f"{self.problem} ({self.where})"

    def said_of(self, name: str) -> str:
        """:attr:`problem` said of ``name``: "name is not valid JSON"."""
        return f"{name} {(self.problem or '').removeprefix('it ')}"


def parse_json(text: str) -> JsonRead:
    """``text`` as JSON; never raises: invalid JSON, nesting too deep for the parser and
    integers too long for ``int()`` are a problem."""
    try:
        return JsonRead(json.loads(text))
    except json.JSONDecodeError as exc:
        return JsonRead(
            problem="it is not valid JSON", where=f"line {exc.lineno}, column {exc.colno}"
        )
    except RecursionError:
        return JsonRead(problem="it is nested too deeply to be read")
    except ValueError as exc:  # an integer of thousands of digits, say
        return JsonRead(problem="it is not valid JSON", where=str(exc)[:60])


def read_json(path: Path, limit: int = MAX_BYTES) -> JsonRead:
    """The JSON file at ``path`` (value None when missing), read as :func:`read_text` reads
    a store and parsed by :func:`parse_json`; never raises."""
    text, problem, _ = read_text(path, limit)
    if problem is not None:
        return JsonRead(problem=problem)
    return JsonRead() if text is None else parse_json(text)


#: json's own C function that writes a string as JSON (what ``json.dumps`` does to one).
QUOTE = json.encoder.encode_basestring_ascii
#: Tests per piece of :func:`compact_json`.
PIECE = 4096


def compact_json(
    head: Mapping[str, Any], key: str, entries: Mapping[str, str], piece: int = PIECE
) -> Iterator[str]:
    """The text of ``json.dumps({**head, key: entries}, separators=(",", ":"))``, in pieces
    of ``piece`` entries: neither the whole text nor the list of its parts that
    ``json.dumps`` makes first is ever in memory (some 40 MiB for 100,000 tests).
    ``head`` must not hold ``key``."""
    start = json.dumps(head, separators=(",", ":"))[:-1]
    yield f"{start}{',' if head else ''}{QUOTE(key)}:{{"
    yield from joined_pieces((f"{QUOTE(k)}:{QUOTE(v)}" for k, v in entries.items()), ",", piece)
    yield "}}"


def joined_pieces(parts: Iterable[str], separator: str, piece: int = PIECE) -> Iterator[str]:
    """``separator.join(parts)`` in pieces of ``piece`` parts (each but the first starts with
    the separator)."""
    parts = iter(parts)
    before = ""
    while chunk := list(islice(parts, piece)):
        yield before + separator.join(chunk)
        before = separator


def write_atomic(path: Path, text: str | Iterable[str]) -> None:
    """Write ``text`` (or its pieces, one after the other) to a temporary file beside
    ``path`` and rename it over ``path``; raise OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as f:
            if isinstance(text, str):
                f.write(text)
            else:
                f.writelines(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
