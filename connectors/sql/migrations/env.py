"""Alembic's entry point: migrate on the connection handed over, or on a URL with an async engine.

``connectors.sql.migrate`` always hands over a synchronous connection (from
``AsyncConnection.run_sync``); the URL path serves the ``alembic`` command line of a
developer (``alembic -x url=sqlite:///dev.db upgrade head``, with ``script_location`` set).
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from connectors.sql.engine import journal_url, make_engine
from connectors.sql.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: later revisions rebuild tables in batch mode.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_on_url(url: str) -> None:
    engine = make_engine(journal_url(url))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def _main() -> None:
    given = context.config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("give the journal URL: alembic -x url=sqlite:///path ...")
    asyncio.run(_run_on_url(url))


_main()
