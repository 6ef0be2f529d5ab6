"""The value of ``--shard=K/N``, imported only when the option is given."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAX_SHARDS", "ShardSpec", "parse_shard"]

#: The largest N of ``--shard=K/N``.
MAX_SHARDS = 10_000


@dataclass(frozen=True)
class ShardSpec:
    """``--shard=K/N``: run shard ``index`` (1-based) of ``count``."""

    index: int
    count: int


def parse_shard(raw: str) -> ShardSpec:
    """Parse ``K/N`` with 1 <= K <= N <= MAX_SHARDS; raise ValueError saying what is accepted."""
    k, sep, n = raw.strip().partition("/")
    if not sep or not k.strip().isdigit() or not n.strip().isdigit():
        raise ValueError("expected K/N with whole numbers, such as 1/4")
    index, count = int(k), int(n)
    if count < 1 or not 1 <= index <= count:
        raise ValueError("expected K/N with 1 <= K <= N, such as 1/4")
    if count > MAX_SHARDS:
        raise ValueError(f"expected at most {MAX_SHARDS} shards (N), such as 1/4")
    return ShardSpec(index, count)
