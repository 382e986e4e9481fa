"""RedisHotState: the hot state in Redis; every write is one fenced script call, or nothing.

Documents are compact JSON strings under the keys of ``keys.py``, each with its TTL; the
index sets (calls, agents, loads) say which keys to read back. Library errors that mean
"Redis cannot serve now" become ``HotStateUnavailable``; a stale epoch, ``HotStateFenced``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from redis import exceptions as rex
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from acd.hotstate import Doc, HotBatch, HotSnapshot, HotStateFenced, HotStateUnavailable
from connectors.redis import keys as k
from connectors.redis.scripts import (
    AGENTS_SLOT,
    CALLS_SLOT,
    DELETE,
    FENCED_WRITE,
    LOADS_SLOT,
    Op,
    write_args,
)

UNAVAILABLE: tuple[type[Exception], ...] = (
    rex.ConnectionError,  # refused, reset, DNS, auth, loading, pool exhausted
    rex.TimeoutError,
    rex.ReadOnlyError,  # we reached a replica: a failover is under way
    rex.OutOfMemoryError,
)
MAX_EPOCH = 2**53
"""Lua numbers are doubles: epochs beyond this would compare wrongly in the script."""
POLL_S = 1.0
"""One wait for the subscription's confirmation, before its deadline is checked again."""
SUBSCRIBE_TIMEOUT_S = 5.0


def encode(doc: Doc) -> str:
    """Compact JSON; NaN and non-JSON values raise before anything is sent.

    ASCII-escaped: any str (a lone surrogate included) then encodes on the wire.
    """
    return json.dumps(doc, separators=(",", ":"), allow_nan=False)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _ms(seconds: float) -> int:
    if seconds <= 0:
        raise ValueError(f"a hot-state TTL must be positive, not {seconds}")
    return max(1, round(seconds * 1000))


def check_epoch(epoch: int) -> None:
    """Refuse an epoch the fence cannot compare exactly."""
    if not 0 <= epoch < MAX_EPOCH:
        raise ValueError(f"a leadership epoch is in [0, 2**53), not {epoch}")


class RedisHotState:
    """The ``HotState`` port over one Redis (or Sentinel-managed master), for one platform.

    The client belongs to whoever made it (the wiring point closes it); ``close()`` ends
    the notice subscriptions this adapter opened.
    """

    def __init__(
        self,
        client: Redis,
        *,
        namespace: str,
        call_ttl_s: float = k.CALL_TTL_S,
        agent_ttl_s: float = k.AGENT_TTL_S,
        load_ttl_s: float = k.LOAD_TTL_S,
    ) -> None:
        self.client = client
        self.keys = k.Keyspace(namespace)
        self._ttls_ms = (_ms(call_ttl_s), _ms(agent_ttl_s), _ms(load_ttl_s))
        self._script = client.register_script(FENCED_WRITE)  # only hashes it: no I/O
        self._streams: set[RedisNotices] = set()

    def __repr__(self) -> str:
        return f"RedisHotState(namespace={self.keys.namespace!r})"

    async def write(self, batch: HotBatch, *, epoch: int) -> None:
        """Write the batch atomically, or raise ``HotStateFenced`` and write nothing.

        An empty batch still checks the epoch and raises the stored one: a new leader can
        fence the store before it has anything to write. After ``HotStateUnavailable`` the
        batch may or may not be there (a reply lost in a timeout): writing it again is safe,
        the documents are absolute, only its notices may come twice.
        """
        check_epoch(epoch)
        keys, args = write_args(
            epoch=epoch,
            epoch_key=self.keys.epoch,
            indexes=(self.keys.calls, self.keys.agents, self.keys.loads),
            ttls_ms=self._ttls_ms,
            channel=self.keys.notices,
            ops=self._ops(batch),
            notices=[encode(n) for n in batch.notices],
        )
        try:
            written, stored = await self._script(keys=keys, args=args)
        except UNAVAILABLE as err:
            raise HotStateUnavailable(f"{self!r}: write failed: {err}") from err
        if not written:
            raise HotStateFenced(epoch=epoch, current=int(stored))

    def _ops(self, batch: HotBatch) -> list[Op]:
        ks = self.keys
        ops = [
            Op(slot=CALLS_SLOT, member=i, key=ks.call(i), doc=DELETE if d is None else encode(d))
            for i, d in batch.calls.items()
        ]
        ops += [
            Op(slot=AGENTS_SLOT, member=i, key=ks.agent(i), doc=encode(d))
            for i, d in batch.agents.items()
        ]
        ops += [
            Op(slot=LOADS_SLOT, member=i, key=ks.load(i), doc=encode(d))
            for i, d in batch.loads.items()
        ]
        return ops

    async def load(self) -> HotSnapshot:
        """The stored state: indexes in one round trip, their documents in a second one.

        Each round trip is a MULTI, so each reads one instant: the documents never mix two
        batches. A member whose key expired (or was deleted between the two) is left out.
        """
        ks = self.keys
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.get(ks.epoch)
                for index in (ks.calls, ks.agents, ks.loads):
                    pipe.smembers(index)
                raw_epoch, *members = await pipe.execute()
            ids = [sorted(_text(m) for m in found) for found in members]
            docs: list[list[Any]] = [[], [], []]
            if any(ids):
                async with self.client.pipeline(transaction=True) as pipe:
                    for key_of, wanted in zip((ks.call, ks.agent, ks.load), ids, strict=True):
                        if wanted:  # MGET refuses an empty key list
                            pipe.mget([key_of(i) for i in wanted])
                    replies = iter(await pipe.execute())
                docs = [next(replies) if wanted else [] for wanted in ids]
        except UNAVAILABLE as err:
            raise HotStateUnavailable(f"{self!r}: load failed: {err}") from err
        calls, agents, loads = (_found(i, d) for i, d in zip(ids, docs, strict=True))
        return HotSnapshot(
            epoch=int(raw_epoch) if raw_epoch is not None else 0,
            calls=calls,
            agents=agents,
            loads=loads,
        )

    async def loads_of(self, ids: Sequence[str]) -> dict[str, Doc]:
        """The loads published under these ids by any platform; unknown or stale ones left out."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        try:
            values = await self.client.mget([k.load_key(i) for i in wanted])
        except UNAVAILABLE as err:
            raise HotStateUnavailable(f"{self!r}: reading loads failed: {err}") from err
        return _found(wanted, values)

    def notices(self) -> RedisNotices:
        """A new subscriber to the console's channel (subscribed at ``ready()`` or first read)."""
        stream = RedisNotices(
            self.client.pubsub(), channel=self.keys.notices, forget=self._streams.discard
        )
        self._streams.add(stream)
        return stream

    async def close(self) -> None:
        """End every notice stream still open (their iterations stop)."""
        for stream in list(self._streams):
            await stream.aclose()


