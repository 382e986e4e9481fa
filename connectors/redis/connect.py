"""redis_client: a Redis client from plain settings, tuned so a dead Redis fails in seconds.

The hot state must never hold up a decision for long: a command that gets no answer
fails after ``SOCKET_TIMEOUT_S`` (retried once on a fresh connection), idle connections
are probed by TCP keepalive and checked with a PING before reuse. Takes plain values
only: reading the configuration is the wiring point's job.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialWithJitterBackoff

SOCKET_TIMEOUT_S = 2.0
"""A hot-state command takes well under a millisecond: two seconds means Redis is gone."""
CONNECT_TIMEOUT_S = 1.0
HEALTH_CHECK_INTERVAL_S = 5
"""A connection idle longer than this is PINGed before use (catches a restarted Redis)."""
RETRIES = 1
"""One retry on a fresh connection: enough for a stale pooled socket, short for a dead server."""
KEEPALIVE_IDLE_S = 5
KEEPALIVE_INTERVAL_S = 1
KEEPALIVE_COUNT = 3
CLIENT_NAME = "acd"


def keepalive_options() -> dict[int, int]:
    """TCP keepalive probes where the platform has them: a silent peer is dropped in ~8 s."""
    options: dict[int, int] = {}
    for name, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE_S),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL_S),
        ("TCP_KEEPCNT", KEEPALIVE_COUNT),
    ):
        option = getattr(socket, name, None)
        if option is not None:
            options[option] = value
    return options


def connection_options(*, password: str | None) -> dict[str, Any]:
    """What every connection of ours gets, plain URL or Sentinel."""
    options: dict[str, Any] = {
        "socket_timeout": SOCKET_TIMEOUT_S,
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "socket_keepalive": True,
        "socket_keepalive_options": keepalive_options(),
        "health_check_interval": HEALTH_CHECK_INTERVAL_S,
        "retry": Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.25), RETRIES),
        "client_name": CLIENT_NAME,
    }
    if password is not None:
        options["password"] = password
    return options


def redis_client(
    *,
    url: str,
    password: str | None = None,
    sentinels: Sequence[tuple[str, int]] = (),
    master_name: str | None = None,
    tls: bool = False,
) -> Redis:
    """A client for ``url`` (``redis://``, ``rediss://``, ``unix://``), or for the master
    that ``sentinels`` name ``master_name`` (``url`` then gives the database, the user and
    TLS). TLS by ``rediss://`` or ``tls=True``. Opens no connection until first used."""
    if password is not None and _has_password(url):
        # redis-py would let the URL's win; a secret given apart must never lose silently.
        raise ValueError("Redis password given twice: in the URL and apart")
    options = connection_options(password=password)
    if sentinels:
        if not master_name:
            raise ValueError("Redis Sentinel needs the master's name (master_name)")
        return _sentinel_client(url, options, sentinels, master_name, tls=tls)
    if tls:
        scheme, sep, rest = url.partition("://")
        if scheme == "unix":
            raise ValueError("TLS does not apply to a unix:// socket")
        if scheme == "redis":
            url = f"rediss{sep}{rest}"
    return Redis.from_url(url, **options)


class SentinelRedis(Redis):
    """A master's client that also closes its connections to the sentinels."""

    sentinel_manager: Sentinel | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        if self.sentinel_manager is not None:
            for node in self.sentinel_manager.sentinels:
                await node.aclose()


def _has_password(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.password) or "password" in parse_qs(parts.query)


def _sentinel_client(
    url: str,
    options: dict[str, Any],
    sentinels: Sequence[tuple[str, int]],
    master_name: str,
    *,
    tls: bool,
) -> Redis:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"with Redis Sentinel the URL is redis:// or rediss://, not {url!r}")
    tls = tls or parts.scheme == "rediss"
    path = parts.path.strip("/")
    options["db"] = int(path) if path else 0
    if parts.username:
        options["username"] = unquote(parts.username)
    if parts.password:
        options["password"] = unquote(parts.password)
    # Sentinels get the socket settings and TLS, not the master's credentials: a sentinel
    # without requirepass refuses AUTH, which would fail every discovery.
    sentinel_options = {k: v for k, v in options.items() if k.startswith("socket_")}
    if tls:
        options["ssl"] = True
        sentinel_options["ssl"] = True
    sentinel = Sentinel(  # type: ignore[no-untyped-call]  # redis-py leaves it bare
        list(sentinels), sentinel_kwargs=sentinel_options, **options
    )
    client: SentinelRedis = sentinel.master_for(master_name, redis_class=SentinelRedis)
    client.sentinel_manager = sentinel
    return client
