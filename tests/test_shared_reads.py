"""One read session per request (models/database.py `shared_reads`): reused while free, never by
two batches at once, and never a source of stale or poisoned reads."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import bindparam, event, select, text, update
from sqlalchemy.exc import DBAPIError

from models.accounts import ClientAccount
from models.base import columns_of
from models.database import Database
from models.permissions import Permission
from resolvers.core.settings import Settings
from tests.factories import (
    add_member,
    create_account,
    create_domain,
    create_service,
    create_user,
    session_for,
)
from tests.graphql import Api


@contextmanager
def checkouts_of(db: Database) -> Iterator[list[object]]:
    """The pool's checkouts while the block runs."""
    checkouts: list[object] = []
    listener = lambda *args: checkouts.append(args)  # noqa: E731
    event.listen(db.engine.sync_engine.pool, "checkout", listener)
    try:
        yield checkouts
    finally:
        event.remove(db.engine.sync_engine.pool, "checkout", listener)


async def test_reads_in_the_block_share_one_session_and_close_it_after(db: Database) -> None:
    async with db.shared_reads():
        async with db.read() as first:
            await first.execute(text("SELECT 1"))
        async with db.read() as second:
            await second.execute(text("SELECT 1"))
        assert first is second
    assert second.get_bind() is not None
    # Closed: a session holds no connection after close().
    assert not second.in_transaction()


async def test_a_read_while_another_reads_gets_its_own_session(db: Database) -> None:
    async with db.shared_reads():
        async with db.read() as outer:
            async with db.read() as inner:
                assert inner is not outer
                await inner.execute(text("SELECT 1"))
            await outer.execute(text("SELECT 1"))

        async def read_twice() -> object:
            async with db.read() as session:
                await session.execute(text("SELECT 1"))
                await asyncio.sleep(0)
                await session.execute(text("SELECT 1"))
                return session

        sessions = await asyncio.gather(*(read_twice() for _ in range(4)))
        assert len({id(s) for s in sessions}) == 4


async def test_outside_the_block_every_read_has_its_own_session(db: Database) -> None:
    async with db.read() as first:
        pass
    async with db.read() as second:
        pass
    assert first is not second


async def test_a_shared_read_sees_what_a_write_committed_after_the_row_was_read(db: Database) -> None:
    owner = await create_user(db)
    account = await create_account(db, owner=owner, name="Before")
    reading = select(ClientAccount).where(ClientAccount.id == account.id)
    async with db.shared_reads():
        async with db.read() as session:
            row = (await session.execute(reading)).scalar_one()
            assert row.name == "Before"
        async with db.begin() as writing:
            await writing.execute(
                update(ClientAccount).where(ClientAccount.id == account.id).values(name="After")
            )
        async with db.read() as session:
            again = (await session.execute(reading)).scalar_one()
        assert again is not row
        assert again.name == "After"
        # The row read first keeps the values it was read with.
        assert row.name == "Before"


async def test_a_failed_statement_does_not_poison_the_next_read(db: Database) -> None:
    async with db.shared_reads():
        with pytest.raises(DBAPIError):
            async with db.read() as session:
                await session.execute(text("SELECT * FROM no_such_table"))
        async with db.read() as session:
            assert (await session.execute(text("SELECT 1"))).scalar_one() == 1


async def test_a_request_checks_out_one_connection_for_all_its_reads(
    api: Api, db: Database, settings: Settings
) -> None:
    agency = await create_user(db, email="agency@example.com")
    for index in range(3):
        account = await create_account(db, owner=await create_user(db), name=f"Customer {index}")
        await add_member(db, account=account, user=agency, permissions=list(Permission))
        await create_service(db, account=account)
        await create_domain(db, account=account)
    api.set_session(await session_for(db, settings, agency))
    with checkouts_of(db) as checkouts:
        response, statements = await api.count(
            """{ viewer { services(first: 10) { totalCount edges { node { id product { name }
                 account { name owner { name } } } } }
                 domains(first: 10) { totalCount edges { node { name account { name } } } } } }"""
        )
    assert response.errors == []
    assert len(response.data["viewer"]["services"]["edges"]) == 3
    # Session, the two pages (the services' with their products), accounts with their owners.
    assert statements >= 4
    # Reads that ran one after another shared a connection; only reads that overlapped (the two
    # connections' pages resolve side by side) took another.
    assert len(checkouts) <= 3, len(checkouts)


async def test_a_write_gives_the_idle_read_connection_back_first(db: Database) -> None:
    pool = db.engine.sync_engine.pool
    before = pool.checkedout()  # type: ignore[attr-defined]
    async with db.shared_reads():
        async with db.read() as session:
            await session.execute(text("SELECT 1"))
        assert pool.checkedout() == before + 1  # type: ignore[attr-defined]
        async with db.begin() as writing:
            await writing.execute(text("SELECT 1"))
            # The request holds the writer's connection only, not an idle reader's beside it.
            assert pool.checkedout() == before + 1  # type: ignore[attr-defined]
        async with db.read() as session:
            assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
    assert pool.checkedout() == before  # type: ignore[attr-defined]


async def test_an_error_caught_inside_a_read_leaves_the_next_read_working(db: Database) -> None:
    # On PostgreSQL a failed statement inside a transaction aborts it for every later statement;
    # shared reads run in autocommit mode there, so a caught error stays with its statement.
    async with db.shared_reads():
        async with db.read() as session:
            with pytest.raises(DBAPIError):
                await session.execute(text("SELECT * FROM no_such_table"))
        async with db.read() as session:
            assert (await session.execute(text("SELECT 1"))).scalar_one() == 1


