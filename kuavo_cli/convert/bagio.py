"""Reading one ROS1 bag with `rosbags`, no ROS install: types from the bag itself, cheap timestamps.

* Types: every connection record carries its full message definition (kuavo_msgs included), so a
  blank typestore is filled from the bag, as rosbags' AnyReader does.
* Pass 1 (timestamps only) uses the bag index: no message is read or decompressed.
* Pass 2 reads only the messages a frame needs, through one forward cursor per topic.
"""

from __future__ import annotations

import contextlib
import heapq
import re
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

# ROS1 has no field defaults, so `<type> <name>=<value>` is always a constant. rosbags' parser only
# accepts UPPER_SNAKE constant names, but kuavo_msgs/lejuClawState has `int8 kError=-1` ...; a
# constant never changes the wire format, so such lines are dropped before parsing (else rosbags
# reads them as extra fields and garbles every message).
_CONSTANT_LINE = re.compile(r"^\s*[A-Za-z0-9_/]+\s+([A-Za-z][A-Za-z0-9_]*)\s*=")
_UPPER_SNAKE = re.compile(r"[A-Z](?:_?[A-Z0-9]+)*")


class SkipBag(Exception):
    """This bag cannot be converted; the message says why (shown in the summary)."""


def sanitize_msgdef(text: str) -> str:
    lines = []
    for line in text.splitlines():
        m = _CONSTANT_LINE.match(line)
        if m and not _UPPER_SNAKE.fullmatch(m.group(1)):
            continue
        lines.append(line)
    return "\n".join(lines) + "\n"


CHUNK_CACHE = 8


def _cache_chunks(reader: Any) -> None:
    """Keep the last few decompressed chunks. Pass 2 walks one cursor per topic; the cursors interleave
    around the same time, and rosbags' reader keeps only its current chunk, so a compressed (bz2) bag
    would be decompressed again at nearly every step: measured 258 s instead of 4 s for a 10 s bag."""
    cache: OrderedDict[int, bytes] = OrderedDict()

    def cached(pos: int, decompress):
        def run(raw: bytes) -> bytes:
            hit = cache.get(pos)
            if hit is None:
                hit = cache[pos] = decompress(raw)
                while len(cache) > CHUNK_CACHE:
                    cache.popitem(last=False)
            else:
                cache.move_to_end(pos)
            return hit

        return run

    # With another rosbags layout this is skipped: still correct, only slower on compressed bags.
    with contextlib.suppress(AttributeError, TypeError):
        reader.chunks = {
            pos: c._replace(decompressor=cached(pos, c.decompressor)) for pos, c in reader.chunks.items()
        }


