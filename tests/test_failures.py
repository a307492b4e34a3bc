"""Failure tests: the database goes away, the pool runs dry, a server dies in the middle of an order.

Each answer must come within a bound: 503 SERVICE_UNAVAILABLE with Retry-After and no detail, one
log line per outage rather than a traceback per request, and the server must recover by itself
once the database is back.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from clientarea.app import create_app
from clientarea.catalogue import sync_catalogue
from clientarea.migrate import upgrade
from models import ClientAccount, Domain, IdempotencyKey, Invoice, Order, Product, Service
from models.database import Database
from resolvers.core.ids import encode_id
from resolvers.core.numbers import next_number
from resolvers.core.settings import Settings
from tests.conftest import make_settings
from tests.factories import create_account, create_user, session_for
from tests.outages import ServerProcess, log_records, server_process, tcp_proxy

PRODUCTS = "{ products(first: 1) { totalCount } }"
VIEWER = "{ viewer { user { email } } }"
PLACE_ORDER = """
mutation PlaceOrder($input: PlaceOrderInput!) {
  placeOrder(input: $input) { order { id number invoice { id } } userErrors { code } }
}
"""
EMAIL = "owner@example.com"
POOL_TIMEOUT = 1.0
# Anything that would tell an attacker how the server is built or where its database lives.
DETAIL = re.compile(
    r"(?i:traceback|sqlalchemy|asyncpg|aiosqlite|sqlite|postgres|psycopg|queuepool|localhost|refused|"
    r"timed out|unable to open)|[A-Z][a-z]\w*(Error|Exception)\b|File \"|\.py\b|127\.0\.0\.1|"
    r"\b(SELECT|INSERT|UPDATE|DELETE)\b"
)


class Client:
    """One HTTP client against one server, anonymous or with a session cookie; every request sends
    its own X-Request-ID so the answer and the log can be matched."""

    def __init__(self, http: httpx.AsyncClient, cookie: str) -> None:
        self.http = http
        self.cookie = cookie
        self._sent = 0

    def next_request_id(self) -> str:
        self._sent += 1
        return f"failure-test-{self._sent:04d}"

    async def graphql(
        self, query: str, variables: dict[str, Any] | None = None, *, signed_in: bool = False
    ) -> tuple[httpx.Response, str]:
        request_id = self.next_request_id()
        headers = {"x-request-id": request_id}
        if signed_in:
            headers["cookie"] = f"clientarea_session={self.cookie}"
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        return response, request_id


def assert_unavailable(response: httpx.Response, request_id: str, retry_after: str = "2") -> None:
    """A 503 SERVICE_UNAVAILABLE with Retry-After that names nothing of how the server is built."""
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == retry_after
    assert response.headers["content-type"].startswith("application/json"), response.text
    assert not DETAIL.search(response.text), response.text
    body = response.json()
    assert body.get("data") in (None, {}), body
    [error] = body["errors"]
    assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE"}
    assert set(error) <= {"message", "locations", "path", "extensions"}
    assert response.headers["x-request-id"] == request_id


def assert_one_line_per_outage(server: ServerProcess, outages: int) -> None:
    """The log says when the database went away, once per outage, and carries no traceback."""
    records = list(log_records(server.log))
    assert not [r for r in records if "exception" in r], server.log
    went_away = [r for r in records if r["message"].startswith("database unavailable")]
    assert len(went_away) == outages, server.log


async def assert_down(client: Client) -> None:
    ready = await client.http.get("/readyz")
    assert ready.status_code == 503
    assert not DETAIL.search(ready.text), ready.text
    for signed_in in (False, True, False, True):
        started = time.monotonic()
        response, request_id = await client.graphql(VIEWER if signed_in else PRODUCTS, signed_in=signed_in)
        assert time.monotonic() - started < 1.0  # refused at once, not after the pool timeout
        assert_unavailable(response, request_id)


async def assert_up(client: Client) -> None:
    assert (await client.http.get("/readyz")).status_code == 200
    anonymous, _ = await client.graphql(PRODUCTS)
    assert anonymous.status_code == 200
    assert "errors" not in anonymous.json(), anonymous.text
    signed_in, _ = await client.graphql(VIEWER, signed_in=True)
    assert signed_in.json()["data"] == {"viewer": {"user": {"email": EMAIL}}}, signed_in.text


async def wait_until_ready(client: Client, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while (await client.http.get("/readyz")).status_code != 200:
        assert time.monotonic() < deadline, "the server did not recover"
        await asyncio.sleep(0.1)


async def signed_in_owner(db: Database, settings: Settings) -> tuple[ClientAccount, str]:
    owner = await create_user(db, email=EMAIL)
    account = await create_account(db, owner=owner, name="Customer GmbH")
    return account, await session_for(db, settings, owner)


def via_proxy(database_url: str, port: int) -> str:
    return make_url(database_url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


# --- the database goes away -----------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.usefixtures("postgres_only")
async def test_postgresql_going_away_answers_503_with_retry_after_then_recovers_by_itself(
    database_url: str, db: Database, settings: Settings, tmp_path: Path
) -> None:
    _, cookie = await signed_in_owner(db, settings)
    upstream = make_url(database_url)
    async with (
        tcp_proxy(upstream.host or "127.0.0.1", upstream.port or 5432) as proxy,
        server_process(via_proxy(database_url, proxy.port), tmp_path / "server.log") as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=10) as http,
    ):
        client = Client(http, cookie)
        await assert_up(client)

        for outage in (1, 2):
            await proxy.stop()
            await assert_down(client)
            await proxy.start()
            await wait_until_ready(client, within=5.0)
            await assert_up(client)
            assert_one_line_per_outage(server, outage)


@pytest.mark.e2e
@pytest.mark.usefixtures("sqlite_only")
async def test_a_sqlite_file_out_of_reach_answers_503_with_retry_after_then_recovers_by_itself(
    tmp_path: Path,
) -> None:
    # An open SQLite connection keeps its file even when the file moves, so the outage is a volume
    # that is not mounted yet when the server starts: the database's directory is elsewhere.
    home = tmp_path / "volume"
    home.mkdir()
    url = f"sqlite+aiosqlite:///{home / 'clientarea.db'}"
    await asyncio.to_thread(upgrade, url)
    database = Database(url)
    try:
        _, cookie = await signed_in_owner(database, make_settings(url))
    finally:
        await database.dispose()
    unmounted = home.rename(tmp_path / "unmounted")

    async with (
        server_process(url, tmp_path / "server.log") as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=10) as http,
    ):
        client = Client(http, cookie)
        await assert_down(client)

        unmounted.rename(home)
        await wait_until_ready(client, within=5.0)
        await assert_up(client)
        assert_one_line_per_outage(server, 1)


# --- the pool runs dry ----------------------------------------------------------------------


@pytest.fixture
async def tight_pool(
    database_url: str, db: Database, settings: Settings
) -> AsyncIterator[tuple[Client, Database]]:
    """A client of an app whose pool has one connection (and, as Database allows, one overflow),
    and that app's Database."""
    _, cookie = await signed_in_owner(db, settings)
    app = create_app(make_settings(database_url, db_pool_size=1, db_pool_timeout_seconds=POOL_TIMEOUT))
    pooled: Database = app.state.db
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://testserver"
        ) as http:
            yield Client(http, cookie), pooled
    finally:
        await pooled.dispose()


