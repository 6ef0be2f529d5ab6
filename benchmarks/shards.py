"""Shard benchmark: how many tests a 1 ms change moves, and how even the shards are.

Run by hand from the repository root::

    python benchmarks/shards.py                 # both tables, 10 generated suites
    python benchmarks/shards.py --suites 3      # quicker

The suites are generated shaped like real ones: 5,000 tests in modules, classes and
parametrized functions; 20 to 65% of the functions record near zero (a few to a hundred
microseconds), durations are alike within a function and a module, the slowest 1% of tests
carry 55 to 75% of the time and the longest test 1 to 12% of it.

Compared with pytest-split's ``least_duration`` rule (every test longest first to the least
loaded group; an unrecorded test counts the mean of the recorded ones), written out here as
pytest-split 0.10 does it.

* **Moved by 1 ms**: one test, drawn at random, records 1 ms more; both splits are computed
  before and after; counted are the tests whose shard changed (N = 4, 200 draws per suite).
* **Balance**: the largest shard's true seconds over the mean shard's, at N = 2, 4 and 8,
  with every test recorded and with 30% of the tests (drawn at random) unrecorded.
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pytest_tempo.shards import Basis  # noqa: E402


def generate(seed: int, tests: int = 5000) -> dict[str, float]:
    """Node id -> true seconds, shaped like a real suite (see the module docstring)."""
    rng = random.Random(seed)
    zero_share = rng.uniform(0.2, 0.65)
    durations: dict[str, float] = {}
    module = 0
    while len(durations) < tests:
        module += 1
        scale = rng.lognormvariate(-5.0, 1.2)
        klass = f"::TestC{module}" if rng.random() < 0.3 else ""
        for function in range(rng.randint(3, 25)):
            fast = rng.random() < zero_share
            base = scale * rng.lognormvariate(0, 1.0)
            params = rng.choice([1, 1, 1, 2, 3, 5, 10, 20])
            for p in range(params):
                if len(durations) >= tests:
                    break
                name = f"tests/test_m{module}.py{klass}::test_f{function}"
                if params > 1:
                    name += f"[p{p}]"
                if fast:
                    durations[name] = rng.uniform(3e-6, 1e-4)
                else:
                    durations[name] = base * rng.lognormvariate(0, 0.3)
    # The slowest 1% carry a share of 55 to 75% of the time; the longest at most 12%.
    ordered = sorted(durations, key=durations.__getitem__, reverse=True)
    top = ordered[: max(len(ordered) // 100, 1)]
    rest = sum(durations[n] for n in ordered[len(top) :])
    share = rng.uniform(0.55, 0.75)
    factor = share / (1 - share) * rest / sum(durations[n] for n in top)
    for name in top:
        durations[name] *= factor
    total = sum(durations.values())
    longest = rng.uniform(0.01, 0.12) * total
    durations[top[0]] = max(durations[top[0]], longest)
    for name in top[1:]:
        durations[name] = min(durations[name], durations[top[0]])
    return durations


def pytest_split(tests: list[str], recorded: dict[str, float], count: int) -> list[int]:
    """pytest-split's least_duration: longest first to the least loaded group."""
    known = [recorded[t] for t in tests if t in recorded]
    mean = sum(known) / len(known) if known else 1.0
    items = sorted(((t, recorded.get(t, mean), i) for i, t in enumerate(tests)), key=lambda x: x[0])
    items.sort(key=lambda x: x[1], reverse=True)
    heap = [(0.0, g) for g in range(count)]
    group = [0] * len(tests)
    for _, seconds, index in items:
        load, g = heapq.heappop(heap)
        group[index] = g
        heapq.heappush(heap, (load + seconds, g))
    return group


def tempo_split(tests: list[str], recorded: dict[str, float], count: int) -> list[int]:
    basis = Basis.of(tests, recorded)
    assert list(basis.tests) == tests
    return basis.shards(count)


RULES = {"pytest-tempo": tempo_split, "pytest-split": pytest_split}


def balance(tests: list[str], true: dict[str, float], group: list[int], count: int) -> float:
    loads = [0.0] * count
    for t, g in zip(tests, group, strict=True):
        loads[g] += true[t]
    return max(loads) / (sum(loads) / count)


def moved(before: list[int], after: list[int]) -> int:
    return sum(a != b for a, b in zip(before, after, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", type=int, default=10)
    parser.add_argument("--draws", type=int, default=200)
    args = parser.parse_args()
    moves: dict[str, list[int]] = {r: [] for r in RULES}
    cells: dict[tuple[str, int, str], list[float]] = {}
    for seed in range(args.suites):
        true = generate(seed)
        tests = sorted(true)
        rng = random.Random(1000 + seed)
        for rule, fn in RULES.items():
            base = fn(tests, true, 4)
            for _ in range(args.draws):
                changed = rng.choice(tests)
                recorded = dict(true)
                recorded[changed] += 0.001
                moves[rule].append(moved(base, fn(tests, recorded, 4)))
        partial = {t: d for t, d in true.items() if rng.random() >= 0.3}
        for data, recorded in (("complete", true), ("30% unrecorded", partial)):
            for count in (2, 4, 8):
                for rule, fn in RULES.items():
                    value = balance(tests, true, fn(tests, recorded, count), count)
                    cells.setdefault((data, count, rule), []).append(value)
    draws = args.suites * args.draws
    print(f"Tests moved by a 1 ms change of one test, N = 4, 5,000 tests ({draws} draws)\n")
    print("| rule | mean | median | 90th pct | 99th pct | max | draws moving none |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for rule, values in moves.items():
        ordered = sorted(values)
        pct = [ordered[int(q * (len(ordered) - 1))] for q in (0.5, 0.9, 0.99)]
        none = sum(v == 0 for v in values) / len(values)
        print(
            f"| {rule} | {statistics.mean(values):.1f} | {pct[0]} | {pct[1]} | {pct[2]} "
            f"| {max(values)} | {none:.0%} |"
        )
    print(f"\nLargest shard / mean, {args.suites} suites: mean (worst)\n")
    print("| data | N | pytest-tempo | pytest-split |")
    print("|---|---:|---:|---:|")
    for data in ("complete", "30% unrecorded"):
        for count in (2, 4, 8):
            row = [
                f"{statistics.mean(v):.3f} ({max(v):.3f})"
                for v in (cells[(data, count, rule)] for rule in RULES)
            ]
            print(f"| {data} | {count} | {' | '.join(row)} |")
    held = sum(
        a <= max(1.15, b) + 1e-9
        for count in (2, 4, 8)
        for a, b in zip(
            cells[("30% unrecorded", count, "pytest-tempo")],
            cells[("30% unrecorded", count, "pytest-split")],
            strict=True,
        )
    )
    print(
        f"\n30% unrecorded: pytest-tempo at most max(1.15, pytest-split) in {held} of "
        f"{3 * args.suites} cases"
    )


if __name__ == "__main__":
    main()
