"""MemoryHotState: the hot state in process, with the same fencing, TTLs and fan-out as Redis.

A ``MemoryStore`` plays the Redis server: the same key layout (``connectors.redis.keys``),
one epoch per namespace, shared department loads, documents kept as compact JSON so a
reader gets a fresh copy and a non-JSON value fails as it would over the wire. It is the
embedded default (``memory://``: one instance, no failover) and the twin the contract
tests hold against Redis.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from acd.hotstate import Doc, HotBatch, HotSnapshot, HotStateFenced, HotStateUnavailable
from connectors.redis import keys as k

NOTICE_BACKLOG = 10_000
"""Notices a subscriber may leave unread before it is cut off (Redis cuts slow readers too)."""
MAX_EPOCH = 2**53


def encode(doc: Doc) -> str:
    """Compact JSON, as the Redis adapter stores it."""
    return json.dumps(doc, separators=(",", ":"), allow_nan=False)


@dataclass(slots=True)
class _Entry:
    value: str
    expires_at: float


class MemoryStore:
    """What the Redis server is to ``RedisHotState``; share one to share the state.

    ``clock`` (seconds, never going backwards) decides expiry: inject a fake one to
    age keys in a test without sleeping.
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, notice_backlog: int = NOTICE_BACKLOG
    ) -> None:
        self.clock = clock
        self.notice_backlog = notice_backlog
        self._entries: dict[str, _Entry] = {}
        self._indexes: dict[str, set[str]] = {}
        self._channels: dict[str, set[MemoryNotices]] = {}

    def get(self, key: str) -> str | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= self.clock():
            del self._entries[key]
            return None
        return entry.value

    def set(self, key: str, value: str, *, ttl_s: float = math.inf) -> None:
        self._entries[key] = _Entry(value, self.clock() + ttl_s)

    def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    def members(self, index: str) -> list[str]:
        return sorted(self._indexes.get(index, ()))

    def add(self, index: str, member: str) -> None:
        self._indexes.setdefault(index, set()).add(member)

    def remove(self, index: str, member: str) -> None:
        self._indexes.get(index, set()).discard(member)

    def publish(self, channel: str, message: str) -> None:
        for stream in list(self._channels.get(channel, ())):
            stream.offer(message)

    def subscribe(self, stream: MemoryNotices) -> None:
        self._channels.setdefault(stream.channel, set()).add(stream)

    def unsubscribe(self, stream: MemoryNotices) -> None:
        self._channels.get(stream.channel, set()).discard(stream)


