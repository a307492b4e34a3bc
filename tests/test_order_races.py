"""Replays of one placeOrder racing each other: every replay answers the first order, never an error.

The idempotency key is decided before the domain check, under a lock the replay waits on.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import TextClause, func, select, text

from models import Order
from models.database import Database
from resolvers.core.numbers import next_number
from resolvers.core.settings import Settings
from tests.factories import session_for
from tests.graphql import Api, Response
from tests.test_orders import PLACE_ORDER, Shop, _customer, _domain, _hosting, _input


@pytest.fixture
async def shop(db: Database) -> Shop:
    return await Shop(db).load()


async def _orders(db: Database) -> int:
    async with db.read() as session:
        return await session.scalar(select(func.count()).select_from(Order)) or 0


WAITING_FOR_THE_COUNTER = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND wait_event_type = 'Lock' AND query LIKE '%number_sequences%'"
)
WAITING_FOR_A_KEY = text("SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'advisory'")


async def _until(db: Database, waiting: TextClause, within: float = 10.0) -> None:
    """Returns once the statement counts a backend waiting on the lock it looks for."""
    deadline = time.monotonic() + within
    while True:
        async with db.read() as session:
            if await session.scalar(waiting):
                return
        assert time.monotonic() < deadline, f"no request is waiting: {waiting}"
        await asyncio.sleep(0.05)


@pytest.mark.usefixtures("postgres_only")
async def test_a_replay_waiting_on_the_first_request_answers_its_order(
    api: Api, db: Database, settings: Settings, shop: Shop
) -> None:
    owner, account, first = await _customer(api, db, settings)
    second = api.new()
    second.set_session(await session_for(db, settings, owner))
    order = _input(account, [_hosting(shop), _domain(shop, name="replayed.at")], key="double-click")
    async with db.begin() as session:
        await next_number(session, "order")  # the counter row must exist for the test to lock it

    # Given the first request has stored its domain and waits for the order counter the test holds,
    # and the replay has started behind it,
    async with db.engine.connect() as counter:
        await counter.execute(text("SELECT next_value FROM number_sequences WHERE name = 'order' FOR UPDATE"))
        placing = asyncio.create_task(first(PLACE_ORDER, order))
        replaying: asyncio.Task[Response] | None = None
        try:
            await _until(db, WAITING_FOR_THE_COUNTER)
            replaying = asyncio.create_task(second(PLACE_ORDER, order))
            # then the replay waits on the first request's key, before it looks at any domain;
            await _until(db, WAITING_FOR_A_KEY)
        finally:
            await counter.rollback()
            requests = [t for t in (placing, replaying) if t is not None]
            await asyncio.wait_for(asyncio.wait(requests), timeout=20)
    assert replaying is not None
    placed, replayed = placing.result(), replaying.result()

    # and once the first commits, both answer the same order.
    assert placed.payload("placeOrder")["userErrors"] == []
    assert replayed.payload("placeOrder") == placed.payload("placeOrder")
    assert await _orders(db) == 1


async def test_parallel_replays_of_an_order_with_a_domain_all_answer_the_order(
    api: Api, db: Database, settings: Settings, shop: Shop
) -> None:
    owner, account, _ = await _customer(api, db, settings)
    browsers = []
    for _ in range(6):
        browser = api.new()
        browser.set_session(await session_for(db, settings, owner))
        browsers.append(browser)

    for round_ in range(4):
        order = _input(account, [_domain(shop, name=f"parallel{round_}.at")], key=f"parallel-{round_}")
        responses = await asyncio.gather(*(b(PLACE_ORDER, order) for b in browsers))

        payloads = [r.payload("placeOrder") for r in responses]
        assert all(p["userErrors"] == [] for p in payloads), payloads
        assert len({p["order"]["id"] for p in payloads}) == 1
    assert await _orders(db) == 4


async def test_another_key_for_a_domain_just_ordered_is_still_unavailable(
    api: Api, db: Database, settings: Settings, shop: Shop
) -> None:
    _, account, api = await _customer(api, db, settings)

    first = await api(PLACE_ORDER, _input(account, [_domain(shop, name="taken.at")], key="one"))
    other = await api(PLACE_ORDER, _input(account, [_domain(shop, name="taken.at")], key="two"))

    assert first.payload("placeOrder")["userErrors"] == []
    assert other.user_error_codes("placeOrder") == ["DOMAIN_UNAVAILABLE"]
