"""The look-ahead loads what a page's selection needs in one statement per level, and a field then
finds its row in hand: a plain value, not an awaitable (resolvers/core/lookahead.py)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from clientarea.catalogue import sync_catalogue
from models.accounts import ClientAccount
from models.database import Database
from models.hosting import Domain
from models.users import User
from resolvers.core.context import Context
from resolvers.core.lookahead import at_hand, domains_ahead, side_by_side
from resolvers.core.principal import Principal
from resolvers.core.settings import Settings
from resolvers.loaders import Loaders
from tests.factories import (
    create_account,
    create_contact,
    create_domain,
    create_service,
    create_user,
    session_for,
)
from tests.graphql import Api


def _context(db: Database, settings: Settings, user: User) -> Context:
    principal = Principal(user_id=user.id, email=user.email, credential="session", credential_id=uuid.uuid4())
    return Context(
        db=db,
        settings=settings,
        request=None,
        response=None,
        request_id="lookahead",
        principal=principal,
        make_loaders=Loaders,
    )


async def test_a_page_of_domains_costs_one_statement_per_level_and_its_rows_are_in_hand(
    db: Database, settings: Settings
) -> None:
    # Given three domains in three accounts of one owner
    await sync_catalogue(db)
    owner = await create_user(db)
    domains = [await create_domain(db, account=await create_account(db, owner=owner)) for _ in range(3)]
    context = _context(db, settings, owner)
    db.counter.reset()

    # When the page's selection asks for contacts and for accounts with their owners
    await domains_ahead(context, domains, {"contacts": {"registrant": {}}, "account": {"owner": {}}})

    # Then contacts cost one statement, accounts with their owners another, and each field reads
    # its row at once
    assert db.counter.count == 2
    for domain in domains:
        assert at_hand(context.loaders.contact, domain.registrant_contact_id, lambda row: row.id) == (
            domain.registrant_contact_id
        )
        assert at_hand(context.loaders.account, domain.account_id, lambda row: row.id) == domain.account_id
        assert at_hand(context.loaders.owner, domain.account_id, lambda row: row.id) == owner.id
    assert db.counter.count == 2


async def test_only_the_contact_roles_selected_are_fetched(db: Database, settings: Settings) -> None:
    # Given a domain whose admin contact is another than its registrant
    await sync_catalogue(db)
    owner = await create_user(db)
    account = await create_account(db, owner=owner)
    domain = await create_domain(db, account=account)
    admin = await create_contact(db, account=account, first_name="Ada")
    async with db.begin() as session:
        stored = await session.get(Domain, domain.id)
        assert stored is not None
        stored.admin_contact_id = admin.id
    context = _context(db, settings, owner)

    # When the page's selection shows only registrants
    await domains_ahead(context, [stored], {"contacts": {"registrant": {}}})

    # Then the registrant is in hand and the admin contact was not read
    assert domain.registrant_contact_id in context.loaders.contact._cache
    assert admin.id not in context.loaders.contact._cache


async def test_what_is_not_selected_is_not_fetched_and_loads_when_read(
    db: Database, settings: Settings
) -> None:
    # Given a domain whose page selects nothing related
    await sync_catalogue(db)
    owner = await create_user(db)
    domain = await create_domain(db, account=await create_account(db, owner=owner))
    context = _context(db, settings, owner)
    db.counter.reset()
    await domains_ahead(context, [domain], {"name": {}})
    assert db.counter.count == 0

    # When a field reads the domain's account
    pending = at_hand(context.loaders.account, domain.account_id, lambda row: row.name)

    # Then it is loaded then, through the same function
    assert inspect.isawaitable(pending)
    account = await context.loaders.account.load(domain.account_id)
    assert account is not None
    assert await pending == account.name
    assert db.counter.count == 1


def _names(row: ClientAccount) -> list[str]:
    return [row.name]


async def test_a_row_in_hand_is_shaped_once_and_afresh_once_changed(db: Database, settings: Settings) -> None:
    # Given an account the request has loaded
    owner = await create_user(db)
    account = await create_account(db, owner=owner, name="Before")
    context = _context(db, settings, owner)
    await context.loaders.account.load(account.id)

    # When fields of two parents read it, then a change primes it again
    first = at_hand(context.loaders.account, account.id, _names)
    second = at_hand(context.loaders.account, account.id, _names)
    context.loaders.account.clear(account.id).prime(account.id, ClientAccount(id=account.id, name="After"))

    # Then both parents share one value, and the changed row is shaped anew
    assert first is second
    assert first == ["Before"]
    assert at_hand(context.loaders.account, account.id, _names) == ["After"]


# A connection of each kind whose nodes are looked ahead, and the statement its look-ahead sends (a
# page of accounts brings the owners it shows: it looks nothing ahead).
_COUNTED = {
    "services": (
        "{ viewer { services(first: 2) { totalCount edges { node { account { name } } } } } }",
        "SELECT client_accounts.",
    ),
    "domains": (
        "{ viewer { domains(first: 2) { totalCount edges { node { account { name } } } } } }",
        "SELECT client_accounts.",
    ),
}


@pytest.mark.parametrize("connection", list(_COUNTED))
async def test_a_count_over_more_than_a_page_starts_before_the_look_ahead(
    api: Api, db: Database, settings: Settings, connection: str
) -> None:
    # Given an agency whose services and domains each fill more than the page asked for
    await sync_catalogue(db)
    agency = await create_user(db)
    for index in range(3):
        account = await create_account(db, owner=agency, name=f"Customer {index}")
        await create_service(db, account=account, label=f"www.c{index}.at")
        await create_domain(db, account=account, name=f"c{index}.at")
    client = api.new()
    client.set_session(await session_for(db, settings, agency))
    query, ahead = _COUNTED[connection]

    # When a partner asks for the first page, its count and what each node points at
    response, statements = await client.count(query)

    # Then the count is right and its statement went out before the look-ahead's (not after it)
    assert response.errors == []
    assert response.data["viewer"][connection]["totalCount"] == 3
    sent = client.db.counter.statements
    counted = next(i for i, s in enumerate(sent) if s.lstrip().upper().startswith("SELECT COUNT"))
    looked_ahead = next(i for i, s in enumerate(sent) if s.lstrip().startswith(ahead))
    assert counted < looked_ahead, sent
    assert statements == 4, sent


def _reads(log: list[str], fail: str | None = None) -> list[Callable[[], Awaitable[Any]]]:
    """Two reads that log their start and end; each waits a moment for the other to start."""
    started = {name: asyncio.Event() for name in "ab"}

    async def read(name: str, other: str) -> str:
        log.append(f"{name} starts")
        started[name].set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(started[other].wait(), 0.2)
        if name == fail:
            raise LookupError(name)
        log.append(f"{name} ends")
        return name

    return [lambda: read("a", "b"), lambda: read("b", "a")]


async def test_a_page_reads_its_related_rows_at_once_where_the_database_runs_them_side_by_side(
    db: Database, settings: Settings
) -> None:
    # Given a request on this database, and two independent reads of a page's related rows
    context = _context(db, settings, await create_user(db))
    log: list[str] = []

    # When the look-ahead runs them
    await side_by_side(context, _reads(log))

    # Then PostgreSQL gets both at once; SQLite (in this process) one after the other
    assert db.reads_overlap is not db.is_sqlite
    if db.reads_overlap:
        assert log[:2] == ["a starts", "b starts"]
    else:
        assert log == ["a starts", "a ends", "b starts", "b ends"]


async def test_a_failed_read_beside_another_fails_the_look_ahead_once_both_ended(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two reads at once, the first of which fails
    context = _context(db, settings, await create_user(db))
    monkeypatch.setattr(db, "overlaps_reads", True)
    log: list[str] = []

    # When the look-ahead runs them, then it raises the failure as it is, after the other ended
    with pytest.raises(LookupError, match="a"):
        await side_by_side(context, _reads(log, fail="a"))
    assert log == ["a starts", "b starts", "b ends"]


@pytest.mark.usefixtures("postgres_only")
async def test_a_loader_sends_the_same_statement_for_any_number_of_keys(
    db: Database, settings: Settings
) -> None:
    # Given four accounts and contacts of one owner
    owner = await create_user(db)
    accounts = [await create_account(db, owner=owner) for _ in range(4)]
    sent: dict[int, list[str]] = {}

    # When a request's loaders read one of them, and another request's three
    for count in (1, 3):
        context = _context(db, settings, owner)
        db.counter.reset()
        ids = [account.id for account in accounts[:count]]
        assert len(await context.loaders.account.load_many(ids)) == count
        await context.loaders.primary_contact.load_many(ids)
        sent[count] = db.counter.statements

    # Then each loader's statement reads the same (one array of keys), so it is prepared once
    assert len(sent[1]) == 2
    assert sent[1] == sent[3]
    assert all("= ANY (" in statement for statement in sent[1])


@pytest.mark.usefixtures("postgres_only")
async def test_reads_stop_overlapping_while_a_quarter_of_the_pool_is_out(db: Database) -> None:
    # Given a pool with nothing checked out, reads overlap
    pool: Any = db.engine.sync_engine.pool
    assert pool.checkedout() == 0
    assert db.reads_overlap

    # When more than a quarter of the pool is in use, they go one after the other
    held = [await db.engine.connect() for _ in range(pool.size() // 4 + 1)]
    try:
        assert not db.reads_overlap
    finally:
        for connection in held:
            await connection.close()

    # And once the connections are back, at once again
    assert db.reads_overlap
