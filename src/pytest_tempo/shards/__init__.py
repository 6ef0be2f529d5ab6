"""``--shard=K/N``: CI shards that fit together, and a record that proves it.

**The split.** Every shard computes the same split from the same *basis*: the collected node
ids in sorted order and, per test, its recorded seconds quantised to a log grid (a floor of
``FLOOR_US``, then ``STEPS_PER_DOUBLING`` steps per doubling), so a measurement that
moves a little usually keeps its value. A test without a record is estimated by the cost
model (:mod:`pytest_tempo.costs`, as for ``--tempo-dist=duration``): the larger of its
nearest recorded siblings' median and the mean of every recorded test. The few recorded
tests that dominate (each over 1/``BIG_SHARE`` of a shard's share) are dealt longest first,
each to the least loaded shard; the unrecorded tests are shared out evenly, every shard
the same estimated amount of them (no more than the room left), as many of each size
(doubling of the estimate) as the shard's part; the many
small recorded ones are then cut, in sorted order, into contiguous runs that fill every
shard to one level. A small change to one small test shifts those cut points by about its
own size, so it moves a test or two per boundary, where a longest-first deal of every test
can move thousands.

**The batch.** Shards run one after another in one checkout rewrite the store between them.
The first shard of a batch keeps its basis in the cache (key :data:`RECORD_KEY`); a later
shard of the same N and the same collection splits from that basis as long as the store
differs from it only in tests the batch's shards ran. Any other difference (a shard number
run twice, a run in between, another collection) starts a new batch.

**The record.** Each shard records N, K, the fingerprints of its collection and of its basis,
the tests it selected and the tests that ran, in the cache (written by the controller only)
and in ``--slow-report-json``. ``pytest-tempo merge`` reads the records of the shards' cache
folders and checks them with :func:`verify`.

Modules: :mod:`.basis` (the basis and the split, pure), :mod:`.record` (the record and its
verification), :mod:`.plugin` (:class:`ShardPlugin`, the hooks).
"""

from __future__ import annotations

from .basis import FLOOR_US, Basis, choose_basis, doubling, estimate_unrecorded, quantise, split
from .plugin import ShardPlugin
from .record import RECORD_KEY, ShardRun, parse_saved, read_runs, verify, verify_runs

__all__ = [
    "FLOOR_US",
    "RECORD_KEY",
    "Basis",
    "ShardPlugin",
    "ShardRun",
    "choose_basis",
    "doubling",
    "estimate_unrecorded",
    "parse_saved",
    "quantise",
    "read_runs",
    "split",
    "verify",
    "verify_runs",
]