@pytest.mark.usefixtures("postgres_only")
async def test_an_exhausted_pool_answers_503_within_the_pool_timeout(
    tight_pool: tuple[Client, Database],
) -> None:
    client, pooled = tight_pool

    async with pooled.engine.connect(), pooled.engine.connect():
        for query, signed_in in ((PRODUCTS, False), (VIEWER, True)):
            started = time.monotonic()
            response, request_id = await asyncio.wait_for(
                client.graphql(query, signed_in=signed_in), timeout=POOL_TIMEOUT * 10
            )
            elapsed = time.monotonic() - started

            assert_unavailable(response, request_id, retry_after="1")
            assert POOL_TIMEOUT * 0.9 <= elapsed < POOL_TIMEOUT * 3
        ready = await asyncio.wait_for(client.http.get("/readyz"), timeout=POOL_TIMEOUT * 10)
        assert ready.status_code == 503

    await assert_up(client)


# --- a server dies in the middle of placeOrder -----------------------------------------------


async def rows_of(db: Database, account: ClientAccount) -> dict[str, int]:
    counted: dict[str, Any] = {
        "orders": Order.account_id,
        "invoices": Invoice.account_id,
        "services": Service.account_id,
        "domains": Domain.account_id,
        "idempotency keys": IdempotencyKey.account_id,
    }
    async with db.read() as session:
        return {
            name: await session.scalar(select(func.count()).where(column == account.id)) or 0
            for name, column in counted.items()
        }


