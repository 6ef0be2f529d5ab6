"""The durations store on disk: where it lives, reading it safely, updating it without loss.

Where: pytest's cache (``.pytest_cache/v/tempo/durations``), or the file of
``durations_path`` (a file a team commits, one test per line). Beside the store, a folder of
run journals holds a lock file: ``.pytest_cache/d/tempo-durations/`` for the cache, and
``PATH.journal/`` (with a ``.gitignore`` of ``*``) for a ``durations_path`` file.

How nothing is lost is in :mod:`pytest_tempo.durations_record`.

Reading never raises: a missing store is empty; anything else wrong is one reason (a file
over 128 MiB is not read at all; not UTF-8, not JSON, nested too deeply, not a store), and
bad entries are dropped and counted (:func:`~pytest_tempo.durations.parse_document`).

A run reads its store through a :class:`~pytest_tempo.store_handle.StoreHandle`, when
something first needs it: this module loads only then.
"""

from __future__ import annotations

import gc
import json
import os
from typing import TYPE_CHECKING, Any

from .jsonfile import (
    PIECE,
    QUOTE,
    FileKey,
    JsonRead,
    compact_json,
    joined_pieces,
    parse_json,
    read_json,
    read_text,
    reason,
    write_atomic,
)
from .store_handle import IN_CACHE, Location, StoreHandle, shown

try:
    import fcntl  # noqa: F401  (only whether it exists)
except ImportError:  # pragma: no cover - Windows
    HAVE_FLOCK = False
else:
    HAVE_FLOCK = True

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from pathlib import Path

    from .durations import Parsed, Store


__all__ = [
    "JsonRead",
    "Location",
    "StoreHandle",
    "decode",
    "encode",
    "encode_parts",
    "load_document",
    "load_file",
    "open_store",
    "output_path",
    "read_json",
    "read_text",
    "save_file",
    "store_path",
    "write_atomic",
]

#: What pytest writes into a new cache folder (``_pytest/cacheprovider.py``).
CACHEDIR_FILES = {
    "README.md": "# pytest cache directory #\n\n"
    "This directory contains data from the pytest's cache plugin,\n"
    "which provides the `--lf` and `--ff` options, as well as the `cache` fixture.\n\n"
    "**Do not** commit this to version control.\n\n"
    "See [the docs](https://docs.pytest.org/en/stable/how-to/cache.html) for more "
    "information.\n",
    ".gitignore": "# Created by pytest automatically.\n*\n",
    "CACHEDIR.TAG": "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by pytest.\n"
    "# For information about cache directory tags, see:\n"
    "#\thttps://bford.info/cachedir/spec.html\n",
}


# --- reading and writing ------------------------------------------------------------------


def decode(text: str) -> Parsed:
    """A store's text checked (see :func:`~pytest_tempo.durations.parse_document`)."""
    # The parse makes a few hundred thousand containers, none in a cycle: without the
    # cyclic collector's passes over them, a large store reads a fifth faster.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _decode(text)
    finally:
        if paused:
            gc.enable()


def _decode(text: str) -> Parsed:
    from .durations import Parsed, parse_document

    read = parse_json(text)
    if read.problem is not None:
        return Parsed(problem=read.reason, fresh=True)
    return parse_document(read.value)


def open_store(location: Location) -> tuple[Parsed, FileKey | None]:
    """The store as it is now (empty when missing), and the key of the file read."""
    from .durations import Parsed

    text, problem, key = read_text(location.path)
    if problem is not None:
        return Parsed(problem=problem, fresh=True), key
    if text is None:
        return Parsed(), None
    return decode(text), key


