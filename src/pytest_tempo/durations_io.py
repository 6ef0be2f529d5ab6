"""The durations store on disk: where it lives, reading it safely, updating it without loss.

Where: pytest's cache (``.pytest_cache/v/tempo/durations``), or the file of
``durations_path`` (a file a team commits, one test per line). Beside the store, a folder of
run journals holds a lock file: ``.pytest_cache/d/tempo-durations/`` for the cache, and
``PATH.journal/`` (with a ``.gitignore`` of ``*``) for a ``durations_path`` file.

How nothing is lost:

- While a run goes on, the controller appends each finished test to the run's own journal
  (one JSON line per test), written by a background thread once a second. The run holds an
  exclusive ``flock`` on its journal for as long as it lives; the kernel releases it when
  the process dies, even by SIGKILL.
- At the end, under an exclusive lock (``flock`` on the lock file), the controller reads the
  store again (unless it is unchanged since the start), folds in the journals of runs that
  died (their flock is free) and its own measurements, prunes only after a full run, writes
  a temporary file, renames it over the store, and deletes the journals it folded. The store
  names the journals it folded (``folded``), so one is never folded twice, even if the run
  dies between the rename and the deletes.
- Where ``fcntl`` does not exist (Windows), the lock is a file created exclusively (broken
  when older than two minutes) and a journal counts as abandoned when it has not changed
  for two minutes: best effort.

Reading never raises: a missing store is empty; anything else wrong is one reason (a file
over 128 MiB is not read at all; not UTF-8, not JSON, nested too deeply, not a store), and
bad entries are dropped and counted (:func:`~pytest_tempo.durations.parse_document`).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import stat
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .durations import (
    DOCUMENT_KEYS,
    FOLDED_KEEP,
    STORE_KEY,
    VERSION,
    Parsed,
    Store,
    fold,
    from_record,
    parse_document,
    prune,
    to_record,
)

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    HAVE_FLOCK = False
else:
    HAVE_FLOCK = True

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from pytest import Cache

    from .durations import Measured

__all__ = [
    "Location",
    "Lock",
    "Recorder",
    "decode",
    "encode",
    "load_document",
    "load_file",
    "open_store",
    "output_path",
    "read_text",
    "save_file",
    "store_path",
]

#: A store larger than this is not read (100,000 tests take about 20 MiB).
MAX_BYTES = 128 * 1024 * 1024
MAX_JOURNAL_BYTES = 64 * 1024 * 1024
#: How long the end of a run waits for another run's update of the store.
LOCK_TIMEOUT = 30.0
#: How often the journal is written while tests run.
FLUSH_SECONDS = 1.0
#: Without flock: a lock file or a journal untouched this long belongs to a dead run.
STALE_SECONDS = 120.0
JOURNALS = "tempo-durations"
JOURNAL_SUFFIX = ".jsonl"
#: The store inside a cache folder.
IN_CACHE = ("v", *STORE_KEY.split("/"))
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

#: (device, inode, size, mtime) of a store file: changed by any rename over it.
FileKey = tuple[int, int, int, int]


def shown(path: Path) -> str:
    """A path as the user gave it: relative to the current folder when under it."""
    with contextlib.suppress(ValueError, OSError):
        return str(path.absolute().relative_to(Path.cwd()))
    return str(path)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


@dataclass(frozen=True)
class Location:
    """Where one store lives: its file, the folder of journals and lock, its format."""

    path: Path
    journals: Path
    #: one test per line (a committable ``durations_path`` file)
    readable: bool = False
    #: pytest's cache, which creates its folder (README, .gitignore) on first use
    cache: Cache | None = None

    @classmethod
    def of_cache(cls, cache: Cache) -> Location:
        # Cache._getvaluepath is private (_pytest/cacheprovider.py); the fallback finds the
        # cache folder through the public Cache.mkdir, which creates d/NAME.
        getter = getattr(cache, "_getvaluepath", None)
        path = getter(STORE_KEY) if getter is not None else None
        if not isinstance(path, Path):
            path = cache.mkdir(JOURNALS).parent.parent.joinpath(*IN_CACHE)
        return cls(path, path.parents[2] / "d" / JOURNALS, cache=cache)

    @classmethod
    def of_file(cls, path: Path) -> Location:
        return cls(path, path.with_name(path.name + ".journal"), readable=True)

    def prepare(self) -> None:
        """Create the journals folder (and the cache folder); raise OSError."""
        if self.cache is not None:
            self.cache.mkdir(JOURNALS)
            return
        self.journals.mkdir(parents=True, exist_ok=True)
        ignore = self.journals / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# Created by pytest-tempo: run journals, never committed.\n*\n")


# --- reading and writing ------------------------------------------------------------------


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
        return None, f"could not read it: {_reason(exc)}", None
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
        return None, f"could not read it: {_reason(exc)}", None
    finally:
        os.close(fd)
    try:
        return b"".join(chunks).decode("utf-8"), None, key
    except UnicodeDecodeError as exc:
        return None, f"it is not UTF-8 text (byte {exc.start})", key


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
    try:
        value: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        return Parsed(problem=f"it is not valid JSON (line {exc.lineno}, column {exc.colno})",
                      fresh=True)  # fmt: skip
    except RecursionError:
        return Parsed(problem="it is nested too deeply to be a store", fresh=True)
    except ValueError as exc:  # an integer of thousands of digits, say
        return Parsed(problem=f"it is not valid JSON ({str(exc)[:60]})", fresh=True)
    return parse_document(value)


def open_store(location: Location) -> tuple[Parsed, FileKey | None]:
    """The store as it is now (empty when missing), and the key of the file read."""
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
    store: Store,
    folded: list[str],
    readable: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """The store's text: compact JSON, or one test per line with sorted keys (``readable``).

    ``extra``: other top-level keys of the document (records of other features), kept.
    """
    extra = {k: v for k, v in (extra or {}).items() if k not in DOCUMENT_KEYS}
    if not readable:
        # Unsorted: sorting 100,000 entries' keys would cost a third of the time.
        value = {"version": VERSION, "folded": folded, **extra, "tests": store}
        return json.dumps(value, separators=(",", ":"))
    body = json.dumps(store, sort_keys=True, separators=(", ", ": "))
    if store:
        # '}, "' occurs only between two entries: entries hold lists, not objects, and a
        # quote inside a node id is escaped.
        body = "{\n" + body[1:-1].replace('}, "', '},\n"') + "\n}"
    head = json.dumps({"version": VERSION, "folded": folded, **extra}, sort_keys=True)[:-1]
    return f'{head},\n"tests": {body}}}\n'


def write_atomic(path: Path, text: str) -> None:
    """Write a temporary file beside ``path`` and rename it over ``path``; raise OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


