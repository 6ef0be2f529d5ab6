"""What pytest's cached rewritten modules cost to read: ``marshal.load`` on the open file, as
pytest's assertion rewriting reads them (``_read_pyc``), against reading each file whole
and unmarshalling the bytes.

    python benchmarks/rewrite_import.py   # after a pytest run has cached the plugin's modules

Reads every ``*-pytest-*.pyc`` under ``src/pytest_tempo``; the fastest of 5 rounds of each.
"""

from __future__ import annotations

import functools
import marshal
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "src" / "pytest_tempo"
HEADER = 16  # magic, flags, source hash: what _read_pyc checks before unmarshalling


def by_file(files: list[Path]) -> None:
    for path in files:
        with path.open("rb") as fp:
            fp.read(HEADER)
            marshal.load(fp)


def by_bytes(files: list[Path]) -> None:
    for path in files:
        marshal.loads(memoryview(path.read_bytes())[HEADER:])


def main() -> None:
    files = sorted(ROOT.rglob("__pycache__/*-pytest-*.pyc"))
    if not files:
        raise SystemExit("no cached rewritten modules: run pytest once first")
    times = {}
    for read in (by_file, by_bytes):
        rounds = timeit.repeat(functools.partial(read, files), number=5, repeat=5)
        times[read.__name__] = min(rounds) / 5
    print(f"{len(files)} modules")
    for name, seconds in times.items():
        print(f"{name:9} {seconds * 1000:7.1f} ms")
    ratio = times["by_file"] / times["by_bytes"]
    print(f"marshal.load on the file / marshal.loads of the bytes: {ratio:.1f}")


if __name__ == "__main__":
    main()
