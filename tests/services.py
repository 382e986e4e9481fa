"""The machine's real services for contract tests: PostgreSQL and Redis over TCP.

Outside CI a missing service skips the tests that need it; under ``CI=true`` it fails
them, so a green CI run always means they ran against the real thing.
"""

from __future__ import annotations

import os
import socket
import uuid

import pytest

POSTGRES_HOST = os.environ.get("ACD_TEST_PG_HOST", "127.0.0.1")
POSTGRES_PORT = int(os.environ.get("ACD_TEST_PG_PORT", "5432"))
POSTGRES_DB = os.environ.get("ACD_TEST_PG_DB", "test")
POSTGRES_USER = os.environ.get("ACD_TEST_PG_USER", "postgres")
REDIS_HOST = os.environ.get("ACD_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("ACD_TEST_REDIS_PORT", "6379"))


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require(service: str, host: str, port: int) -> None:
    """Skip (or, under CI, fail) the calling test when ``host:port`` does not answer."""
    if _reachable(host, port):
        return
    message = f"{service} is not reachable at {host}:{port}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (required under CI=true)")
    pytest.skip(message)


def postgres_url(driver: str = "asyncpg") -> str:
    """The test database's SQLAlchemy URL (skips or fails when PostgreSQL is down)."""
    require("PostgreSQL", POSTGRES_HOST, POSTGRES_PORT)
    return f"postgresql+{driver}://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{POSTGRES_DB}"


def redis_url(db: int = 0) -> str:
    """The test Redis's URL (skips or fails when Redis is down)."""
    require("Redis", REDIS_HOST, REDIS_PORT)
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"


def unique_name(prefix: str) -> str:
    """A name no other test run uses (a Redis namespace, a PostgreSQL schema)."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"