class MemoryHotState:
    """The ``HotState`` port in process for one platform (``namespace``) of a store."""

    def __init__(
        self,
        *,
        namespace: str,
        store: MemoryStore | None = None,
        call_ttl_s: float = k.CALL_TTL_S,
        agent_ttl_s: float = k.AGENT_TTL_S,
        load_ttl_s: float = k.LOAD_TTL_S,
    ) -> None:
        for ttl in (call_ttl_s, agent_ttl_s, load_ttl_s):
            if ttl <= 0:
                raise ValueError(f"a hot-state TTL must be positive, not {ttl}")
        self.store = store if store is not None else MemoryStore()
        self.keys = k.Keyspace(namespace)
        self._ttls = (call_ttl_s, agent_ttl_s, load_ttl_s)
        # Weak: a stream its reader closed and dropped must not stay here for good.
        self._streams: weakref.WeakSet[MemoryNotices] = weakref.WeakSet()

    def __repr__(self) -> str:
        return f"MemoryHotState(namespace={self.keys.namespace!r})"

    async def write(self, batch: HotBatch, *, epoch: int) -> None:
        """Write the batch whole, or raise ``HotStateFenced`` and change nothing."""
        if not 0 <= epoch < MAX_EPOCH:
            raise ValueError(f"a leadership epoch is in [0, 2**53), not {epoch}")
        # Everything is encoded before the first change: a bad document changes nothing.
        calls = {i: None if d is None else encode(d) for i, d in batch.calls.items()}
        agents = {i: encode(d) for i, d in batch.agents.items()}
        loads = {i: encode(d) for i, d in batch.loads.items()}
        notices = [encode(n) for n in batch.notices]
        store, ks = self.store, self.keys
        stored = int(store.get(ks.epoch) or 0)
        if stored > epoch:
            raise HotStateFenced(epoch=epoch, current=stored)
        if epoch > stored:
            store.set(ks.epoch, str(epoch))
        call_ttl, agent_ttl, load_ttl = self._ttls
        for call_id, doc in calls.items():
            if doc is None:
                store.delete(ks.call(call_id))
                store.remove(ks.calls, call_id)
            else:
                store.set(ks.call(call_id), doc, ttl_s=call_ttl)
                store.add(ks.calls, call_id)
        for agent_id, doc in agents.items():
            store.set(ks.agent(agent_id), doc, ttl_s=agent_ttl)
            store.add(ks.agents, agent_id)
        for load_id, doc in loads.items():
            store.set(ks.load(load_id), doc, ttl_s=load_ttl)
            store.add(ks.loads, load_id)
        for notice in notices:
            store.publish(ks.notices, notice)

    async def load(self) -> HotSnapshot:
        """The stored state; documents whose TTL ran out are left out."""
        store, ks = self.store, self.keys
        return HotSnapshot(
            epoch=int(store.get(ks.epoch) or 0),
            calls=self._found(store.members(ks.calls), ks.call),
            agents=self._found(store.members(ks.agents), ks.agent),
            loads=self._found(store.members(ks.loads), ks.load),
        )

    async def loads_of(self, ids: Sequence[str]) -> dict[str, Doc]:
        """The loads published under these ids by any platform of the store; stale ones left out."""
        return self._found(dict.fromkeys(ids), k.load_key)

    def _found(self, ids: Iterable[str], key_of: Callable[[str], str]) -> dict[str, Doc]:
        docs: dict[str, Doc] = {}
        for i in ids:
            value = self.store.get(key_of(i))
            if value is not None:
                docs[i] = json.loads(value)
        return docs

    def notices(self) -> MemoryNotices:
        """A new subscriber to the console's channel (subscribed at ``ready()`` or first read)."""
        stream = MemoryNotices(self.store, self.keys.notices, backlog=self.store.notice_backlog)
        self._streams.add(stream)
        return stream

    async def close(self) -> None:
        """End every notice stream this adapter opened (their iterations stop)."""
        for stream in list(self._streams):
            await stream.aclose()


class MemoryNotices:
    """One subscriber: its own queue, filled by every write to the channel."""

    def __init__(self, store: MemoryStore, channel: str, *, backlog: int) -> None:
        self.store = store
        self.channel = channel
        self._queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=backlog)
        self._subscribed = False
        self._closed = False
        self._cut_off = False

    def __aiter__(self) -> MemoryNotices:
        return self

    @property
    def closed(self) -> bool:
        return self._closed

    async def ready(self) -> None:
        """Subscribe: every notice written from now on will come (as ``RedisNotices``)."""
        if not (self._subscribed or self._closed):
            self._subscribed = True
            self.store.subscribe(self)

    def offer(self, message: str) -> None:
        """Queue one notice, or cut this subscriber off if it fell too far behind."""
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self._cut_off = True
            self.store.unsubscribe(self)

    async def __anext__(self) -> Doc:
        await self.ready()
        if self._cut_off:
            raise HotStateUnavailable(
                f"notice subscriber of {self.channel} fell {self._queue.maxsize} behind"
            )
        message = None if self._closed else await self._queue.get()
        if message is None:  # closed: what was not read yet is dropped, as over Redis
            raise StopAsyncIteration
        doc: Doc = json.loads(message)
        return doc

    async def aclose(self) -> None:
        """Unsubscribe; an iteration under way stops."""
        if self._closed:
            return
        self._closed = True
        self.store.unsubscribe(self)
        if not self._queue.full():
            self._queue.put_nowait(None)  # wakes a reader waiting for the next notice
