"""A journal writer in its own process that SIGKILLs itself after a SQL commit, before its XACK.

For the fault tests only: ``python -m tests.integration.faults.writer_child --help``. It
drains the stream into the journal and, right after its ``--kill-after``-th committed
batch, kills itself with SIGKILL, leaving that batch stored and still pending in Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence

from acd.journal import JournalEntry
from connectors.redis.connect import redis_client
from connectors.redis.outbox import OutboxWriter
from connectors.sql import SqlJournal


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis", required=True, help="redis:// URL of the stream")
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--journal", required=True, help="the journal's URL")
    parser.add_argument("--consumer", default="w1")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--kill-after", type=int, default=2, help="committed batches")
    return parser


async def _run(args: argparse.Namespace) -> None:
    client = redis_client(url=args.redis)
    journal = SqlJournal.from_url(args.journal)
    committed = 0

    def die_after_commit(_batch: Sequence[JournalEntry]) -> None:
        nonlocal committed
        committed += 1
        if committed >= args.kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    writer = OutboxWriter(
        redis=client,
        namespace=args.namespace,
        store=journal,
        consumer=args.consumer,
        batch=args.batch,
        block_ms=100,
        after_write=die_after_commit,
    )
    try:
        await writer.run()
    finally:
        await journal.close()
        await client.aclose()


def main(argv: list[str]) -> int:
    """Run the writer until it kills itself."""
    asyncio.run(_run(_parser().parse_args(argv)))
    return 1  # reached only if the stream ran dry before the kill


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