# --- locks --------------------------------------------------------------------------------


class Lock:
    """An exclusive lock between processes on ``path``.

    With ``flock`` (POSIX) the kernel drops it when its holder dies. Without (``posix`` false,
    or Windows) a lock file ``PATH.held`` is created exclusively; one older than
    STALE_SECONDS is taken to be left by a killed holder and broken: best effort.
    """

    def __init__(self, path: Path, posix: bool = HAVE_FLOCK) -> None:
        self.path = path
        self._posix = posix
        self._fd: int | None = None

    def acquire(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if self._try():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)

    def _try(self) -> bool:
        if self._posix:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
            self._fd = fd
            return True
        held = self.path.with_name(self.path.name + ".held")
        try:
            self._fd = os.open(held, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            with contextlib.suppress(OSError):
                if time.time() - held.stat().st_mtime > STALE_SECONDS:
                    held.unlink()
            return False
        return True

    def release(self) -> None:
        if self._fd is None:
            return
        os.close(self._fd)  # closing drops a flock
        self._fd = None
        if not self._posix:
            with contextlib.suppress(OSError):
                self.path.with_name(self.path.name + ".held").unlink()


def _claim(path: Path, posix: bool) -> int | None:
    """An open descriptor on the journal of a run that is gone, or None (a live run's)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        if posix:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        elif time.time() - os.fstat(fd).st_mtime <= STALE_SECONDS:
            raise BlockingIOError
    except OSError:
        os.close(fd)
        return None
    return fd


def read_journal(fd: int) -> Iterator[tuple[str, Measured]]:
    """The complete, valid lines of a journal (a killed run may leave half a line)."""
    os.lseek(fd, 0, os.SEEK_SET)
    chunks, size = [], 0
    while size < MAX_JOURNAL_BYTES:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    lines = b"".join(chunks).split(b"\n")
    for line in lines[:-1]:  # after the last newline: nothing, or an unfinished line
        try:
            record = from_record(json.loads(line))
        except (ValueError, RecursionError):
            continue
        if record is not None:
            yield record


# --- one run's recording ------------------------------------------------------------------


class Recorder:
    """Records one run: a journal on disk while tests run, the store updated at the end.

    Only the controller records. :meth:`add` is called once per finished test and costs a
    deque append; a daemon thread writes the queue to the journal every ``flush_seconds``.
    """

    def __init__(
        self,
        location: Location,
        start: tuple[Parsed, FileKey | None] = (Parsed(), None),
        flush_seconds: float = FLUSH_SECONDS,
        lock_timeout: float = LOCK_TIMEOUT,
        posix: bool = HAVE_FLOCK,
    ) -> None:
        self.location = location
        self._start = start
        self._flush_seconds = flush_seconds
        self._lock_timeout = lock_timeout
        self._posix = posix
        self.id = f"{os.getpid()}-{os.urandom(6).hex()}"
        self._queue: deque[tuple[str, Measured]] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._write = threading.Lock()
        self._fd: int | None = None
        self._broken = False
        #: top-level keys this run sets in the store document (other features' records)
        self.extra: dict[str, Any] = {}

    @property
    def journal(self) -> Path:
        return self.location.journals / f"{self.id}{JOURNAL_SUFFIX}"

    def add(self, nodeid: str, measured: Measured) -> None:
        if measured.at is None:
            measured.at = round(time.time(), 3)
        self._queue.append((nodeid, measured))
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tempo-journal", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._flush_seconds):
            self.flush()
            if not self._posix and self._fd is not None:  # alive, for runs without flock
                with contextlib.suppress(OSError):
                    os.utime(self.journal)

    def flush(self) -> None:
        """Append the queued tests to the journal (created on first use)."""
        with self._write:
            lines = []
            while self._queue:
                nodeid, measured = self._queue.popleft()
                lines.append(json.dumps(to_record(nodeid, measured), separators=(",", ":")))
            if not lines or self._broken:
                return
            data = ("\n".join(lines) + "\n").encode("utf-8")
            try:
                if self._fd is None:
                    self.location.prepare()
                    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0)
                    self._fd = os.open(self.journal, flags, 0o666)
                    if self._posix:
                        fcntl.flock(self._fd, fcntl.LOCK_EX)
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view) :]
            except OSError:
                self._broken = True  # the end of the run still records from memory

    def close(self) -> None:
        """Stop the writer thread and close the journal (kept, if the run did not finish)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._write:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def finish(self, measured: Mapping[str, Measured], existing: Iterable[str] | None) -> list[str]:
        """Fold this run and the journals of dead runs into the store; the problems, if any.

        ``existing``: the node ids of a full, unfiltered collection, to prune the entries of
        tests that are gone; None after a filtered run. Never raises OSError.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        where = shown(self.location.path)
        try:
            self.location.prepare()
            lock = Lock(self.location.journals / "lock", self._posix)
            locked = lock.acquire(self._lock_timeout)
        except OSError as exc:
            self.close()
            return [f"could not write the durations store {where}: {_reason(exc)}"]
        if not locked:
            self.flush()
            self.close()
            return [
                f"the durations store {where} stayed locked by another run for "
                f"{self._lock_timeout:.0f}s; this run's measurements are kept in "
                f"{shown(self.journal)} for the next run"
            ]
        try:
            return self._update(measured, existing, where)
        finally:
            lock.release()
            self.close()

    def _update(
        self, measured: Mapping[str, Measured], existing: Iterable[str] | None, where: str
    ) -> list[str]:
        problems = []
        parsed, key = self._start
        if key is None or file_key(self.location.path) != key:
            before = parsed.problem
            parsed, _ = open_store(self.location)
            if parsed.problem and parsed.problem != before:
                problems.append(unusable(self.location, parsed))
        store, folded = parsed.store, list(parsed.folded)
        claimed: list[tuple[Path, int]] = []
        try:
            for path in sorted(self.location.journals.glob(f"*{JOURNAL_SUFFIX}"), key=_mtime):
                if path == self.journal:
                    continue
                fd = _claim(path, self._posix)
                if fd is None:
                    continue  # a run still going folds its own journal
                claimed.append((path, fd))
                if path.stem not in folded:
                    fold(store, read_journal(fd))
                    folded.append(path.stem)
            fold(store, measured.items())
            folded.append(self.id)
            if existing is not None:
                store = prune(store, {*existing, *measured})
            extra = {**parsed.extra, **self.extra}
            text = encode(store, folded[-FOLDED_KEEP:], self.location.readable, extra)
            write_atomic(self.location.path, text)
        except OSError as exc:
            self.flush()  # the journal keeps this run for the next one
            for _, fd in claimed:
                os.close(fd)
            return [*problems, f"could not write the durations store {where}: {_reason(exc)}"]
        with self._write:
            self._queue.clear()
        for path, fd in [*claimed, (self.journal, -1)]:
            with contextlib.suppress(OSError):
                path.unlink()
            if fd >= 0:
                os.close(fd)
        return problems


def _mtime(path: Path) -> tuple[float, str]:
    try:
        return path.stat().st_mtime, path.name
    except OSError:
        return 0.0, path.name


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
    if parsed.problem:
        raise ValueError(f"{path} has bad entries: {parsed.problem}")
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
        raise ValueError(f"cannot create the cache folder {out}: {_reason(exc)}") from None
    return out.joinpath(*IN_CACHE), False


def save_file(path: Path, store: Store, readable: bool = False) -> None:
    """Write a store file atomically (a temporary file renamed over it); raise OSError."""
    write_atomic(path, encode(store, [], readable))
