"""Production-shaped load on PostgreSQL: `serve --workers 2` and a second server on one database,
customers placing orders (each sent twice at once with one idempotency key, to both servers),
owners inviting people, an agency reading its dashboard and services; then the order benchmark.

No answer may be a 5xx or INTERNAL_SERVER_ERROR, every replay answers its order, the numbers stay
gap-free and no server logs an error.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from benchmarks.orders import PLACE_ORDER, Customer, customers, order_input, run_level
from models import Invoice, Order
from models.database import Database
from models.permissions import Permission
from resolvers.core.settings import Settings
from schema.core.ids import decode_id
from tests.contract_check import CONTRACT_OPERATIONS
from tests.factories import add_member, create_user, session_for
from tests.outages import ServerProcess, log_records, server_process

SECONDS = 8.0
# Pools a third of the default per process, so connections are scarce as under a larger load; and
# starved, so requests wait past the pool timeout.
SCARCE = ("3", "3")
STARVED = ("2", "1")
DASHBOARD = CONTRACT_OPERATIONS / "dashboard_accounts.graphql"
SERVICES = """
query { viewer { services(first: 50) { totalCount edges { node { id status account { name } } } } } }
"""
INVITE = """
mutation InviteUser($input: InviteUserInput!) {
  inviteUser(input: $input) { invitation { id } userErrors { code } }
}
"""


class Load:
    """Every answer of the run, by operation; what must never happen is collected, not raised."""

    def __init__(self, *, busy_allowed: bool) -> None:
        self.busy_allowed = busy_allowed
        self.answers: Counter[str] = Counter()
        self.busy = 0
        self.problems: list[str] = []
        self.order_ids: set[str] = set()

    async def send(
        self, http: httpx.AsyncClient, name: str, query: str, variables: dict[str, Any], cookie: str
    ) -> dict[str, Any] | None:
        response = await http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"cookie": f"clientarea_session={cookie}"},
        )
        self.answers[name] += 1
        if self.busy_allowed and _clean_503(response):
            self.busy += 1
            return None
        if response.status_code != 200 or "INTERNAL_SERVER_ERROR" in response.text:
            self.problems.append(f"{name}: HTTP {response.status_code} {response.text[:300]}")
            return None
        body: dict[str, Any] = response.json()
        if body.get("errors"):
            self.problems.append(f"{name}: {body['errors']}")
            return None
        data: dict[str, Any] = body["data"]
        return data


def _clean_503(response: httpx.Response) -> bool:
    """The answer to no free connection in time: 503, Retry-After, SERVICE_UNAVAILABLE only."""
    if response.status_code != 503 or response.headers.get("retry-after") != "1":
        return False
    return {e["extensions"]["code"] for e in response.json()["errors"]} == {"SERVICE_UNAVAILABLE"}


async def _orders_with_replays(
    load: Load, servers: list[httpx.AsyncClient], customer: Customer, products: dict[str, str], until: float
) -> None:
    for number in itertools.count():
        if time.monotonic() >= until:
            return
        variables = order_input(customer, products, key=f"load-{customer.account_id[-6:]}-{number}")
        # The same order from two clients at once, one on each server.
        answers = await asyncio.gather(
            *(load.send(http, "placeOrder", PLACE_ORDER, variables, customer.cookie) for http in servers)
        )
        payloads = [a["placeOrder"] for a in answers if a is not None]
        if any(p["userErrors"] for p in payloads) or len({p["order"]["id"] for p in payloads}) > 1:
            load.problems.append(f"replay did not answer the order: {payloads}")
        load.order_ids.update(p["order"]["id"] for p in payloads if p["order"])


async def _invitations(load: Load, http: httpx.AsyncClient, customer: Customer, until: float) -> None:
    for number in itertools.count():
        if time.monotonic() >= until:
            return
        variables = {
            "input": {
                "accountId": customer.account_id,
                "email": f"invitee-{customer.account_id[-6:]}-{number}@example.com",
                "permissions": ["VIEW_SERVICES"],
            }
        }
        data = await load.send(http, "inviteUser", INVITE, variables, customer.cookie)
        # Past 20 a minute the answer is RATE_LIMITED, data like any other.
        if data is not None and data["inviteUser"]["userErrors"]:
            codes = {e["code"] for e in data["inviteUser"]["userErrors"]}
            if codes != {"RATE_LIMITED"}:
                load.problems.append(f"inviteUser: {codes}")


async def _reads(load: Load, http: httpx.AsyncClient, cookie: str, until: float) -> None:
    dashboard = DASHBOARD.read_text()
    while time.monotonic() < until:
        await load.send(http, "DashboardAccounts", dashboard, {}, cookie)
        await load.send(http, "PartnerServices", SERVICES, {}, cookie)


async def _assert_numbers_gap_free(db: Database) -> None:
    async with db.read() as session:
        orders = sorted(int(n) for n in await session.scalars(select(Order.number)))
        invoices = sorted(int(n.split("-")[1]) for n in await session.scalars(select(Invoice.number)))
        per_order = set(
            await session.scalars(select(func.count()).select_from(Invoice).group_by(Invoice.order_id))
        )
    assert orders == list(range(orders[0], orders[0] + len(orders)))
    assert invoices == list(range(invoices[0], invoices[0] + len(invoices)))
    assert per_order == {1}


def _assert_quiet(*servers: ServerProcess) -> None:
    for server in servers:
        loud = [r for r in log_records(server.log) if r["level"] in {"error", "critical"} or "exception" in r]
        assert not loud, loud[:3]


async def _mixed_load(
    database_url: str, db: Database, settings: Settings, log_folder: Path, pool: tuple[str, str]
) -> tuple[Load, list[ServerProcess]]:
    made, products = await customers(db, settings, 16)
    agency = await create_user(db, email="agency@example.com", name="Agency")
    for customer in made:
        account = decode_id(customer.account_id, "ClientAccount")
        assert account is not None
        await add_member(db, account=await _account(db, account), user=agency, permissions=list(Permission))
    agency_cookie = await session_for(db, settings, agency)
    load = Load(busy_allowed=pool is STARVED)

    size, timeout = pool
    async with (
        server_process(
            database_url,
            log_folder / "two-workers.log",
            workers=2,
            db_pool_size=size,
            db_pool_timeout_seconds=timeout,
        ) as first,
        server_process(
            database_url, log_folder / "second.log", db_pool_size=size, db_pool_timeout_seconds=timeout
        ) as second,
        httpx.AsyncClient(base_url=first.base_url, timeout=30) as one,
        httpx.AsyncClient(base_url=second.base_url, timeout=30) as other,
    ):
        until = time.monotonic() + SECONDS
        await asyncio.wait_for(
            asyncio.gather(
                *(_orders_with_replays(load, [one, other], c, products, until) for c in made[:12]),
                *(_invitations(load, (one, other)[i % 2], c, until) for i, c in enumerate(made[12:])),
                *(_reads(load, http, agency_cookie, until) for http in (one, other, one, other)),
            ),
            timeout=SECONDS + 60,
        )
        await asyncio.sleep(0.3)
    return load, [first, second]


@pytest.mark.e2e
@pytest.mark.usefixtures("postgres_only")
async def test_mixed_load_on_two_servers_answers_everything_cleanly(
    database_url: str, db: Database, settings: Settings, tmp_path: Path
) -> None:
    load, servers = await _mixed_load(database_url, db, settings, tmp_path, SCARCE)

    kinds = Counter(p[:60] for p in load.problems)
    assert load.problems == [], (kinds, load.problems[:3])
    assert min(load.answers[name] for name in ("placeOrder", "inviteUser", "DashboardAccounts")) > 0
    assert len(load.order_ids) * 2 == load.answers["placeOrder"]
    await _assert_numbers_gap_free(db)
    _assert_quiet(*servers)


@pytest.mark.e2e
@pytest.mark.usefixtures("postgres_only")
async def test_a_starved_pool_answers_a_clean_503_never_an_internal_error(
    database_url: str, db: Database, settings: Settings, tmp_path: Path
) -> None:
    load, servers = await _mixed_load(database_url, db, settings, tmp_path, STARVED)

    kinds = Counter(p[:60] for p in load.problems)
    assert load.problems == [], (kinds, load.problems[:3])
    assert load.answers["placeOrder"] > 0
    await _assert_numbers_gap_free(db)
    _assert_quiet(*servers)


async def _account(db: Database, account_id: Any) -> Any:
    from models import ClientAccount

    async with db.read() as session:
        return await session.get_one(ClientAccount, account_id)


@pytest.mark.timing
@pytest.mark.e2e
@pytest.mark.usefixtures("postgres_only")
async def test_orders_do_not_queue_p99_at_16_clients_within_4_times_p50(
    database_url: str, db: Database, settings: Settings, tmp_path: Path
) -> None:
    made, products = await customers(db, settings, 16)
    async with server_process(database_url, tmp_path / "server.log") as server:
        await run_level(server.base_url, made[:4], products, 1.0)
        timings = await run_level(server.base_url, made, products, SECONDS)

    assert timings.failures == []
    assert len(timings.placed) >= 16
    p50, p99 = statistics.median(timings.placed), timings.quantile(0.99)
    assert p99 <= 4 * p50, timings.line(16, SECONDS)
    await _assert_numbers_gap_free(db)
