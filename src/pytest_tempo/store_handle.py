"""Where the durations store lives and the handle a run reads it through.

Only this module is imported when a run starts: the handle reads the store when something
first needs it, and only then loads the reading code (:mod:`.durations_io`,
:mod:`.jsonfile`); a missing store costs one failed ``open`` and never loads the parser
(:mod:`.durations`).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from pytest import Cache

    from .durations import Parsed, Snapshot, Store
    from .jsonfile import FileKey

__all__ = ["IN_CACHE", "JOURNALS", "Location", "StoreHandle", "shown"]

JOURNALS = "tempo-durations"
#: The store inside a cache folder: pytest's cache lays out the key ``tempo/durations``
#: (:data:`~pytest_tempo.durations.STORE_KEY`) as ``v/tempo/durations``.
IN_CACHE = ("v", "tempo", "durations")


def shown(path: Path) -> str:
    """A path as the user gave it: relative to the current folder when under it."""
    with contextlib.suppress(ValueError, OSError):
        return str(path.absolute().relative_to(Path.cwd()))
    return str(path)


class Location:
    """Where one store lives: its file, the folder of journals and lock, its format.

    ``readable``: one test per line (a committable ``durations_path`` file); ``cache``:
    pytest's cache, which creates its folder (README, .gitignore) on first use.
    """

    __slots__ = ("cache", "journals", "path", "readable")

    def __init__(
        self, path: Path, journals: Path, readable: bool = False, cache: Cache | None = None
    ) -> None:
        self.path = path
        self.journals = journals
        self.readable = readable
        self.cache = cache

    @classmethod
    def of_cache(cls, cache: Cache) -> Location:
        # Cache._getvaluepath is private (_pytest/cacheprovider.py); the fallback finds the
        # cache folder through the public Cache.mkdir, which creates d/NAME.
        getter = getattr(cache, "_getvaluepath", None)
        path = getter("/".join(IN_CACHE[1:])) if getter is not None else None
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

    def journal_paths(self) -> list[Path]:
        """The run journals in the folder (of this run, live runs and dead ones); none
        where it cannot be read. Listed without a glob (no pattern to compile)."""
        try:
            with os.scandir(self.journals) as entries:
                return [self.journals / e.name for e in entries if e.name.endswith(".jsonl")]
        except OSError:
            return []

    def has_journals(self) -> bool:
        """Whether a run journal is there (of this run, a live run or a dead one); True when
        the folder cannot be read (the update says why)."""
        try:
            with os.scandir(self.journals) as entries:
                return any(entry.name.endswith(".jsonl") for entry in entries)
        except FileNotFoundError:
            return False
        except OSError:
            return True


class StoreHandle:
    """The store of this run, read once, when first needed (never by an xdist worker).

    A missing store is empty and costs one failed ``open``: the parser
    (:mod:`.durations`) is loaded only for a store that exists.
    """

    def __init__(self, location: Location, floor: float = 0.0) -> None:
        self.location = location
        #: calls of tests that always took less may be left out of :meth:`calls`
        self.floor = floor
        self._read = False
        self._parsed: Parsed | None = None  # None: the store is missing
        self._key: FileKey | None = None
        self._snapshot: Snapshot | None = None
        self._calls: dict[str, float] | None = None
        self._problem: str | None = None

    @property
    def problem(self) -> str | None:
        """What was wrong with the store, in one line (None: nothing, or not read yet): when
        read, and the entries found bad since, as they were read."""
        parsed = self._parsed
        if parsed is None or parsed.fresh or parsed.store.problem() == parsed.problem:
            return self._problem
        from .durations import Parsed
        from .durations_io import unusable

        return unusable(self.location, Parsed(problem=parsed.store.problem()))

    def opened(self) -> tuple[Parsed | None, FileKey | None]:
        """The store as read at the start (None: missing) and the key of the file read."""
        if not self._read:
            self._read = True
            if _exists(self.location.path):
                self._open()
        return self._parsed, self._key

    def _open(self) -> None:
        """Read and check the store: the reading code loads only for a store that exists."""
        from .durations_io import decode, unusable
        from .jsonfile import read_text

        text, problem, self._key = read_text(self.location.path)
        if problem is not None:
            from .durations import Parsed

            self._parsed = Parsed(problem=problem, fresh=True)
        elif text is not None:
            self._parsed = decode(text)
        if self._parsed is not None and self._parsed.problem:
            self._problem = unusable(self.location, self._parsed)

    def store(self) -> Store:
        """The usable entries as read at the start (the recorder folds this run into it)."""
        parsed = self.opened()[0]
        # Missing: an empty dict reads as an empty store, without loading the store's code.
        return cast("Store", {}) if parsed is None else parsed.store

    def calls(self) -> dict[str, float]:
        """Median call seconds recorded per test (all the ``tiers`` order needs), but for
        tests whose recent calls all took less than :attr:`floor`."""
        if self._calls is None:
            if self._snapshot is not None:
                self._calls = self._snapshot.calls
            elif self.store():
                from .durations import recorded_calls

                self._calls = recorded_calls(self.store(), self.floor)
            else:
                self._calls = {}
        return self._calls

    def snapshot(self) -> Snapshot | None:
        """What ordering by durations and scheduling need, made at the first call (None:
        no store)."""
        if self._snapshot is None and self.store():
            from .durations import Snapshot

            self._snapshot = Snapshot.of(self.store())
        return self._snapshot


def _exists(path: Path) -> bool:
    """False only for a store that is certainly missing (what :func:`.jsonfile.read_text`
    reads as missing); anything else is for the reader to judge."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True
    return True
