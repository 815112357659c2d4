"""`--shard I/N`: split a bag list between machines, the same way on every machine.

A bag belongs to shard `sha1(file name) mod N`. The split depends on nothing but the bag's own name,
so it does not change when the list is ordered differently, when a machine sees the bags through
another path, or when bags are added (only the new bags are placed). Shards are disjoint and cover
the list; their sizes are equal on average (a hash, not a round robin).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import PurePath


def parse_shard(text: str) -> tuple[int, int]:
    index, count = (int(v) for v in text.split("/"))
    return index, count


def shard_of(name: str, count: int) -> int:
    digest = hashlib.sha1(PurePath(name).name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def select_shard[T](items: Iterable[T], shard: str | None, name=lambda item: str(item)) -> list[T]:
    """The items of shard `I/N` (all of them when `shard` is None), in their given order."""
    items = list(items)
    if shard is None:
        return items
    index, count = parse_shard(shard)
    return [item for item in items if shard_of(name(item), count) == index]
