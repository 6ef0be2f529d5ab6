"""How far the largest runner's percentile is from the whole run's (``load-judge``).

Summaries of several k6 runners cannot be merged into the whole run's p(95): ``load-judge``
judges ``<`` thresholds on the largest runner's value. With nearest-rank percentiles that is
a strict upper bound; k6 interpolates between neighbouring samples, so the whole run's value
can lie a little above it. This script measures how often and by how much, for 2 to 4 runners
drawing response times from one lognormal distribution (the usual case: runners alike),
seeded, so that every run prints the same table.

    python benchmarks/percentile_merge.py [--trials 600]
"""

from __future__ import annotations

import argparse
import random

from pytest_tempo.load.thresholds import percentile

SIZES = ((50, 400), (1_000, 5_000))
PERCENTILES = (50.0, 95.0, 99.0)


def outside(
    rng: random.Random, sizes: tuple[int, int], pct: float, trials: int
) -> tuple[int, float]:
    """Runs whose whole-run percentile fell outside the runners' range, and the worst
    distance, relative to the whole run's value."""
    count, worst = 0, 0.0
    for _ in range(trials):
        runners = [
            sorted(rng.lognormvariate(3, 0.5) for _ in range(rng.randint(*sizes)))
            for _ in range(rng.randint(2, 4))
        ]
        each = [percentile(r, pct) for r in runners]
        whole = percentile(sorted(x for r in runners for x in r), pct)
        distance = max(whole - max(each), min(each) - whole)
        if distance > 0:
            count += 1
            worst = max(worst, distance / whole)
    return count, worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=600)
    args = parser.parse_args()
    rng = random.Random(2)
    print("| samples per runner | percentile | runs outside the runners' range | worst, relative |")
    print("|---|---|---:|---:|")
    for sizes in SIZES:
        for pct in PERCENTILES:
            count, worst = outside(rng, sizes, pct, args.trials)
            print(
                f"| {sizes[0]:,} to {sizes[1]:,} | p({pct:g}) | {count} of {args.trials} | "
                f"{worst:.2%} |"
            )


if __name__ == "__main__":
    main()
