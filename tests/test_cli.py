"""``pytest-tempo merge``: inputs of every kind, the output folder, and hostile files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_tempo.cli import main
from pytest_tempo.durations_io import load_file

from .conftest import xdist_params

STORE = ("v", "tempo", "durations")


def write(path: Path, tests: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 1, "tests": tests}))
    return path


def merge_fails(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    assert main(["merge", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("pytest-tempo merge: ")
    assert captured.err.count("\n") == 1
    assert message in captured.err, captured.err


def test_cli_merge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shard1 = write(tmp_path.joinpath("s1", *STORE), {"a": {"call": [1.0]}})
    write(tmp_path.joinpath("s2", *STORE), {"b": {"call": [2.0]}})
    out = tmp_path / "merged.json"
    assert main(["merge", "-o", str(out), str(shard1), str(tmp_path / "s2")]) == 0
    assert "2 tests from 2 stores" in capsys.readouterr().out
    assert load_file(out) == {"a": {"call": [1.0]}, "b": {"call": [2.0]}}
    assert len(out.read_text().splitlines()) == 5  # a file of its own: one test per line
    # A cache folder as the output writes where pytest reads.
    assert main(["merge", "-o", str(tmp_path / "cache"), str(out)]) == 0
    assert load_file(tmp_path / "cache") == load_file(out)
    assert not list(tmp_path.rglob("*.tmp"))


def test_merge_creates_a_cache_folder_pytest_uses(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CI merge job on a fresh checkout: ``-o .pytest_cache`` does not exist yet."""
    pytester.makepyfile(test_a="def test_1(): pass\ndef test_2(): pass\n")
    shard = write(pytester.path / "shards" / "1" / "durations",
                  {"test_a.py::test_1": {"call": [0.5], "at": [1.0]}})  # fmt: skip
    cache = pytester.path / ".pytest_cache"
    assert main(["merge", "-o", str(cache), str(shard)]) == 0
    assert {p.name for p in cache.iterdir()} == {"README.md", ".gitignore", "CACHEDIR.TAG", "v"}
    assert cache.joinpath(".gitignore").read_text().endswith("*\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.OK
    assert "tempo:" not in result.stdout.str()
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    tests = load_file(cache)
    assert tests["test_a.py::test_1"]["call"][0] == 0.5  # the merged entry, and this run's
    assert len(tests["test_a.py::test_1"]["call"]) == 2
    assert set(tests) == {"test_a.py::test_1", "test_a.py::test_2"}


@pytest.mark.parametrize("name", [".pytest_cache", "merged"])
def test_merge_refuses_a_file_where_a_folder_is_meant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    shard = write(tmp_path / "in.json", {"a": {"call": [1.0]}})
    out = write(tmp_path / name, {})  # as an earlier version wrote it
    merge_fails(capsys, ["-o", str(out), str(shard)], f"{out} is a file, not a cache folder")
    assert json.loads(out.read_text()) == {"version": 1, "tests": {}}  # left alone


def test_merge_output_that_cannot_be_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shard = write(tmp_path / "in.json", {"a": {"call": [1.0]}})
    (tmp_path / "file").write_text("")
    merge_fails(capsys, ["-o", str(tmp_path / "file" / "cache"), str(shard)],
                "cannot create the cache folder")  # fmt: skip
    merge_fails(capsys, ["-o", str(tmp_path / "file" / "out.json"), str(shard)], "cannot write")


def test_merge_inputs_of_every_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = write(tmp_path.joinpath("cache", *STORE), {"a": {"call": [1.0], "at": [5.0]}})
    readable = tmp_path / "committed.json"
    assert main(["merge", "-o", str(readable), str(cache)]) == 0
    plain = write(tmp_path / "plain", {"b": {"call": [2.0]}})
    out = tmp_path / "out"
    assert main(["merge", "-o", str(out), str(tmp_path / "cache"), str(readable), str(plain)]) == 0
    assert set(load_file(out)) == {"a", "b"}
    capsys.readouterr()
    merge_fails(capsys, ["-o", str(out), str(tmp_path)], "is a folder without a durations store")
    merge_fails(capsys, ["-o", str(out), str(tmp_path / "missing")], "cannot read")


HOSTILE: dict[str, Any] = {
    "bad-utf8": b'{"version": 1, "tests": {"\xff\xfe": {}}}',
    "deep-nesting": b"[" * 100_000 + b"]" * 100_000,
    "huge-integer": b'{"version": 1, "tests": {"a": {"call": [1' + b"0" * 400 + b"]}}}",
    "thousands-of-digits": b'{"version": 1, "tests": {"a": {"call": [1' + b"0" * 5000 + b"]}}}",
    "infinity": b'{"version": 1, "tests": {"a": {"call": [Infinity]}}}',
    "nan": b'{"version": 1, "tests": {"a": {"call": [NaN]}}}',
    "1e400": b'{"version": 1, "tests": {"a": {"call": [1e400]}}}',
    "negative": b'{"version": 1, "tests": {"a": {"call": [-0.5]}}}',
    "text": b'{"version": 1, "tests": {"a": {"call": ["fast"]}}}',
    "wrong-shape": b'{"version": 1, "tests": [1, 2]}',
    "not-json": b"{",
    "empty": b"",
}


@pytest.mark.parametrize("content", HOSTILE.values(), ids=HOSTILE.keys())
def test_merge_hostile_inputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    path = tmp_path / "store"
    path.write_bytes(content)
    merge_fails(capsys, ["-o", str(tmp_path / "out"), str(path)], f"{path} ")
    assert not (tmp_path / "out").exists()  # nothing created before the inputs are read


def test_merge_refuses_a_huge_file_without_reading_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "store"
    with path.open("wb") as f:
        f.truncate(2**30)  # sparse: a gigabyte that takes no disk
    merge_fails(capsys, ["-o", str(tmp_path / "out"), str(path)], "it is 1.0 GiB, over the")


def test_cli_is_installed() -> None:
    script = Path(sys.executable).with_name("pytest-tempo")
    result = subprocess.run(
        [str(script), "merge", "--help"], check=True, capture_output=True, text=True
    )
    assert "usage: pytest-tempo merge [-h] -o OUT [--verify] IN [IN ...]" in result.stdout


@xdist_params
def test_merged_store_of_a_fresh_checkout_orders_the_next_run(
    pytester: pytest.Pytester, xdist_args: list[str]
) -> None:
    pytester.makepyfile(test_a="def test_1(): pass\ndef test_2(): pass\n")
    entry = {"call": [9.0], "setup": [0.0], "teardown": [0.0]}
    shard = write(pytester.path / "in.json", {"test_a.py::test_1": entry})
    assert main(["merge", "-o", str(pytester.path / ".pytest_cache"), str(shard)]) == 0
    result = pytester.runpytest("--tempo-order=durations", "-v", "-p", "no:randomly", *xdist_args)
    assert result.ret == pytest.ExitCode.OK
    if not xdist_args:  # fastest first: the recorded 9 s test last
        result.stdout.fnmatch_lines(["test_a.py::test_2 PASSED", "test_a.py::test_1 PASSED"])
