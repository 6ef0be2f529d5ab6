"""The durations store through real runs: nothing lost, hostile contents, filtered runs.

Every run here has pytest's cache on (pytester's default), serial and under ``-n 2``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import pytest

from pytest_tempo.advice.flaky import read_history
from pytest_tempo.durations import Measured
from pytest_tempo.durations_io import Location, load_file, open_store
from pytest_tempo.durations_record import Lock, Recorder
from pytest_tempo.jsonfile import read_json
from pytest_tempo.load.baseline import read_file as read_baselines

from .conftest import read_store, xdist_params

if TYPE_CHECKING:
    from pathlib import Path

STORE = (".pytest_cache", "v", "tempo", "durations")
JOURNALS = (".pytest_cache", "d", "tempo-durations")
SHOWN = "/".join(STORE)


def store_of(pytester: pytest.Pytester) -> dict[str, Any]:
    return read_store(pytester.path.joinpath(*STORE))


def seed(pytester: pytest.Pytester, content: bytes | dict[str, Any]) -> None:
    path = pytester.path.joinpath(*STORE)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, dict):
        content = json.dumps({"version": 1, "tests": content}).encode()
    path.write_bytes(content)


def store_lines(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if line.startswith("tempo:") and "store" in line]


def no_traceback(result: pytest.RunResult) -> None:
    text = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in text
    assert "INTERNALERROR" not in text
    assert "Error" not in text.replace("PytestCacheWarning", "")


# --- hostile contents ---------------------------------------------------------------------

GOOD = {"test_a.py::test_1": {"call": [0.25], "at": [1.0]}}
BAD_VALUES = (
    '{"version": 1, "tests": {"test_a.py::test_1": {"call": [0.25], "at": [1.0]}, '
    f'"b0": {{"call": [1{"0" * 400}]}}, "b1": {{"call": [Infinity]}}, "b2": {{"call": [NaN]}}, '
    '"b3": {"call": [1e400]}, "b4": {"call": [-1]}, "b5": {"call": ["fast"]}, '
    '"b6": [0.1], "b7": {"call": [0.1], "at": [Infinity]}, "b8": {"marks": [{}]}}}'
).encode()
HOSTILE = {
    "bad-utf8": (b'{"version": 1, "tests": {"\xff": {}}}', "was unusable (it is not UTF-8 text*"),
    "deep-nesting": (b"[" * 100_000 + b"]" * 100_000, "was unusable (it is nested too deeply*"),
    "truncated": (b'{"version": 1, "tests": {"a": {"ca', "was unusable (it is not valid JSON*"),
    "list": (b"[1, 2, 3]", "was unusable (expected an object, found list)*"),
    "wrong-shape": (b'{"version": 1, "tests": [1]}', "was unusable ('tests' is not an object)*"),
    "bad-values": (BAD_VALUES, "had bad entries (9 bad entries, the first: entry for 'b0' has "
                   "values that are not seconds); dropped them"),
    "huge-file": (None, "was unusable (it is 1.0 GiB, over the 128 MiB a store may have)*"),
}  # fmt: skip


@pytest.mark.parametrize(("content", "line"), HOSTILE.values(), ids=HOSTILE.keys())
@xdist_params
def test_hostile_store_one_line_then_clean(
    pytester: pytest.Pytester, xdist_args: list[str], content: bytes | None, line: str
) -> None:
    pytester.makepyfile(test_a="def test_1(): pass\n")
    if content is None:
        seed(pytester, b"")
        with pytester.path.joinpath(*STORE).open("r+b") as f:
            f.truncate(2**30)  # sparse: a gigabyte that takes no disk
    else:
        seed(pytester, content)
    result = pytester.runpytest(*xdist_args)
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1)
    no_traceback(result)
    lines = store_lines(result)
    assert len(lines) == 1, lines
    result.stdout.fnmatch_lines([f"tempo: the durations store {SHOWN} {line}"])
    calls = store_of(pytester)["tests"]["test_a.py::test_1"]["call"]
    assert calls[:-1] == ([0.25] if content == BAD_VALUES else [])  # the good entry kept
    assert set(store_of(pytester)["tests"]) == {"test_a.py::test_1"}
    again = pytester.runpytest()
    assert again.ret == pytest.ExitCode.OK
    assert store_lines(again) == []


#: Files that are not JSON one can use, and the reason each reader gives for them.
HOSTILE_JSON = {
    "bad-utf8": (b'{"\xff": 1}', "is not UTF-8 text (byte 2)"),
    "deep-nesting": (b"[" * 100_000 + b"]" * 100_000, "is nested too deeply to be read"),
    "truncated": (b'{"a": [1', "is not valid JSON"),
    "huge-integer": (b"[1" + b"0" * 5000 + b"]", "is not valid JSON"),
    "folder": (None, "is a folder"),
}


@pytest.mark.parametrize(("content", "reason"), HOSTILE_JSON.values(), ids=HOSTILE_JSON.keys())
def test_hostile_json_files_are_one_reason_for_every_reader(
    tmp_path: Path, content: bytes | None, reason: str
) -> None:
    """The outcome history and the load baselines read a file as the durations store does:
    empty, with one line naming the file and what is wrong, never an exception."""
    path = tmp_path / "file.json"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    read = read_json(path)
    assert (read.value, read.said_of("F")) == (None, f"F {reason}")
    assert read_history(path) == ({}, f"{path} {reason}")
    assert read_baselines(path) == ({}, f"{path} {reason}; it is ignored and rewritten")


def test_a_missing_json_file_is_empty_without_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"
    assert read_json(path) == (None, None, "")
    assert read_history(path) == ({}, None)
    assert read_baselines(path) == ({}, None)


def test_invalid_json_says_where(tmp_path: Path) -> None:
    path = tmp_path / "file.json"
    path.write_text('{"a": 1,\n "b"}')
    read = read_json(path)
    assert read.reason == "it is not valid JSON (line 2, column 5)"
    location = Location.of_file(path)
    assert open_store(location)[0].problem == "it is not valid JSON (line 2, column 5)"


@xdist_params
def test_cache_folder_is_a_file(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    """What an earlier ``pytest-tempo merge -o .pytest_cache`` left: one line, exit code 0."""
    pytester.makepyfile(test_a="def test_1(): pass\n")
    pytester.path.joinpath(".pytest_cache").write_text('{"version": 1, "tests": {}}')
    # In a process of its own: pytest's cache warns about the file too, after the warnings
    # plugin stopped catching, which the outer run's filterwarnings = error would raise.
    result = pytester.runpytest_subprocess(*xdist_args)
    assert result.ret == pytest.ExitCode.OK
    no_traceback(result)
    assert store_lines(result) == [
        f"tempo: could not write the durations store {SHOWN}: Not a directory"
    ]


def test_store_path_is_a_folder(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a="def test_1(): pass\n")
    pytester.path.joinpath(*STORE).mkdir(parents=True)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.OK
    no_traceback(result)
    result.stdout.fnmatch_lines(
        [
            f"tempo: the durations store {SHOWN} was unusable (it is a folder)*",
            f"tempo: could not write the durations store {SHOWN}: *",
        ]
    )


# --- filtered runs never prune ------------------------------------------------------------

SUITE = """
import pytest

