"""The SQLite driver (models/sqlite_driver.py): one trip through the connection's worker thread per
statement, and what a DBAPI cursor reports (rows, row counts, errors) exactly as before."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import aiosqlite
import pytest
from sqlalchemy import CursorResult, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from clientarea.migrate import upgrade
from models.accounts import ClientAccount
from models.database import Database
from models.sqlite_driver import OneTripConnection
from models.users import User
from tests.factories import create_account, create_user


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}"
    await asyncio.to_thread(upgrade, url)
    database = Database(url)
    yield database
    await database.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every function sent to an aiosqlite worker thread, in order."""
    sent: list[str] = []
    original = cast(Callable[..., Awaitable[Any]], aiosqlite.Connection._execute)

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return sent


async def test_the_engine_uses_the_one_trip_connection(sqlite_db: Database) -> None:
    async with sqlite_db.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        assert isinstance(raw.dbapi_connection, OneTripConnection)


async def test_a_read_statement_is_one_trip_and_ending_the_read_is_none(
    sqlite_db: Database, trips: list[str]
) -> None:
    async with sqlite_db.read() as session:
        await session.execute(text("SELECT 1"))
        trips.clear()
        rows = (await session.execute(text("SELECT 1 UNION ALL SELECT 2"))).all()
        assert [tuple(row) for row in rows] == [(1,), (2,)]
        assert len(trips) == 1
    # The read ran in SQLite's autocommit mode: giving the connection back rolls nothing back.
    assert len(trips) == 1


async def test_a_unit_of_work_commits_in_one_trip_and_is_visible_after(
    sqlite_db: Database, trips: list[str]
) -> None:
    user = await create_user(sqlite_db, email="writer@example.com")
    trips.clear()
    async with sqlite_db.begin() as session:
        await session.execute(update(User).where(User.id == user.id).values(name="Renamed"))
    # BEGIN IMMEDIATE, the UPDATE, COMMIT.
    assert len(trips) == 3
    async with sqlite_db.read() as session:
        assert await session.scalar(select(User.name).where(User.id == user.id)) == "Renamed"


async def test_a_failed_unit_of_work_rolls_back(sqlite_db: Database) -> None:
    user = await create_user(sqlite_db, email="kept@example.com")

    async def rename_then_fail() -> None:
        async with sqlite_db.begin() as session:
            await session.execute(update(User).where(User.id == user.id).values(name="Lost"))
            raise RuntimeError("abandon the unit of work")

    with pytest.raises(RuntimeError):
        await rename_then_fail()
    async with sqlite_db.read() as session:
        assert await session.scalar(select(User.name).where(User.id == user.id)) != "Lost"


async def test_row_counts_and_returning_rows_come_back_from_the_trip(sqlite_db: Database) -> None:
    owner = await create_user(sqlite_db, email="owner@example.com")
    first = await create_account(sqlite_db, owner=owner, name="First")
    await create_account(sqlite_db, owner=owner, name="Second")
    async with sqlite_db.begin() as session:
        renamed: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
            update(ClientAccount).where(ClientAccount.id == first.id).values(name="First, renamed")
        )
        assert renamed.rowcount == 1
        everyone: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
            update(ClientAccount).values(billing_tax_id=None)
        )
        assert everyone.rowcount == 2
        returned = await session.execute(
            update(ClientAccount)
            .where(ClientAccount.id == first.id)
            .values(name="First again")
            .returning(ClientAccount.name)
        )
        assert returned.scalar_one() == "First again"


async def test_a_constraint_error_reaches_the_caller_and_the_connection_stays_usable(
    sqlite_db: Database,
) -> None:
    user = await create_user(sqlite_db, email="taken@example.com")
    columns = {c: getattr(user, c) for c in ("email", "name", "password_hash")}
    with pytest.raises(IntegrityError):
        async with sqlite_db.begin() as session:
            await session.execute(insert(User).values(**columns))
    async with sqlite_db.begin() as session:
        # Many rows in one trip (executemany); the earlier failure left nothing behind.
        await session.execute(
            text("UPDATE users SET name = :name WHERE email = :email"),
            [{"name": "Again", "email": "taken@example.com"}, {"name": "No one", "email": "none@x"}],
        )
    async with sqlite_db.read() as session:
        assert await session.scalar(select(User.name).where(User.id == user.id)) == "Again"
        assert await session.scalar(select(text("count(*)")).select_from(User)) == 1