def file_key(path: Path) -> FileKey | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def encode(
    store: Mapping[str, Mapping[str, Any]],
    folded: list[str],
    readable: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """The store's text: compact JSON, or one test per line, sorted (``readable``).

    ``store``: a :class:`~pytest_tempo.durations.Store` (its entries' text is written as it
    is), or decoded entries. ``extra``: other top-level keys of the document (records of
    other features), kept.
    """
    return "".join(encode_parts(store, folded, readable, extra))


def encode_parts(
    store: Mapping[str, Mapping[str, Any]],
    folded: list[str],
    readable: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> Iterator[str]:
    """The text of :func:`encode` in pieces of a few thousand tests each, for
    :func:`write_atomic`: the whole text is never in memory."""
    from .durations import DOCUMENT_KEYS, VERSION
    from .durations_entry import texts_of

    texts = texts_of(store)
    extra = {k: v for k, v in (extra or {}).items() if k not in DOCUMENT_KEYS}
    head = {"version": VERSION, "folded": folded, **extra}
    if not readable:
        yield from compact_json(head, "tests", texts, PIECE)
        return
    start = json.dumps(head, sort_keys=True)[:-1]
    if not texts:
        yield f'{start},\n"tests": {{}}}}\n'
        return
    yield f'{start},\n"tests": {{\n'
    lines = (f"{QUOTE(n)}: {QUOTE(texts[n])}" for n in sorted(texts))
    yield from joined_pieces(lines, ",\n", PIECE)
    yield "\n}}\n"


def unusable(location: Location, parsed: Parsed) -> str:
    """The one line that says what was wrong with a store, and what was done about it."""
    where = shown(location.path)
    if parsed.fresh:
        return f"the durations store {where} was unusable ({parsed.problem}); started a fresh one"
    return f"the durations store {where} had bad entries ({parsed.problem}); dropped them"


# --- store files for the command line ----------------------------------------------------


def store_path(path: Path) -> Path:
    """A store file given itself or the cache folder (``.pytest_cache``) that holds it."""
    if path.is_dir():
        return path.joinpath(*IN_CACHE)
    return path


def load_file(path: Path) -> Store:
    """Read a store file or a cache folder's store; raise ValueError with a one-line reason."""
    return load_document(path).store


def load_document(path: Path) -> Parsed:
    """:func:`load_file`, with the document's other parts (``folded``, ``extra``)."""
    target = store_path(path)
    text, problem, _ = read_text(target)
    if problem is not None:
        raise ValueError(f"{path} is not a durations store: {problem}")
    if text is None:
        if target != path:
            raise ValueError(f"{path} is a folder without a durations store ({'/'.join(IN_CACHE)})")
        raise ValueError(f"cannot read {path}: No such file or directory")
    parsed = decode(text)
    if parsed.fresh:
        raise ValueError(f"{path} is not a durations store: {parsed.problem}")
    problem = parsed.store.checked().problem()  # every value, not only the check on reading
    if problem:
        raise ValueError(f"{path} has bad entries: {problem}")
    return parsed


def output_path(out: Path) -> tuple[Path, bool]:
    """Where ``merge -o OUT`` writes, and whether one test per line; raise ValueError.

    A folder is a cache folder; a missing path is created as one, unless it names a file (an
    extension such as ``.json``, or ends in ``v/tempo/durations``). An existing file is
    replaced only when it names a file that way.
    """
    names_file = bool(out.suffix) or out.parts[-3:] == IN_CACHE
    if out.is_dir():
        return out.joinpath(*IN_CACHE), False
    if out.exists() or out.is_symlink():
        if not names_file:
            raise ValueError(
                f"{out} is a file, not a cache folder: remove it to create a cache folder "
                "there, or name a store file with an extension such as .json"
            )
        return out, out.parts[-3:] != IN_CACHE
    if names_file:
        return out, out.parts[-3:] != IN_CACHE
    try:
        out.mkdir(parents=True)
        for name, content in CACHEDIR_FILES.items():
            (out / name).write_text(content, encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot create the cache folder {out}: {reason(exc)}") from None
    return out.joinpath(*IN_CACHE), False


def save_file(path: Path, store: Mapping[str, Mapping[str, Any]], readable: bool = False) -> None:
    """Write a store file atomically (a temporary file renamed over it); raise OSError."""
    write_atomic(path, encode_parts(store, [], readable))
