"""Shard benchmark: how many tests a 1 ms change moves, and how even the shards are.

Run by hand from the repository root::

    python benchmarks/shards.py                 # both tables, 10 generated suites
    python benchmarks/shards.py --suites 3      # quicker
    python benchmarks/shards.py --suites 20 --draws 100 --spread-draws 100 --write
    python benchmarks/shards.py --suites 20 --seed-offset 20      # another 20 suites

The suites are generated shaped like real ones: 5,000 tests in modules, classes and
parametrized functions; 20 to 65% of the functions record near zero (a few to a hundred
microseconds), durations are alike within a function and a module, the slowest 1% of tests
carry 55 to 75% of the time and the longest test 1 to 12% of it.

Compared with pytest-split's ``least_duration`` rule (every test longest first to the least
loaded group; an unrecorded test counts the mean of the recorded ones), written out here as
pytest-split 0.10 does it.

* **Moved by 1 ms**: one test, drawn at random, records 1 ms more; both splits are computed
  before and after; counted are the tests whose shard changed (N = 4, 200 draws per suite),
  with every test recorded and with 30% unrecorded (a recorded test changes).
* **Balance**: the largest shard's true seconds over the mean shard's, at N = 2, 4 and 8,
  with every test recorded and with 30% of the tests (drawn at random) unrecorded. The
  rule: with 30% unrecorded, the largest shard at most 1.15 times the mean, or no worse
  than pytest-split's on the same data, whichever is larger; printed PASS or FAIL per case
  and per N (mean over the suites), with the cases that break it.
* **Expected balance**: which tests go unrecorded is luck, and so is whether one of the few
  long ones lands on an already full shard. Per suite, the mean ratio over
  ``--spread-draws`` draws of the 30% unrecorded (the first is the draw above), both rules,
  and how often each holds the rule against the other over all draws.
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


SHARDS = Path(__file__).with_name("scheduling") / "SHARDS.md"
COUNTS = (2, 4, 8)
DATA = ("complete", "30% unrecorded")
#: The rule: the largest shard at most this over the mean shard, or no worse than
#: pytest-split's on the same data, whichever is larger.
EVEN = 1.15


def moves_table(moves: dict[tuple[str, str], list[int]], draws: int) -> list[str]:
    lines = [
        f"Tests moved by a 1 ms change of one test, N = 4, 5,000 tests ({draws} draws)",
        "",
        "| data | rule | mean | median | 90th pct | 99th pct | max | draws moving none |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for (data, rule), values in moves.items():
        ordered = sorted(values)
        pct = [ordered[int(q * (len(ordered) - 1))] for q in (0.5, 0.9, 0.99)]
        none = sum(v == 0 for v in values) / len(values)
        lines.append(
            f"| {data} | {rule} | {statistics.mean(values):.1f} | {pct[0]} | {pct[1]} "
            f"| {pct[2]} | {max(values)} | {none:.0%} |"
        )
    return [*lines, ""]


def balance_table(cells: dict[tuple[str, int, str], list[float]], suites: int) -> list[str]:
    lines = [
        f"Largest shard / mean shard (true seconds), {suites} suites: mean (worst)",
        "",
        "| data | N | pytest-tempo | pytest-split |",
        "|---|---:|---:|---:|",
    ]
    for data in DATA:
        for count in COUNTS:
            row = [
                f"{statistics.mean(v):.3f} ({max(v):.3f})"
                for v in (cells[(data, count, rule)] for rule in RULES)
            ]
            lines.append(f"| {data} | {count} | {' | '.join(row)} |")
    return [*lines, ""]


def verdicts(cells: dict[tuple[str, int, str], list[float]], seeds: range) -> list[str]:
    """Per case and per N (mean over the suites): within max(1.15, pytest-split)."""
    cases = [
        (count, seed, a, b)
        for count in COUNTS
        for seed, (a, b) in zip(
            seeds,
            zip(
                cells[("30% unrecorded", count, "pytest-tempo")],
                cells[("30% unrecorded", count, "pytest-split")],
                strict=True,
            ),
            strict=True,
        )
    ]
    kept = [c for c in cases if held(c[2], c[3])]
    mirror = sum(held(b, a) for _, _, a, b in cases)
    means = [
        statistics.mean(cells[("30% unrecorded", count, "pytest-tempo")])
        <= max(EVEN, statistics.mean(cells[("30% unrecorded", count, "pytest-split")])) + 1e-9
        for count in COUNTS
    ]
    lines = [
        f"- {'PASS' if len(kept) == len(cases) else 'FAIL'}: 30% unrecorded, every suite and "
        f"N: largest shard <= max({EVEN}, pytest-split's) in {len(kept)} of {len(cases)} cases "
        f"(pytest-split <= max({EVEN}, pytest-tempo's) in {mirror})",
    ]
    lines.extend(
        f"  - suite {seed}, N = {count}: pytest-tempo {a:.3f}, pytest-split {b:.3f}"
        for count, seed, a, b in cases
        if (count, seed, a, b) not in kept
    )
    lines.append(
        f"- {'PASS' if all(means) else 'FAIL'}: 30% unrecorded, mean over the {len(seeds)} suites "
        f"per N: <= max({EVEN}, pytest-split's) at {sum(means)} of {len(COUNTS)} N"
    )
    return [*lines, ""]


def held(a: float, b: float) -> bool:
    """``a`` within the rule against ``b``: at most max(EVEN, b)."""
    return a <= max(EVEN, b) + 1e-9


def draw_unrecorded(true: dict[str, float], seed: int, draw: int) -> dict[str, float]:
    """The recorded part of ``true`` after the 30% unrecorded of one draw (0: the main one)."""
    rng = random.Random(5000 + seed + 100_000 * draw)
    return {t: d for t, d in true.items() if rng.random() >= 0.3}


#: (seed, N, rule) -> the ratios of every draw
Expected = dict[tuple[int, int, str], list[float]]


def expected_table(expected: Expected, seeds: range, draws: int) -> list[str]:
    """Per suite and N: the mean ratio over the draws, and the rule per draw and on means."""
    head = " | ".join(f"N = {c}: tempo / split" for c in COUNTS)
    lines = [
        f"Expected largest shard / mean shard, 30% unrecorded, mean of {draws} draws per suite",
        "",
        f"| suite | {head} |",
        "|---:|" + "---:|" * len(COUNTS),
    ]
    means: dict[tuple[int, int, str], float] = {k: statistics.mean(v) for k, v in expected.items()}
    for seed in seeds:
        row = [
            f"{means[(seed, c, 'pytest-tempo')]:.3f} / {means[(seed, c, 'pytest-split')]:.3f}"
            for c in COUNTS
        ]
        lines.append(f"| {seed} | {' | '.join(row)} |")
    lines.append("")
    for count in COUNTS:
        pairs = [
            pair
            for seed in seeds
            for pair in zip(
                expected[(seed, count, "pytest-tempo")],
                expected[(seed, count, "pytest-split")],
                strict=True,
            )
        ]
        on_means = [
            (means[(s, count, "pytest-tempo")], means[(s, count, "pytest-split")]) for s in seeds
        ]
        lines.append(
            f"- N = {count}: per draw, pytest-tempo <= max({EVEN}, pytest-split's) in "
            f"{sum(held(a, b) for a, b in pairs)} of {len(pairs)} (pytest-split <= "
            f"max({EVEN}, pytest-tempo's) in {sum(held(b, a) for a, b in pairs)}); on the "
            f"means per suite in {sum(held(a, b) for a, b in on_means)} of {len(on_means)} "
            f"(the other way round in {sum(held(b, a) for a, b in on_means)})"
        )
    return [*lines, "", *expected_verdict(expected, seeds), ""]


def expected_verdict(expected: Expected, seeds: range) -> list[str]:
    """The rule on each suite's expected balance, the luck of the draws allowed for.

    A suite and N holds when pytest-tempo's mean ratio is within max(1.15, pytest-split's
    mean), or when it is over it by less than twice the standard error of the mean paired
    difference (the draws are the same for both rules): no worse, as far as the draws can
    tell. Printed FAIL when any case is over by more.
    """
    cases = []
    for count in COUNTS:
        for seed in seeds:
            tempo, split = (
                expected[(seed, count, "pytest-tempo")],
                expected[(seed, count, "pytest-split")],
            )
            diffs = [a - b for a, b in zip(tempo, split, strict=True)]
            error = statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) > 1 else 0.0
            a, b = statistics.mean(tempo), statistics.mean(split)
            cases.append((count, seed, a, b, statistics.mean(diffs), error))
    outright = [c for c in cases if held(c[2], c[3])]
    noise = [c for c in cases if not held(c[2], c[3]) and c[4] < 2 * c[5]]
    worse = len(cases) - len(outright) - len(noise)
    lines = [
        f"- {'PASS' if not worse else 'FAIL'}: 30% unrecorded, expected balance per suite and N:"
        f" <= max({EVEN}, pytest-split's) in {len(outright)} of {len(cases)} cases, over it by"
        f" less than twice the standard error of the paired difference in {len(noise)},"
        f" over it by more in {worse}",
    ]
    lines.extend(
        f"  - suite {seed}, N = {count}: pytest-tempo {a:.3f}, pytest-split {b:.3f}, "
        f"difference {diff:+.4f} +/- {error:.4f}"
        for count, seed, a, b, diff, error in cases
        if not held(a, b)
    )
    return lines


def measure_moves(
    tests: list[str], recorded: dict[str, float], rng: random.Random, draws: int
) -> dict[str, list[int]]:
    """Per rule: the tests moved by ``draws`` 1 ms changes of a recorded test, N = 4."""
    keys = [t for t in tests if t in recorded]
    moves: dict[str, list[int]] = {}
    for rule, fn in RULES.items():
        base = fn(tests, recorded, 4)
        for _ in range(draws):
            changed = rng.choice(keys)
            after = dict(recorded)
            after[changed] += 0.001
            moves.setdefault(rule, []).append(moved(base, fn(tests, after, 4)))
    return moves


def measure_expected(
    tests: list[str], true: dict[str, float], seed: int, draws: int, expected: Expected
) -> None:
    for draw in range(draws):
        recorded = draw_unrecorded(true, seed, draw)
        for count in COUNTS:
            for rule, fn in RULES.items():
                value = balance(tests, true, fn(tests, recorded, count), count)
                expected.setdefault((seed, count, rule), []).append(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", type=int, default=10)
    parser.add_argument("--seed-offset", type=int, default=0, help="the first suite's seed")
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument(
        "--spread-draws",
        type=int,
        default=20,
        help="draws of the 30%% unrecorded per suite for the expected balance (0: none)",
    )
    parser.add_argument("--write", action="store_true", help=f"write the tables to {SHARDS.name}")
    args = parser.parse_args()
    seeds = range(args.seed_offset, args.seed_offset + args.suites)
    moves: dict[tuple[str, str], list[int]] = {(d, r): [] for d in DATA for r in RULES}
    cells: dict[tuple[str, int, str], list[float]] = {}
    expected: Expected = {}
    for seed in seeds:
        true = generate(seed)
        tests = sorted(true)
        partial = draw_unrecorded(true, seed, 0)  # the same draw whatever --draws says
        sources = zip(DATA, (true, partial), (1000, 3000), strict=True)
        for data, recorded, salt in sources:
            found = measure_moves(tests, recorded, random.Random(salt + seed), args.draws)
            for rule, values in found.items():
                moves[(data, rule)].extend(values)
            for count in COUNTS:
                for rule, fn in RULES.items():
                    value = balance(tests, true, fn(tests, recorded, count), count)
                    cells.setdefault((data, count, rule), []).append(value)
        measure_expected(tests, true, seed, args.spread_draws, expected)
    out = [
        *moves_table(moves, args.suites * args.draws),
        *balance_table(cells, args.suites),
        *verdicts(cells, seeds),
        *(expected_table(expected, seeds, args.spread_draws) if args.spread_draws else []),
    ]
    print("\n".join(out))
    if args.write:
        offset = f" --seed-offset {args.seed_offset}" if args.seed_offset else ""
        spread = f" --spread-draws {args.spread_draws}" if args.spread_draws != 20 else ""
        command = (
            f"python benchmarks/shards.py --suites {args.suites}{offset} --draws {args.draws}"
            f"{spread} --write"
        )
        head = ["# Shard balance (generated)", "", f"Written by `{command}`.", ""]
        SHARDS.write_text("\n".join([*head, *out]), encoding="utf-8")
        print(f"tables written to {SHARDS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