@pytest.mark.parametrize("i", range(20))
def test_n(i): pass
"""
GONE = {"test_gone.py::test_x": {"call": [1.0], "at": [1.0]}}
DESELECT = """
def pytest_collection_modifyitems(config, items):
    config.hook.pytest_deselected(items=items[10:])
    items[:] = items[:10]
"""
DROP = """
def pytest_collection_modifyitems(items):
    items[:] = items[:10]
"""
FILTERS = {
    "plugin-deselects": (DESELECT, []),
    "plugin-drops-silently": (DROP, []),
    "shard": ("", ["--shard=1/2"]),
    "keyword": ("", ["-k", "test_n and 1"]),
    "collection-error": ("", ["--continue-on-collection-errors"]),
}


@pytest.mark.parametrize(("conftest", "args"), FILTERS.values(), ids=FILTERS.keys())
@xdist_params
def test_filtered_run_keeps_every_entry(
    pytester: pytest.Pytester, xdist_args: list[str], conftest: str, args: list[str]
) -> None:
    pytester.makepyfile(test_many=SUITE)
    if conftest:
        pytester.makeconftest(conftest)
    if args == ["--continue-on-collection-errors"]:
        pytester.makepyfile(test_broken="raise ImportError('no such module')\n")
    seed(pytester, GONE)
    result = pytester.runpytest(*args, *xdist_args)
    assert result.parseoutcomes()["passed"] < 20 or "errors" in result.parseoutcomes()
    tests = store_of(pytester)["tests"]
    assert "test_gone.py::test_x" in tests
    assert tests["test_gone.py::test_x"]["call"] == [1.0]


@xdist_params
def test_full_run_prunes_gone_tests(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    pytester.makepyfile(test_many=SUITE)
    seed(pytester, GONE)
    pytester.runpytest(*xdist_args).assert_outcomes(passed=20)
    assert len(store_of(pytester)["tests"]) == 20


# --- load tests under a profile -----------------------------------------------------------


@xdist_params
def test_load_profile_runs_do_not_record_load_tests(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    pytester.makepyfile(test_a="def test_load(load_test): pass\ndef test_plain(): pass\n")
    seed(pytester, {"test_a.py::test_load": {"call": [0.01], "at": [1.0]}})
    result = pytester.runpytest("--load-profile=smoke", *xdist_args)
    assert result.ret in (pytest.ExitCode.OK,)
    tests = store_of(pytester)["tests"]
    assert tests["test_a.py::test_load"] == {"call": [0.01], "at": [1.0]}  # untouched
    assert len(tests["test_a.py::test_plain"]["call"]) == 1


# --- a committable store: durations_path ---------------------------------------------------


@xdist_params
def test_durations_path_file(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    pytester.makeini("[pytest]\nconsole_output_style = classic\ndurations_path = ci/d.json\n")
    pytester.makepyfile(test_b="def test_2(): pass\n", test_a="def test_1(): pass\n")
    pytester.runpytest(*xdist_args).assert_outcomes(passed=2)
    path = pytester.path / "ci" / "d.json"
    lines = path.read_text().splitlines()
    assert lines[2].startswith('"test_a.py::test_1": "1')  # the stamp first
    assert lines[3].startswith('"test_b.py::test_2": "1')
    assert len(lines) == 5
    assert not pytester.path.joinpath(*STORE).exists()
    journals = pytester.path / "ci" / "d.json.journal"
    assert {p.name for p in journals.iterdir()} == {".gitignore", "lock"}
    # Without pytest's cache the file is still read and written.
    pytester.runpytest("-p", "no:cacheprovider", *xdist_args).assert_outcomes(passed=2)
    assert len(load_file(path)["test_a.py::test_1"]["call"]) == 2


def test_durations_path_flag(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a="def test_1(): pass\n")
    pytester.runpytest("--durations-path=d.json").assert_outcomes(passed=1)
    assert set(load_file(pytester.path / "d.json")) == {"test_a.py::test_1"}


# --- killed and concurrent runs -------------------------------------------------------------


def complete_lines(folder: Path) -> int:
    return sum(p.read_bytes().count(b"\n") for p in folder.glob("*.jsonl"))


def wait_for(condition: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


HANGS = """
import os, pathlib, time, pytest