async def waiting_on_a_lock(db: Database, within: float = 10.0) -> int:
    """The PostgreSQL backend waiting for the order counter's row lock."""
    statement = text(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND query LIKE '%number_sequences%'"
    )
    deadline = time.monotonic() + within
    while True:
        async with db.read() as session:
            pid = await session.scalar(statement)
        if pid is not None:
            return int(pid)
        assert time.monotonic() < deadline, "placeOrder never reached the order counter"
        await asyncio.sleep(0.05)


async def tables_written_by(db: Database, pid: int) -> set[str]:
    """The tables a backend's open transaction has written to (it holds RowExclusiveLock on them)."""
    statement = text(
        "SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
        " WHERE l.pid = :pid AND l.mode = 'RowExclusiveLock' AND l.granted AND c.relkind = 'r'"
    )
    async with db.read() as session:
        return set(await session.scalars(statement, {"pid": pid}))


async def backend_gone(db: Database, pid: int, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while True:
        async with db.read() as session:
            alive = await session.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            )
        if not alive:
            return
        assert time.monotonic() < deadline, "the killed server's transaction is still open"
        await asyncio.sleep(0.05)


@pytest.mark.e2e
@pytest.mark.usefixtures("postgres_only")
async def test_a_server_killed_mid_order_leaves_nothing_and_the_retry_succeeds_once(
    database_url: str, db: Database, settings: Settings, tmp_path: Path
) -> None:
    account, cookie = await signed_in_owner(db, settings)
    await sync_catalogue(db)
    async with db.begin() as session:
        products = {p.key: encode_id("Product", p.id) for p in await session.scalars(select(Product))}
        # The order counter's row must exist for the test to lock it.
        await next_number(session, "order")
    order_input = {
        "input": {
            "accountId": encode_id("ClientAccount", account.id),
            "idempotencyKey": "order-killed-once",
            "items": [
                {"productId": products["webhosting-s"], "billingCycle": "MONTHLY"},
                {
                    "productId": products["domain-at"],
                    "billingCycle": "ANNUALLY",
                    "domain": {"name": "killed.at", "action": "REGISTER", "period": 1, "contacts": {}},
                },
            ],
        }
    }

    # Given placeOrder has stored the service and the domain and waits for the order counter, which
    # the test holds; when the server is killed there and the lock is let go,
    async with server_process(database_url, tmp_path / "killed.log") as server:
        async with (
            httpx.AsyncClient(base_url=server.base_url, timeout=10) as http,
            db.engine.connect() as counter_lock,
        ):
            await counter_lock.execute(
                text("SELECT next_value FROM number_sequences WHERE name = 'order' FOR UPDATE")
            )
            request = asyncio.create_task(
                Client(http, cookie).graphql(PLACE_ORDER, order_input, signed_in=True)
            )
            backend = await waiting_on_a_lock(db)
            assert {"services", "domains"} <= await tables_written_by(db, backend)
            await server.kill()
            with pytest.raises(httpx.TransportError):
                await request
            await counter_lock.rollback()
        await backend_gone(db, backend)

    # then nothing of the order remains,
    assert await rows_of(db, account) == dict.fromkeys(
        ("orders", "invoices", "services", "domains", "idempotency keys"), 0
    )

    # and the client's retry with the same key places it exactly once.
    async with (
        server_process(database_url, tmp_path / "restarted.log") as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=10) as http,
    ):
        client = Client(http, cookie)
        retried, _ = await client.graphql(PLACE_ORDER, order_input, signed_in=True)
        replayed, _ = await client.graphql(PLACE_ORDER, order_input, signed_in=True)

    placed = retried.json()["data"]["placeOrder"]
    assert placed["userErrors"] == []
    assert replayed.json()["data"]["placeOrder"] == placed
    assert await rows_of(db, account) == {
        "orders": 1,
        "invoices": 1,
        "services": 1,
        "domains": 1,
        "idempotency keys": 1,
    }