async def test_a_read_still_running_when_the_request_ends_gives_its_connection_back(db: Database) -> None:
    pool = db.engine.sync_engine.pool
    before = pool.checkedout()  # type: ignore[attr-defined]
    reading, release = asyncio.Event(), asyncio.Event()

    async def left_running() -> None:
        async with db.read() as session:
            await session.execute(text("SELECT 1"))
            reading.set()
            await release.wait()
            await session.execute(text("SELECT 1"))

    async with db.shared_reads():
        task = asyncio.create_task(left_running())
        await reading.wait()
    release.set()
    await task
    assert pool.checkedout() == before  # type: ignore[attr-defined]


async def test_a_read_starting_after_the_request_ended_uses_a_session_of_its_own(db: Database) -> None:
    pool = db.engine.sync_engine.pool
    before = pool.checkedout()  # type: ignore[attr-defined]
    go = asyncio.Event()

    async def late() -> None:
        await go.wait()
        async with db.read() as session:
            await session.execute(text("SELECT 1"))

    async with db.shared_reads():
        task = asyncio.create_task(late())
    go.set()
    await task
    assert pool.checkedout() == before  # type: ignore[attr-defined]


async def test_requests_reading_side_by_side_never_starve_the_pool(settings: Settings) -> None:
    # More requests than the pool has connections, each reading in two batches at once: a request
    # holding its idle shared connection while waiting for a second would leave the pool dry.
    db = Database(settings.database_url, pool_size=2, pool_timeout=10)

    async def batch() -> None:
        async with db.read() as session:
            await session.execute(text("SELECT 1"))
            await asyncio.sleep(0.005)

    async def request() -> None:
        async with db.shared_reads():
            for _ in range(3):
                await batch()
                await asyncio.gather(batch(), batch())

    try:
        await asyncio.wait_for(asyncio.gather(*(request() for _ in range(24))), timeout=8)
    finally:
        await db.dispose()


async def test_rows_of_a_statement_of_columns_are_those_the_session_reads(db: Database) -> None:
    # Given accounts, and a statement of their columns that names the mapped class in its condition
    for name in ("Alpha", "Beta", "Gamma"):
        await create_account(db, owner=await create_user(db), name=name)
    statement = (
        select(*columns_of(ClientAccount))
        .where(ClientAccount.name != bindparam("skipped"))
        .order_by(ClientAccount.name)
    )
    # When read past the ORM and through it
    plain = await db.rows(statement, {"skipped": "Beta"})
    async with db.read() as session:
        through = (await session.execute(statement, {"skipped": "Beta"})).all()
    # Then the rows are the same, values converted alike (IDs, times, enums)
    assert [tuple(row) for row in plain] == [tuple(row) for row in through]
    assert [row.name for row in plain] == ["Alpha", "Gamma"]
    assert isinstance(plain[0].id, uuid.UUID)


async def test_rows_share_the_requests_connection_and_leave_it_usable(db: Database) -> None:
    with checkouts_of(db) as checkouts:
        async with db.shared_reads():
            assert (await db.rows(text("SELECT 1")))[0][0] == 1
            async with db.read() as session:
                assert (await session.execute(text("SELECT 2"))).scalar_one() == 2
            # A failed statement gives its connection up; the next read works.
            with pytest.raises(DBAPIError):
                await db.rows(text("SELECT * FROM no_such_table"))
            assert (await db.rows(text("SELECT 3")))[0][0] == 3
    # One connection until the failure, another after it; none held once the block ends.
    assert len(checkouts) == 2, len(checkouts)
    assert db.engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_rows_after_a_session_read_on_its_connection(db: Database) -> None:
    with checkouts_of(db) as checkouts:
        async with db.shared_reads():
            async with db.read() as session:
                await session.execute(text("SELECT 1"))
            assert (await db.rows(text("SELECT 2")))[0][0] == 2
            async with db.read() as again:
                assert again is session
    assert len(checkouts) == 1, len(checkouts)
    assert db.engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_under_load_reads_wait_for_the_shared_connection_rather_than_take_more(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not db.overlaps_reads:
        pytest.skip("SQLite runs no reads side by side: they never wait for each other")
    # Given a pool a quarter out (other requests' reads)
    monkeypatch.setattr(Database, "reads_overlap", property(lambda _db: False))
    # When four reads of one request start at once
    with checkouts_of(db) as checkouts:
        async with db.shared_reads():
            answers = await asyncio.gather(*(db.rows(text(f"SELECT {n}")) for n in range(4)))
    # Then they took turns on one connection, each with its own answer
    assert [rows[0][0] for rows in answers] == [0, 1, 2, 3]
    assert len(checkouts) == 1, len(checkouts)


async def test_while_the_pool_is_free_reads_of_one_request_go_side_by_side(db: Database) -> None:
    if not db.overlaps_reads:
        pytest.skip("SQLite runs no reads side by side")
    assert db.reads_overlap
    with checkouts_of(db) as checkouts:
        async with db.shared_reads():
            await asyncio.gather(*(db.rows(text("SELECT pg_sleep(0.05)")) for _ in range(3)))
    assert len(checkouts) == 3, len(checkouts)


async def test_a_read_never_waits_for_a_session_block_of_its_own_request(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Database, "reads_overlap", property(lambda _db: False))
    # A batch in a session block may await a read it started: that read goes elsewhere
    async with db.shared_reads(), db.read() as session:
        await session.execute(text("SELECT 1"))
        rows = await asyncio.wait_for(db.rows(text("SELECT 2")), timeout=10)
        assert rows[0][0] == 2