def _found(ids: Iterable[str], values: Iterable[bytes | str | None]) -> dict[str, Doc]:
    docs: dict[str, Doc] = {}
    for i, value in zip(ids, values, strict=True):
        if value is not None:
            docs[i] = json.loads(value)
    return docs


class RedisNotices:
    """One subscriber of the notices channel: the notices published once it is subscribed.

    One consumer per stream. Close it (``aclose``) when done reading: a subscribed
    connection left behind keeps receiving.
    """

    def __init__(
        self, pubsub: PubSub, *, channel: str, forget: Callable[[RedisNotices], None]
    ) -> None:
        self._pubsub = pubsub
        self._channel = channel
        self._forget = forget
        self._subscribed = False
        self._closing = asyncio.Event()
        self.skipped = 0
        """Messages on the channel that were not a JSON object (not ours)."""

    def __aiter__(self) -> RedisNotices:
        return self

    @property
    def closed(self) -> bool:
        return self._closing.is_set()

    async def ready(self) -> None:
        """Subscribe, and return once Redis confirmed it: every later notice will come."""
        if self._subscribed or self.closed:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SUBSCRIBE_TIMEOUT_S
        try:
            await self._pubsub.subscribe(self._channel)
            # The confirmation comes on the subscriber's connection: once read, any
            # PUBLISH that Redis runs afterwards is queued behind it for us.
            while loop.time() < deadline:
                message = await self._pubsub.get_message(timeout=POLL_S)
                if message is not None and message["type"] == "subscribe":
                    self._subscribed = True
                    return
        except UNAVAILABLE as err:
            raise HotStateUnavailable(f"subscribing to {self._channel}: {err}") from err
        raise HotStateUnavailable(f"subscribing to {self._channel}: no confirmation")

    async def __anext__(self) -> Doc:
        await self.ready()
        while not self._closing.is_set():
            message = await self._read()
            if message is None or message["type"] != "message":
                continue
            doc = _notice(message["data"])
            if doc is None:
                self.skipped += 1
                continue
            return doc
        raise StopAsyncIteration

    async def _read(self) -> dict[str, Any] | None:
        """The next message, or ``None`` once the stream is closed.

        A read blocked on a quiet channel is not woken by closing its connection, hence
        the race against the closing event rather than a bare ``get_message``.
        """
        read = asyncio.ensure_future(
            self._pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
        )
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            await asyncio.wait((read, closing), return_when=asyncio.FIRST_COMPLETED)
        finally:
            read.cancel()
            closing.cancel()
            await asyncio.gather(read, closing, return_exceptions=True)
        if read.cancelled():
            return None
        err = read.exception()
        if err is None:
            message: dict[str, Any] | None = read.result()
            return message
        if self._closing.is_set():  # closed under our feet: the read's error is expected
            return None
        if isinstance(err, UNAVAILABLE):
            raise HotStateUnavailable(f"reading {self._channel}: {err}") from err
        raise err

    async def aclose(self) -> None:
        """Unsubscribe and release the connection; an iteration under way stops."""
        if self.closed:
            return
        self._closing.set()
        self._forget(self)
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it bare


def _notice(data: bytes | str) -> Doc | None:
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None
