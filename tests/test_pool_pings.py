"""Pooled PostgreSQL connections are pinged on checkout only after lying idle
(models/database.py `_ping_if_idle`): a busy pool pays no round trips for it, and a connection the
server dropped while it was idle is replaced before a request uses it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

import models.database
from models.database import Database

pytestmark = pytest.mark.usefixtures("postgres_only")


@pytest.fixture
def pings(db: Database, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every ping the pool sends, as it happens."""
    sent: list[object] = []
    dialect = db.engine.sync_engine.dialect
    original = dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        sent.append(dbapi_connection)
        return bool(original(dbapi_connection))

    monkeypatch.setattr(dialect, "do_ping", counted)
    return sent


async def _backend(db: Database) -> int:
    async with db.read() as session:
        return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_connection_back_moments_ago_goes_out_without_a_ping(
    db: Database, pings: list[object]
) -> None:
    await _backend(db)
    pings.clear()

    for _ in range(5):
        await _backend(db)

    assert pings == []


async def test_an_idle_connection_is_pinged_and_a_dropped_one_replaced(
    db: Database, pings: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a pooled connection the server has since dropped, idle long enough to be pinged
    dropped = await _backend(db)
    administrator = create_async_engine(db.engine.url)
    try:
        async with administrator.connect() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
    finally:
        await administrator.dispose()
    monkeypatch.setattr(models.database, "PING_AFTER_IDLE_SECONDS", 0.0)
    pings.clear()

    # When a request reads
    backend = await _backend(db)

    # Then the ping found it dead and the read ran on a fresh connection
    assert pings
    assert backend != dropped
