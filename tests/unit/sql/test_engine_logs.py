"""A database error never carries a caller's number into the logs."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from connectors.sql.engine import make_engine


@pytest.mark.asyncio
async def test_database_error_hides_statement_values() -> None:
    """A failed insert's message names the statement, not the caller number it carried."""
    engine = make_engine(make_url("sqlite+aiosqlite://"))
    table = sa.Table("t", sa.MetaData(), sa.Column("caller", sa.String(20), primary_key=True))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(table.metadata.create_all)
            await conn.execute(table.insert(), [{"caller": "0612345678"}])
        with pytest.raises(sa.exc.IntegrityError) as caught:
            async with engine.begin() as conn:
                await conn.execute(table.insert(), [{"caller": "0612345678"}])
    finally:
        await engine.dispose()
    assert "0612345678" not in str(caught.value)
    assert "hidden" in str(caught.value)
