"""One run's recording: run journals, the lock, and the update of the store at the end.

How nothing is lost:

- While a run goes on, the controller appends each finished test to the run's own journal
  (one JSON line per test), written by a background thread once a second. The thread asks
  the timing feature for the tests finished since its last write (:meth:`Recorder.follow`),
  so a test costs the thread that runs it nothing here. The run holds an
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
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from .durations import FOLDED_KEEP, Parsed, fold_records, prune
from .durations_io import (
    HAVE_FLOCK,
    encode_parts,
    file_key,
    open_store,
    unusable,
    write_atomic,
)
from .durations_journal import check_record, to_raw
from .store_handle import shown

if HAVE_FLOCK:
    import fcntl

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
    from pathlib import Path

    from .durations import Measured, Record
    from .jsonfile import FileKey
    from .store_handle import Location

__all__ = ["Lock", "Recorder", "read_journal"]

MAX_JOURNAL_BYTES = 64 * 1024 * 1024
#: How long the end of a run waits for another run's update of the store.
LOCK_TIMEOUT = 30.0
#: How often the journal is written while tests run.
FLUSH_SECONDS = 1.0
#: Without flock: a lock file or a journal untouched this long belongs to a dead run.
STALE_SECONDS = 120.0
JOURNAL_SUFFIX = ".jsonl"


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


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


def read_journal(fd: int) -> Iterator[Record]:
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
            record = check_record(json.loads(line))
        except (ValueError, RecursionError):
            continue
        if record is not None:
            yield record


_ENCODE = json.encoder.encode_basestring_ascii
_MARKS: dict[tuple[str, ...], str] = {}


def journal_line(record: Record, now: float) -> str:
    """One journal line: the JSON list ``[nodeid, at, setup, call, teardown, shared, marks]``.

    Written by hand, for every test: json's C function quotes the node id, and the seconds
    are written to the microsecond (the store keeps no finer), which costs a fraction of a
    float's shortest ``repr``. ``at`` None is ``now``.
    """
    nodeid, at, setup, call, teardown, shared, marks = record
    if marks is None:
        shown = "null"
    else:
        key = tuple(marks)
        shown = _MARKS.get(key) or _MARKS.setdefault(key, json.dumps(list(key)))
    stamp = now if at is None else at
    if setup is not None and teardown is not None and shared is not None:  # every test's
        line = _LINE if call is not None else _LINE_NO_CALL
        values = (setup, call, teardown, shared) if call is not None else (setup, teardown, shared)
        return line % (_ENCODE(nodeid), stamp, *values, shown)
    return (
        f"[{_ENCODE(nodeid)},{stamp:.3f},{_seconds(setup)},"
        f"{_seconds(call)},{_seconds(teardown)},{_seconds(shared)},{shown}]"
    )


#: A journal line with every seconds value, and with no call (formatted at once, as the
#: f-string of :func:`journal_line` writes them).
_LINE = "[%s,%.3f,%.6f,%.6f,%.6f,%.6f,%s]"
_LINE_NO_CALL = "[%s,%.3f,%.6f,null,%.6f,%.6f,%s]"


def _seconds(value: float | None) -> str:
    return "null" if value is None else f"{value:.6f}"


# --- one run's recording ------------------------------------------------------------------


class Recorder:
    """Records one run: a journal on disk while tests run, the store updated at the end.

    Only the controller records. A daemon thread writes the tests finished meanwhile to the
    journal every ``flush_seconds``: those :meth:`add` queued, and those the source given to
    :meth:`follow` returns.
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
        self._start_value = start
        self._flush_seconds = flush_seconds
        self._lock_timeout = lock_timeout
        self._posix = posix
        self.id = f"{os.getpid()}-{os.urandom(6).hex()}"
        self._queue: deque[Record] = deque()
        self._source: Callable[[], Iterable[Record]] | None = None
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
        """Queue one finished test for the journal."""
        self._queue.append(to_raw(nodeid, measured))
        self._start()

    def follow(self, source: Callable[[], Iterable[Record]]) -> None:
        """Journal what ``source()`` returns: the tests finished since it was last asked,
        called by the writer thread (and by :meth:`flush`)."""
        self._source = source
        self._start()

    def _start(self) -> None:
        if self._thread is None:
            from .signals import start_thread

            self._thread = start_thread(self._run, "tempo-journal")

    def _run(self) -> None:
        while not self._stop.wait(self._flush_seconds):
            self.flush()
            if not self._posix and self._fd is not None:  # alive, for runs without flock
                with contextlib.suppress(OSError):
                    os.utime(self.journal)

    def flush(self) -> None:
        """Append the finished tests to the journal (created on first use)."""
        with self._write:
            records: list[Record] = []
            while self._queue:
                records.append(self._queue.popleft())
            if self._source is not None:
                records.extend(self._source())
            if not records or self._broken:
                return
            now = round(time.time(), 3)
            text = "\n".join([journal_line(record, now) for record in records]) + "\n"
            try:
                if self._fd is None:
                    self.location.prepare()
                    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0)
                    self._fd = os.open(self.journal, flags, 0o666)
                    if self._posix:
                        fcntl.flock(self._fd, fcntl.LOCK_EX)
                view = memoryview(text.encode("utf-8"))
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
        """:meth:`finish_records` of :class:`Measured` values."""
        return self.finish_records([to_raw(n, m) for n, m in measured.items()], existing)

    def finish_records(
        self, records: Sequence[Record], existing: Iterable[str] | None
    ) -> list[str]:
        """Fold this run and the journals of dead runs into the store; the problems, if any.

        ``existing``: the node ids of a full, unfiltered collection, to prune the entries of
        tests that are gone; None after a filtered run. Never raises OSError.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._unchanged(records, existing):
            self.close()  # nothing to write: --collect-only, or no test ran
            return []
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
            return self._update(records, existing, where)
        finally:
            lock.release()
            self.close()

    def _unchanged(self, records: Sequence[Record], existing: Iterable[str] | None) -> bool:
        """Whether this run would leave the store as it found it: nothing measured, nothing
        else to record, a clean store, nothing in it to prune and no journal to fold."""
        parsed = self._start_value[0]
        if records or self.extra or parsed.problem or parsed.fresh or parsed.store.bad:
            return False
        if existing is not None and not parsed.store.texts.keys() <= set(existing):
            return False
        return not self.location.has_journals()

    def _update(
        self, records: Sequence[Record], existing: Iterable[str] | None, where: str
    ) -> list[str]:
        problems = []
        parsed, key = self._start_value
        if key is None or file_key(self.location.path) != key:
            before = parsed.problem
            parsed, _ = open_store(self.location)
            if parsed.problem and parsed.problem != before:
                problems.append(unusable(self.location, parsed))
        store, folded = parsed.store, list(parsed.folded)
        claimed: list[tuple[Path, int]] = []
        try:
            for path in sorted(self.location.journal_paths(), key=_mtime):
                if path == self.journal:
                    continue
                fd = _claim(path, self._posix)
                if fd is None:
                    continue  # a run still going folds its own journal
                claimed.append((path, fd))
                if path.stem not in folded:
                    fold_records(store, read_journal(fd))
                    folded.append(path.stem)
            fold_records(store, records)
            folded.append(self.id)
            if existing is not None:
                store = prune(store, {*existing, *(record[0] for record in records)})
            extra = {**parsed.extra, **self.extra}
            text = encode_parts(store, folded[-FOLDED_KEEP:], self.location.readable, extra)
            write_atomic(self.location.path, text)
        except OSError as exc:
            self.flush()  # the journal keeps this run for the next one
            for _, fd in claimed:
                os.close(fd)
            return [*problems, f"could not write the durations store {where}: {_reason(exc)}"]
        with self._write:
            self._queue.clear()
            self._source = None
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
