"""Flaky tests: the outcome history kept per test, and the tests it shows to be flaky.

The history lives beside pytest's cache values, in ``.pytest_cache/d/tempo-outcomes/``
(``history.json``), written only by the controller, at the end of a run, as a read, merge
and write under a lock (``flock`` where the platform has it), replaced atomically::

    {"version": 1, "tests": {"tests/test_a.py::test_x": {"fp": "3f2a...", "runs": "ppfp",
                                                         "at": 1764480000.0}}}

``runs`` holds the last :data:`KEEP` outcomes, newest last (``p`` passed, ``f`` failed, an
error counted as a failure; skips are not recorded). ``fp`` is a fingerprint of the test's
source, its file and the ``conftest.py`` files above it: when it changes, the history starts
again, since a change of the test may well be what made it pass or fail.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from pathlib import Path

__all__ = [
    "KEEP",
    "Flaky",
    "History",
    "fingerprints",
    "judge_flaky",
    "merge_histories",
    "parse_history",
    "read_history",
    "record",
    "update_history",
]

VERSION = 1
#: Outcomes kept per test, and the recent ones judged.
KEEP = 20
WINDOW = 10
FOLDER = "tempo-outcomes"
FILE = "history.json"
#: The keys of an entry.
FIELDS = ("fp", "runs", "at")
LOCK_TIMEOUT = 10.0

#: node id -> {"fp": str, "runs": str, "at": float}
History = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Flaky:
    nodeid: str
    failed: int  # failures in the window (with the same fingerprint), this run included
    runs: int
    reruns: int = 0  # failed attempts rerun in this run (pytest-rerunfailures)


def parse_history(value: object) -> tuple[History, str | None]:
    """Validate a stored value: the history, and why it was unusable (then empty).

    Runs once per recorded test at every run's end: checks in place, copies nothing but
    an entry whose outcomes are longer than KEEP.
    """
    if value is None:
        return {}, None
    if type(value) is not dict or value.get("version") != VERSION:
        return {}, "not an outcome history of a known version"
    tests = value.get("tests")
    if type(tests) is not dict:
        return {}, "'tests' is not an object"
    history: History = tests
    for nodeid, entry in tests.items():
        if type(entry) is not dict:
            return {}, f"entry for {nodeid!r} is not an object"
        at = entry.get("at")
        if (type(at) is not float and type(at) is not int) or not at >= 0:
            return {}, f"entry for {nodeid!r} has a bad stamp"
        runs = entry.get("runs")
        if type(entry.get("fp")) is not str or type(runs) is not str:
            return {}, f"entry for {nodeid!r} is not of the expected shape"
        if runs.strip("pf"):
            return {}, f"entry for {nodeid!r} has unknown outcomes"
        if len(runs) > KEEP or len(entry) != len(FIELDS):
            if history is tests:
                history = dict(tests)
            history[nodeid] = {"fp": entry["fp"], "runs": runs[-KEEP:], "at": at}
    return history, None


def record(
    history: Mapping[str, Mapping[str, Any]],
    outcomes: Mapping[str, str],
    fps: Mapping[str, str],
    now: float | None = None,
) -> History:
    """The history after this run: each test's outcome (``p`` or ``f``) appended, or a new
    history where its fingerprint changed. ``history`` is left as it was."""
    stamp = round(time.time() if now is None else now, 3)
    result: History = dict(history)  # type: ignore[arg-type]
    get = result.get
    for nodeid, outcome in outcomes.items():
        fp = fps.get(nodeid, "")
        entry = get(nodeid)
        runs = entry["runs"] if entry is not None and entry["fp"] == fp else ""
        result[nodeid] = {"fp": fp, "runs": (runs + outcome)[-KEEP:], "at": stamp}
    return result


def merge_histories(histories: Iterable[Mapping[str, Mapping[str, Any]]]) -> History:
    """One history from several (the shards of a CI matrix): per test, the entry recorded
    last (by ``at``) wins, as in the durations store."""
    merged: History = {}
    for history in histories:
        for nodeid, entry in history.items():
            current = merged.get(nodeid)
            if current is None or entry["at"] > current["at"]:
                merged[nodeid] = dict(entry)
    return merged


def judge_flaky(
    history: Mapping[str, Mapping[str, Any]],
    reruns: Mapping[str, int],
    ran: Iterable[str],
) -> list[Flaky]:
    """Tests of this run (``ran``) whose history (this run included) with one fingerprint
    over its last WINDOW runs went from pass to fail and back (or from fail to pass and
    back), and tests that passed on
    a rerun in this run; most failures first.

    One change of outcome alone is not flakiness: a test broken by a change of the code it
    tests passes, then fails until the code is fixed; it changes outcome twice only when
    fixed, and then stops. A test whose outcome flips back and forth is listed.
    """
    found = []
    for nodeid in ran:
        runs = history.get(nodeid, {}).get("runs", "")[-WINDOW:]
        rerun = reruns.get(nodeid, 0)
        if flips(runs) >= 2 or (rerun and runs.endswith("p")):
            found.append(Flaky(nodeid, runs.count("f"), len(runs), rerun))
    return sorted(found, key=lambda f: (-(f.failed + f.reruns), f.nodeid))


def flips(runs: str) -> int:
    """How often the outcome changed from one run to the next."""
    return sum(1 for a, b in itertools.pairwise(runs) if a != b)


def fingerprints(nodeids: Iterable[str], root: Path) -> dict[str, str]:
    """A fingerprint per test: its file and the ``conftest.py`` files above it (to ``root``)."""
    by_file: dict[str, str] = {}
    folders: dict[Path, bytes] = {}

    def conftests(folder: Path) -> bytes:
        known = folders.get(folder)
        if known is None:
            above = b"" if folder == root or folder.parent == folder else conftests(folder.parent)
            known = folders[folder] = above + _read(folder / "conftest.py")
        return known

    result = {}
    for nodeid in nodeids:
        path = nodeid.split("::", 1)[0]
        fp = by_file.get(path)
        if fp is None:
            file = root / path
            digest = hashlib.blake2b(_read(file), digest_size=8)
            digest.update(conftests(file.parent))
            fp = by_file[path] = digest.hexdigest()
        result[nodeid] = fp
    return result


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


# --- I/O ------------------------------------------------------------------------------------


def history_path(folder: Path) -> Path:
    """The history file in the plugin's cache folder, or in a whole ``.pytest_cache``."""
    if (folder / "d" / FOLDER).is_dir() or (folder / "v").is_dir():
        return folder / "d" / FOLDER / FILE
    return folder / FILE