@pytest.mark.parametrize("i", range(30))
def test_fast(i): pass

def test_zz_hangs():
    if os.environ.get("TEMPO_HANG"):
        pathlib.Path("hanging").write_text("")
        time.sleep(120)
"""


@xdist_params
@pytest.mark.slow
def test_killed_run_keeps_what_it_measured(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    """SIGKILL to the whole process group: the next run folds the dead run's journal."""
    pytester.makepyfile(test_a=HANGS)
    journals = pytester.path.joinpath(*JOURNALS)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", *xdist_args],
        cwd=pytester.path,
        env={**os.environ, "TEMPO_HANG": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(
            lambda: pytester.path.joinpath("hanging").exists() and complete_lines(journals) >= 30
        )
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert not pytester.path.joinpath(*STORE).exists()  # the killed run never wrote the store
    pytester.runpytest(*xdist_args).assert_outcomes(passed=31)
    tests = store_of(pytester)["tests"]
    assert {len(tests[f"test_a.py::test_fast[{i}]"]["call"]) for i in range(30)} == {2}
    assert len(tests["test_a.py::test_zz_hangs"]["call"]) == 1
    assert not list(journals.glob("*.jsonl"))


BARRIER = """
import os, pathlib, time

def pytest_sessionstart(session):
    # Both runs have read the store before either writes it.
    if os.environ.get("PYTEST_XDIST_WORKER") or not os.environ.get("TEMPO_BARRIER"):
        return
    folder = pathlib.Path(os.environ["TEMPO_BARRIER"])
    folder.joinpath(str(os.getpid())).write_text("")
    deadline = time.monotonic() + 60
    while len(list(folder.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
"""


@pytest.mark.slow
def test_concurrent_runs_keep_every_sample(pytester: pytest.Pytester) -> None:
    """Two runs of a 200-test suite at once in one folder, three rounds (one serial, one
    under ``-n 2``): 2 + 2 + 1 samples per test, every one kept."""
    body = "import pytest\n@pytest.mark.parametrize('i', range(100))\ndef test_n(i): pass\n"
    pytester.makepyfile(test_one=body, test_two=body)
    pytester.makeconftest(BARRIER)
    rounds = [([], []), ([], []), (["test_one.py"], ["test_two.py"])]
    for number, (first, second) in enumerate(rounds):
        barrier = pytester.path / f"barrier-{number}"
        barrier.mkdir()
        env = {**os.environ, "TEMPO_BARRIER": str(barrier)}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly"]
        procs = [
            subprocess.Popen([*command, *first], cwd=pytester.path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT),
            subprocess.Popen([*command, "-n", "2", *second], cwd=pytester.path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT),
        ]  # fmt: skip
        for proc in procs:
            out, _ = proc.communicate(timeout=120)
            assert proc.returncode == 0, out.decode()
            assert b"tempo:" not in out, out.decode()
    tests = store_of(pytester)["tests"]
    assert len(tests) == 200
    kept = sum(len(entry["call"]) for entry in tests.values())
    assert kept == 200 * 5  # 1,000 of 1,000 samples
    assert all(len(e["setup"]) == len(e["teardown"]) == 5 for e in tests.values())
    assert len(store_of(pytester)["folded"]) == 6
    # The outcome history is updated by both runs at once too (under its own lock, written
    # a slice of tests at a time): every run's outcome of every test is kept.
    history, problem = read_history(pytester.path / ".pytest_cache/d/tempo-outcomes/history.json")
    assert problem is None
    assert len(history) == 200
    assert all(entry["runs"] == "ppppp" for entry in history.values())


# --- the lock and the journals, without pytest ---------------------------------------------


def measured(call: float) -> Measured:
    return Measured(call=call, phases={"setup", "call", "teardown"}, at=100.0)


@pytest.mark.parametrize("posix", [True, False], ids=["flock", "lock-file"])
def test_locked_store_keeps_the_run_in_its_journal(tmp_path: Path, posix: bool) -> None:
    location = Location.of_file(tmp_path / "store.json")
    location.prepare()
    holder = Lock(location.journals / "lock", posix)
    assert holder.acquire(1)
    first = Recorder(location, lock_timeout=0.05, posix=posix)
    first.add("t::a", measured(1.0))
    problems = first.finish({"t::a": measured(1.0), "t::b": measured(2.0)}, None)
    assert len(problems) == 1
    assert "stayed locked by another run" in problems[0]
    assert first.journal.exists()
    assert not location.path.exists()
    holder.release()
    if not posix:  # without flock, a journal counts as abandoned once it is old
        os.utime(first.journal, (1.0, 1.0))
    assert Recorder(location, posix=posix).finish({"t::c": measured(3.0)}, None) == []
    store = open_store(location)[0].store
    assert store["t::a"]["call"] == [1.0]  # from the journal (t::b never finished a teardown)
    assert set(store) == {"t::a", "t::c"}
    assert not first.journal.exists()


def test_a_live_runs_journal_is_left_to_it(tmp_path: Path) -> None:
    location = Location.of_file(tmp_path / "store.json")
    live = Recorder(location)
    live.add("t::live", measured(1.0))
    live.flush()  # the journal exists, and this recorder holds its lock
    assert Recorder(location).finish({"t::other": measured(2.0)}, None) == []
    assert set(open_store(location)[0].store) == {"t::other"}
    assert live.finish({"t::live": measured(1.0)}, None) == []
    store = open_store(location)[0].store
    assert store["t::live"]["call"] == [1.0]  # once: from memory, not again from the journal


def test_a_journal_is_never_folded_twice(tmp_path: Path) -> None:
    """A run that died after renaming the store, before deleting its journal."""
    location = Location.of_file(tmp_path / "store.json")
    location.prepare()
    journal = location.journals / "42-abc.jsonl"
    journal.write_text(json.dumps(["t::a", 100.0, 0.0, 1.0, 0.0, 0.0, []]) + "\n")
    location.path.write_text(json.dumps({"version": 1, "folded": ["42-abc"], "tests": {
        "t::a": {"call": [1.0], "at": [100.0]}}}))  # fmt: skip
    assert Recorder(location).finish({}, None) == []
    assert open_store(location)[0].store["t::a"]["call"] == [1.0]
    assert not journal.exists()


def test_a_run_that_measured_nothing_leaves_the_store_alone(tmp_path: Path) -> None:
    """--collect-only, or no test ran: no lock, no rewrite, unless there is something to do."""
    location = Location.of_file(tmp_path / "store.json")
    assert Recorder(location, open_store(location)).finish({}, None) == []
    assert not location.path.exists()
    location.prepare()
    location.path.write_text(json.dumps({"version": 1, "tests": {"t::a": {"call": [1.0]}}}))
    before = location.path.stat().st_mtime_ns, location.path.read_text()
    assert Recorder(location, open_store(location)).finish({}, ["t::a"]) == []
    assert (location.path.stat().st_mtime_ns, location.path.read_text()) == before
    # A full collection without t::a: the entry of a test that is gone is pruned.
    assert Recorder(location, open_store(location)).finish({}, ["t::b"]) == []
    assert "t::a" not in open_store(location)[0].store
