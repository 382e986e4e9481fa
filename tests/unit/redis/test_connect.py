"""Client settings: a dead Redis fails in seconds, TLS and Sentinel from plain values."""

from __future__ import annotations

import pytest
from redis.asyncio.connection import SSLConnection, UnixDomainSocketConnection
from redis.asyncio.sentinel import SentinelManagedSSLConnection

from connectors.redis import connect
from connectors.redis.connect import SentinelRedis, redis_client


def test_plain_url_gets_short_timeouts_keepalive_and_one_retry() -> None:
    """Commands time out in seconds, idle sockets are probed, one retry on a fresh socket."""
    client = redis_client(url="redis://redis-15.example:6380/2", password="s3cret")
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("redis-15.example", 6380, 2)
    assert kwargs["password"] == "s3cret"
    assert kwargs["socket_timeout"] == connect.SOCKET_TIMEOUT_S <= 5
    assert kwargs["socket_connect_timeout"] == connect.CONNECT_TIMEOUT_S <= 5
    assert kwargs["socket_keepalive"] is True
    assert kwargs["socket_keepalive_options"] == connect.keepalive_options()
    assert kwargs["health_check_interval"] == connect.HEALTH_CHECK_INTERVAL_S
    assert kwargs["retry"].get_retries() == connect.RETRIES
    assert kwargs["client_name"] == connect.CLIENT_NAME


def test_tls_by_scheme_or_by_flag() -> None:
    """``rediss://`` and ``tls=True`` both give TLS connections."""
    by_scheme = redis_client(url="rediss://redis-15.example:6380/0")
    by_flag = redis_client(url="redis://redis-15.example:6380/0", tls=True)
    assert by_scheme.connection_pool.connection_class is SSLConnection
    assert by_flag.connection_pool.connection_class is SSLConnection
    plain = redis_client(url="redis://redis-15.example:6380/0")
    assert plain.connection_pool.connection_class is not SSLConnection


def test_unix_socket_url_and_tls_do_not_mix() -> None:
    """``unix://`` gives a socket connection; asking TLS of it is a configuration mistake."""
    client = redis_client(url="unix:///run/redis/redis.sock?db=1")
    assert client.connection_pool.connection_class is UnixDomainSocketConnection
    with pytest.raises(ValueError, match="unix"):
        redis_client(url="unix:///run/redis/redis.sock", tls=True)


def test_sentinel_needs_a_master_name_and_a_tcp_url() -> None:
    """Sentinels without ``master_name``, or with a unix:// URL, are refused at once."""
    with pytest.raises(ValueError, match="master_name"):
        redis_client(url="redis://x/0", sentinels=[("sentinel-1", 26379)])
    with pytest.raises(ValueError, match="Sentinel"):
        redis_client(url="unix:///x.sock", sentinels=[("sentinel-1", 26379)], master_name="m")


def test_sentinel_client_takes_database_user_and_tls_from_the_url() -> None:
    """With sentinels the URL still gives database, user, password and TLS to the master."""
    client = redis_client(
        url="rediss://acd:from-url@ignored:6379/3",
        sentinels=[("sentinel-1", 26379), ("sentinel-2", 26379)],
        master_name="acd-15",
    )
    assert isinstance(client, SentinelRedis)
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["db"], kwargs["username"], kwargs["password"]) == (3, "acd", "from-url")
    assert client.connection_pool.connection_class is SentinelManagedSSLConnection
    assert client.sentinel_manager is not None
    nodes = client.sentinel_manager.sentinels
    assert len(nodes) == 2
    for node in nodes:
        assert node.connection_pool.connection_class is SSLConnection
        assert node.connection_pool.connection_kwargs.get("password") is None
        assert node.connection_pool.connection_kwargs["socket_timeout"] == connect.SOCKET_TIMEOUT_S


def test_password_in_the_url_and_apart_is_refused() -> None:
    """A password both in the URL and given apart (a secret) is ambiguous: refused."""
    for url in ("redis://:old@redis-15.example/0", "redis://redis-15.example/0?password=old"):
        with pytest.raises(ValueError, match="twice"):
            redis_client(url=url, password="new")
    with pytest.raises(ValueError, match="twice"):
        redis_client(
            url="redis://:old@x/0", password="new", sentinels=[("s", 26379)], master_name="m"
        )
    client = redis_client(url="redis://redis-15.example/0", password="new")
    assert client.connection_pool.connection_kwargs["password"] == "new"