def read_history(path: Path) -> tuple[History, str | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, None
    except OSError as exc:
        return {}, f"could not read {path}: {exc.strerror or exc}"
    try:
        value = json.loads(text)
    except ValueError:
        return {}, f"{path} is not valid JSON"
    return parse_history(value)


def write_history(path: Path, history: History) -> None:
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    value = {"version": VERSION, "tests": history}
    temporary.write_text(json.dumps(value, separators=(",", ":")), encoding="utf-8")
    os.replace(temporary, path)


@contextlib.contextmanager
def _locked(path: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[bool]:
    """An exclusive ``flock`` on ``path`` (yields False when it could not be had in time, or
    the platform has no ``flock``: the update then goes ahead unlocked)."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield False
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    yield False
                    return
                time.sleep(0.01)
        yield True
    finally:
        os.close(fd)  # closing drops the flock


def update_history(
    folder: Path, outcomes: Mapping[str, str], fps: Mapping[str, str]
) -> tuple[History, str | None]:
    """Read the history in ``folder``, add this run's outcomes, write it back, all under the
    lock, so two runs at once both keep theirs. Returns the new history and a problem."""
    path = folder / FILE
    try:
        with _locked(folder / f"{FILE}.lock"):
            history, problem = read_history(path)
            updated = record(history, outcomes, fps)
            write_history(path, updated)
    except OSError as exc:
        return record({}, outcomes, fps), f"could not write {path}: {exc.strerror or exc}"
    return updated, problem
