"""Flaky tests: the outcome history kept per test, and the tests it shows to be flaky.

The history lives beside pytest's cache values, in ``.pytest_cache/d/tempo-outcomes/``
(``history.json``), written only by the controller, at the end of a run, as one read, merge
and write under a lock (``flock`` where the platform has it), replaced atomically. Each
test's entry is one string, ``"FINGERPRINT OUTCOMES STAMP"``, so a history of 100,000 tests
is read, updated and written in a fraction of a second::

    {"version": 2, "tests": {"tests/test_a.py::test_x": "3f2a9c0d11aa22bb ppfp 1764480000.0"}}

The outcomes are the last :data:`KEEP`, newest last (``p`` passed, ``f`` failed, an error
counted as a failure; skips are not recorded); the stamp is when the test last ran (epoch
seconds). The fingerprint covers the test's source, its file and the ``conftest.py`` files
above it: when it changes, the history starts again, since a change of the test may well be
what made it pass or fail. Histories of version 1 (an object per test) are read too.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import time
from typing import TYPE_CHECKING, Any

from ..jsonfile import compact_json, read_json, write_atomic

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Iterator, Mapping
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

VERSION = 2
#: Outcomes kept per test, and the recent ones judged.
KEEP = 20
WINDOW = 10
FOLDER = "tempo-outcomes"
FILE = "history.json"
#: The parts of an entry.
FIELDS = ("fp", "runs", "at")
LOCK_TIMEOUT = 10.0

#: node id -> {"fp": str, "runs": str, "at": float}
History = dict[str, dict[str, Any]]


class Flaky:
    """A flaky test: its failures in the window (with the same fingerprint, this run
    included), the runs in the window, and the failed attempts rerun in this run
    (pytest-rerunfailures)."""

    __slots__ = ("failed", "nodeid", "reruns", "runs")

    def __init__(self, nodeid: str, failed: int, runs: int, reruns: int = 0) -> None:
        self.nodeid, self.failed, self.runs, self.reruns = nodeid, failed, runs, reruns

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Flaky) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return f"Flaky{self._fields()!r}"

    def _fields(self) -> tuple[str, int, int, int]:
        return (self.nodeid, self.failed, self.runs, self.reruns)


def parse_history(value: object) -> tuple[History, str | None]:
    """Validate a stored value (version 1 or 2): the history, and why it was unusable (then
    empty). Never raises, whatever ``value`` holds."""
    if value is None:
        return {}, None
    if type(value) is not dict or value.get("version") not in (1, VERSION):
        return {}, "not an outcome history of a known version"
    tests = value.get("tests")
    if type(tests) is not dict:
        return {}, "'tests' is not an object"
    history: History = {}
    for nodeid, entry in tests.items():
        parsed = _entry(entry) if value["version"] == VERSION else _entry_v1(entry)
        if parsed is None:
            return {}, f"entry for {nodeid!r} is not of the expected shape"
        fp, runs, at = parsed
        history[nodeid] = {"fp": fp, "runs": runs[-KEEP:], "at": at}
    return history, None


def _entry(entry: object) -> tuple[str, str, float] | None:
    """``"FINGERPRINT OUTCOMES STAMP"`` as its parts, or None when it is not one."""
    if type(entry) is not str:
        return None
    parts = entry.split(" ")
    if len(parts) != len(FIELDS) or not parts[1] or parts[1].strip("pf"):
        return None
    try:
        at = float(parts[2])
    except ValueError:
        return None
    return (parts[0], parts[1], at) if at >= 0 else None  # NaN is not >= 0


def _entry_v1(entry: object) -> tuple[str, str, float] | None:
    """A version 1 entry (an object of ``fp``, ``runs`` and ``at``) as its parts."""
    if type(entry) is not dict:
        return None
    fp, runs, at = entry.get("fp"), entry.get("runs"), entry.get("at")
    if type(fp) is not str or type(runs) is not str or not runs or runs.strip("pf"):
        return None
    if (type(at) is not float and type(at) is not int) or not at >= 0:
        return None
    return fp, runs, float(at)


def _text(fp: str, runs: str, at: float) -> str:
    return f"{fp} {runs} {at!r}"


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
    get = history.get
    # Only a test with a history can be listed: of this run's tests, those (few: the
    # history given holds what the run needs) that have one.
    tests = ran if isinstance(ran, (set, frozenset, dict)) else set(ran)
    for nodeid in [n for n in history if n in tests]:
        entry = get(nodeid)
        runs = entry["runs"][-WINDOW:] if entry is not None else ""
        rerun = reruns.get(nodeid, 0) if reruns else 0
        # Flips need both outcomes: most tests only ever passed, and are passed over here.
        flaky = "f" in runs and "p" in runs and flips(runs) >= 2
        if flaky or (rerun and runs.endswith("p")):
            found.append(Flaky(nodeid, runs.count("f"), len(runs), rerun))
    return sorted(found, key=lambda f: (-(f.failed + f.reruns), f.nodeid))


def flips(runs: str) -> int:
    """How often the outcome changed from one run to the next."""
    return sum(1 for a, b in itertools.pairwise(runs) if a != b)


def fingerprints(nodeids: Iterable[str], root: Path) -> dict[str, str]:
    """A fingerprint per test: its file and the ``conftest.py`` files above it (to ``root``).

    Paths are handled as strings (``os.path``), each file and folder once.
    """
    base = str(root)
    by_file: dict[str, str] = {}
    folders: dict[str, bytes] = {}

    def conftests(folder: str) -> bytes:  # relative to the root; "" is the root
        known = folders.get(folder)
        if known is None:
            above = conftests(os.path.dirname(folder)) if folder else b""
            known = folders[folder] = above + _read(os.path.join(base, folder, "conftest.py"))
        return known

    result = {}
    prefix = fp = ""  # the file of the test before, "PATH::": the tests of a file come together
    for nodeid in nodeids:
        if not prefix or not nodeid.startswith(prefix):
            end = nodeid.find("::")
            path = nodeid if end < 0 else nodeid[:end]
            prefix = path + "::"
            known = by_file.get(path)
            if known is None:
                digest = hashlib.blake2b(_read(os.path.join(base, path)), digest_size=8)
                digest.update(conftests(os.path.dirname(path)))
                known = by_file[path] = digest.hexdigest()
            fp = known
        result[nodeid] = fp
    return result


def _read(path: str) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return b""
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return b""
    finally:
        os.close(fd)


# --- I/O ------------------------------------------------------------------------------------


def history_path(folder: Path) -> Path:
    """The history file in the plugin's cache folder, or in a whole ``.pytest_cache``."""
    if (folder / "d" / FOLDER).is_dir() or (folder / "v").is_dir():
        return folder / "d" / FOLDER / FILE
    return folder / FILE