class Bag:
    """An open bag: topics, their message types and record times, and typed messages on demand."""

    def __init__(self, path: Path):
        from rosbags.rosbag1 import Reader, ReaderError

        self.path = Path(path)
        self._reader = Reader(self.path)
        try:
            self._reader.open()
        except ReaderError as err:
            text = str(err)
            if "not indexed" in text:
                raise SkipBag(
                    "bag is not indexed (recording was interrupted); run `rosbag reindex` on it"
                ) from err
            raise SkipBag(f"unreadable bag ({text.rstrip('.')}); it is probably truncated") from err
        except (OSError, ValueError) as err:
            raise SkipBag(f"unreadable bag: {err}") from err
        _cache_chunks(self._reader)
        self._conns: dict[str, list[Any]] = {}
        for conn in self._reader.connections:
            self._conns.setdefault(conn.topic, []).append(conn)
        self._typestore = None

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> Bag:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- pass 1: index only ------------------------------------------------------------------------
    def msgtype(self, topic: str) -> str | None:
        conns = self._conns.get(topic)
        if not conns:
            return None
        types = {c.msgtype for c in conns}
        if len(types) > 1:
            raise SkipBag(f"topic {topic} has several message types: {sorted(types)}")
        return types.pop()

    def times(self, topic: str) -> np.ndarray:
        """Record times (ns, sorted) of every message on `topic`, from the index alone."""
        conns = self._conns.get(topic, [])
        merged = heapq.merge(*(self._reader.indexes[c.id] for c in conns))
        return np.fromiter((entry.time for entry in merged), dtype=np.int64)

    def count(self, topic: str) -> int:
        return sum(len(self._reader.indexes[c.id]) for c in self._conns.get(topic, []))

    def topics(self) -> dict[str, str]:
        return {t: self.msgtype(t) or "" for t in sorted(self._conns)}

    # ---- pass 2: typed messages --------------------------------------------------------------------
    def _store(self):
        if self._typestore is None:
            from rosbags.typesys import Stores, get_types_from_msg, get_typestore

            types: dict = {}
            for conn in self._reader.connections:
                if not conn.msgdef.data:
                    continue
                try:
                    types.update(get_types_from_msg(sanitize_msgdef(conn.msgdef.data), conn.msgtype))
                except Exception as err:  # rosbags raises its own TypesysError subclasses
                    raise SkipBag(f"cannot parse the message definition of {conn.msgtype}: {err}") from err
            store = get_typestore(Stores.EMPTY)
            try:
                store.register(types)
            except Exception as err:
                raise SkipBag(f"inconsistent message definitions in the bag: {err}") from err
            self._typestore = store
        return self._typestore

    def cursor(self, topic: str) -> TopicCursor:
        conns = self._conns.get(topic)
        if not conns:
            raise SkipBag(f"missing topic {topic}")
        store = self._store()
        msgtype = self.msgtype(topic)
        if msgtype not in store.types:
            raise SkipBag(f"the bag carries no message definition for {msgtype} ({topic})")
        return TopicCursor(self._reader.messages(connections=conns), store, msgtype, topic)


class TopicCursor:
    """Forward-only access to message k of one topic; holds one decoded message at a time.

    `get(k)` needs non-decreasing k (true for nearest-timestamp matching of increasing stamps); the
    messages in between are skipped as raw bytes, never deserialised.
    """

    def __init__(self, messages: Iterator, store: Any, msgtype: str, topic: str):
        self._messages = messages
        self._store = store
        self.msgtype = msgtype
        self.topic = topic
        self._pos = -1  # index of the last raw message taken from the iterator
        self._cached: tuple[int, Any] | None = None
        self._raw: bytes | None = None

    def raw(self, index: int) -> bytes:
        """The serialised bytes of message `index` (the messages in between are skipped, never decoded)."""
        if index == self._pos and self._raw is not None:
            return self._raw
        if index < self._pos:
            raise RuntimeError(f"{self.topic}: cursor moved backwards ({index} after {self._pos})")
        raw = None
        while self._pos < index:
            try:
                _conn, _t, raw = next(self._messages)
            except StopIteration:
                raise SkipBag(f"{self.topic}: message {index} is missing from the bag data") from None
            except Exception as err:  # damaged chunk: rosbags' ReaderError, a decompressor error ...
                raise SkipBag(f"{self.topic}: damaged bag data near message {index} ({err})") from err
            self._pos += 1
        self._raw = raw
        return raw

    def decode(self, raw: bytes, index: int, convert=None) -> Any:
        """Deserialise one message and pass it through `convert`; thread-safe (no cursor state)."""
        try:
            msg = self._store.deserialize_ros1(raw, self.msgtype)
        except Exception as err:
            raise SkipBag(f"{self.topic}: message {index} cannot be decoded ({err})") from err
        return self.decode_message(msg, index, convert)

    def decode_message(self, msg: Any, index: int, convert=None) -> Any:
        """`convert(msg)`, with a failure turned into a SkipBag naming the topic and message."""
        try:
            return convert(msg) if convert else msg
        except SkipBag:
            raise
        except Exception as err:  # a corrupt JPEG, a wrong field layout ...
            raise SkipBag(f"{self.topic}: message {index}: {err}") from err

    def get(self, index: int, convert=None) -> Any:
        """Message `index` deserialised and passed through `convert` (cached for repeats of `index`)."""
        if self._cached is not None and self._cached[0] == index:
            return self._cached[1]
        value = self.decode(self.raw(index), index, convert)
        self._cached = (index, value)
        return value
