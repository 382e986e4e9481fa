"""Private PostgreSQL and Redis servers that a fault test may stop and start at will.

The shared test services are never touched: each server here runs from its own temporary
directory on its own loopback port, and is stopped and deleted by the test that made it.
A missing binary skips the test outside CI and fails it under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("ACD_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_PORT = 55432
REDIS_PORT = 56379
START_TIMEOUT_S = 30.0


def require_binary(path: Path | str | None, what: str) -> Path:
    """The binary's path, or skip (under CI: fail) the test when it is not installed."""
    if path is not None and Path(path).is_file() and os.access(path, os.X_OK):
        return Path(path)
    message = f"{what} is not installed ({path})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (required under CI=true)")
    pytest.skip(message)


def port_or_free(preferred: int) -> int:
    """``preferred`` if nothing listens on it (e.g. another run), else any free port."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
        except OSError:
            s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_port(port: int, *, timeout: float = START_TIMEOUT_S) -> None:
    """Block until something accepts connections on ``127.0.0.1:port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port}") from None
            time.sleep(0.05)


class PrivatePostgres:
    """A throwaway PostgreSQL cluster (initdb in a temporary directory, trust auth).

    PostgreSQL refuses to run as root: as root, every command runs as the ``postgres`` OS
    user, who owns the directory.
    """

    def __init__(self) -> None:
        self.initdb = require_binary(PG_BIN / "initdb", "PostgreSQL's initdb")
        self.pg_ctl = require_binary(PG_BIN / "pg_ctl", "PostgreSQL's pg_ctl")
        self.port = port_or_free(PG_PORT)
        self.root = Path(tempfile.mkdtemp(prefix="acd-pg-"))
        self.data = self.root / "data"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of its ``postgres`` database (asyncpg)."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str | Path) -> None:
        subprocess.run(
            [*self._as_user, *map(str, args)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=START_TIMEOUT_S,
        )

    def create(self) -> None:
        """initdb, then start."""
        self._run(self.initdb, "-D", self.data, "-U", "postgres", "--auth=trust", "--no-sync")
        self.start()

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        # fsync off: this cluster only has to outlive clean stops, and the shared CI disk is slow.
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = self.root / "server.log"
        self._run(self.pg_ctl, "-D", self.data, "-o", options, "-l", log, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m mode``: ``fast`` aborts sessions and shuts down cleanly."""
        self._run(self.pg_ctl, "-D", self.data, "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        """Stop it if it runs, and delete its files."""
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.SubprocessError):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A running private PostgreSQL, destroyed afterwards."""
    server = PrivatePostgres()
    try:
        server.create()
        yield server
    finally:
        server.destroy()


class PrivateRedis:
    """A throwaway redis-server, with its append-only file in a temporary directory.

    The AOF (fsync at every write) lets the server be stopped under load and come back
    with its stream and consumer group, as a production Redis configured for the journal
    must: without it, a stop would throw away the entries not yet written to SQL.
    """

    def __init__(self, directory: Path) -> None:
        self.binary = require_binary(shutil.which("redis-server"), "redis-server")
        self.port = port_or_free(REDIS_PORT)
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its redis:// URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server (reloading its AOF) and wait until it accepts connections."""
        args = [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "yes", "--appendfsync", "always"]
        args += ["--dir", str(self.directory), "--logfile", str(self.directory / "redis.log")]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it, and wait for it to exit."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


@contextlib.contextmanager
def private_redis(directory: Path) -> Iterator[PrivateRedis]:
    """A running private Redis, stopped afterwards."""
    server = PrivateRedis(directory)
    try:
        server.start()
        yield server
    finally:
        server.stop()