def read_history(path: Path) -> tuple[History, str | None]:
    """The history in the file at ``path``: missing is empty; unreadable or corrupt is empty
    with a reason (read as the durations store reads a hostile file)."""
    read = read_json(path)
    if read.problem is not None:
        return {}, read.said_of(str(path))
    return ({}, None) if read.value is None else parse_history(read.value)


def write_history(path: Path, history: History) -> None:
    _write(path, {n: _text(e["fp"], e["runs"], e["at"]) for n, e in history.items()})


def _write(path: Path, tests: Mapping[str, str]) -> None:
    write_atomic(path, compact_json({"version": VERSION}, "tests", tests))


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
    folder: Path,
    outcomes: Mapping[str, str],
    fps: Mapping[str, str],
    keep: Collection[str] = (),
) -> tuple[History, str | None]:
    """Read the history in ``folder``, add this run's outcomes, write it back, all under the
    lock, so two runs at once both keep theirs.

    Returns what :func:`judge_flaky` needs of the new history: the entries of this run's
    tests that hold a failure, and of the tests in ``keep`` (those rerun in this run); and
    what was wrong with the history read, if anything (it is then started afresh). Only the
    entries of this run's tests are parsed; the others are checked to be strings and
    written back as they were.
    """
    path = folder / FILE
    try:
        with _locked(folder / f"{FILE}.lock"):
            tests, problem = _read_for_update(path)
            try:
                found = _add(tests, outcomes, fps, keep)
            except ValueError as exc:
                tests, problem = {}, str(exc)
                found = _add(tests, outcomes, fps, keep)
            _write(path, tests)
    except OSError as exc:
        found = _add({}, outcomes, fps, keep)
        return found, f"could not write {path}: {exc.strerror or exc}"
    return found, problem


def _read_for_update(path: Path) -> tuple[dict[str, str], str | None]:
    """The raw entries of the history file (version 1 converted), and a problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, None
    except OSError as exc:
        return {}, f"could not read {path}: {exc.strerror or exc}"
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return {}, f"{path} is not valid JSON"
    if type(value) is dict and value.get("version") == VERSION:
        tests = value.get("tests")
        if type(tests) is dict and all(type(e) is str for e in tests.values()):
            return tests, None
        return {}, "'tests' is not an object of strings"
    history, problem = parse_history(value)  # an older version: converted once
    return {n: _text(e["fp"], e["runs"], e["at"]) for n, e in history.items()}, problem


def _add(
    tests: dict[str, str],
    outcomes: Mapping[str, str],
    fps: Mapping[str, str],
    keep: Collection[str],
) -> History:
    """Add each outcome to its test's entry in place; raise ValueError on an entry of this
    run's tests whose outcomes are not. Returns the entries :func:`update_history`
    promises.

    Most tests share their entry's text with many others (one fingerprint per file, the
    same outcomes, the stamp of the run that wrote them): the new text of each distinct
    entry, fingerprint and outcome is made once, and every other test costs a few lookups.
    """
    stamp = round(time.time(), 3)
    at = repr(stamp)
    found: History = {}
    get = tests.get
    #: per outcome, per fingerprint: old entry -> (new entry, its outcomes, holds a failure)
    made: dict[str, dict[str, dict[str | None, tuple[str, str, bool]]]] = {"p": {}, "f": {}}
    for nodeid, outcome in outcomes.items():
        fp = fps.get(nodeid, "")
        by_fp = made[outcome]
        known = by_fp.get(fp)
        if known is None:
            known = by_fp[fp] = {}
        entry = get(nodeid)
        done = known.get(entry)
        if done is None:
            runs = _next_runs(nodeid, entry, fp, outcome)
            done = known[entry] = (f"{fp} {runs} {at}", runs, "f" in runs)
        tests[nodeid] = done[0]
        if done[2] or nodeid in keep:
            found[nodeid] = {"fp": fp, "runs": done[1], "at": stamp}
    return found


def _next_runs(nodeid: str, entry: str | None, fp: str, outcome: str) -> str:
    """The outcomes after this one: appended to those of an entry of the same fingerprint
    (checked; the rest of an entry this run replaces is not read), else this one alone."""
    prefix = fp + " "
    if entry is None or not entry.startswith(prefix):
        return outcome
    kept = entry[len(prefix) : entry.find(" ", len(prefix))]
    if not kept or kept.strip("pf"):
        raise ValueError(f"entry for {nodeid!r} is not of the expected shape")
    return (kept + outcome)[-KEEP:]
