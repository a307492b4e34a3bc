"""Benchmark of placeOrder under concurrency: p50/p99 at 8, 16 and 32 concurrent clients.

Run with `scripts/bench-orders --database-url postgresql+asyncpg://…` (PostgreSQL: on SQLite every
writer waits for the one before it, so the numbers say nothing about lock contention). Each client
is its own customer placing orders of a hosting package and a domain, one after the other, against
`clientarea serve`; printed, not asserted (tests/test_mixed_load.py checks the bound).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from clientarea.catalogue import sync_catalogue
from clientarea.migrate import upgrade
from models.catalogue import Product
from models.database import Database
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from tests.factories import create_account, create_user, session_for
from tests.outages import server_process

PLACE_ORDER = """
mutation PlaceOrder($input: PlaceOrderInput!) {
  placeOrder(input: $input) {
    order { id number invoice { number } }
    userErrors { code message }
  }
}
"""
LEVELS = (8, 16, 32)
_names = itertools.count()
_run = uuid.uuid4().hex[:8]


@dataclass
class Customer:
    account_id: str
    cookie: str


@dataclass
class Timings:
    """Latencies of successful orders in milliseconds, and what went wrong otherwise."""

    placed: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def quantile(self, q: float) -> float:
        ordered = sorted(self.placed)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def line(self, clients: int, seconds: float) -> str:
        if not self.placed:
            return f"{clients:3} clients: no order placed; failures: {self.failures[:3]}"
        return (
            f"{clients:3} clients: {len(self.placed):5} orders {len(self.placed) / seconds:6.1f}/s"
            f"  p50 {self.quantile(0.5):7.1f} ms  p90 {self.quantile(0.9):7.1f} ms"
            f"  p99 {self.quantile(0.99):7.1f} ms  max {max(self.placed):7.1f} ms"
            f"  p99/p50 {self.quantile(0.99) / statistics.median(self.placed):4.1f}"
            f"  failures {len(self.failures)}"
        )


async def customers(db: Database, settings: Settings, count: int) -> tuple[list[Customer], dict[str, str]]:
    """`count` owners with an account each, signed in; and the catalogue's product IDs by key."""
    await sync_catalogue(db)
    async with db.read() as session:
        products = {p.key: encode_id("Product", p.id) for p in await session.scalars(select(Product))}
    made = []
    for index in range(count):
        owner = await create_user(
            db, email=f"bench-{uuid.uuid4().hex[:12]}@example.com", name=f"Owner {index}"
        )
        account = await create_account(db, owner=owner, name=f"Customer {index:03}")
        made.append(Customer(encode_id("ClientAccount", account.id), await session_for(db, settings, owner)))
    return made, products


def order_input(customer: Customer, products: dict[str, str], key: str) -> dict[str, Any]:
    """A hosting package and a domain nobody has ordered yet."""
    name = f"bench-{_run}-{next(_names)}.at"
    return {
        "input": {
            "accountId": customer.account_id,
            "idempotencyKey": key,
            "items": [
                {"productId": products["webhosting-s"], "billingCycle": "MONTHLY"},
                {
                    "productId": products["domain-at"],
                    "billingCycle": "ANNUALLY",
                    "domain": {"name": name, "action": "REGISTER", "period": 1, "contacts": {}},
                },
            ],
        }
    }


async def place(
    http: httpx.AsyncClient, customer: Customer, variables: dict[str, Any]
) -> tuple[float, str | None]:
    """One placeOrder: its latency in ms and, when it did not place the order, why."""
    started = time.perf_counter()
    response = await http.post(
        "/graphql",
        json={"query": PLACE_ORDER, "variables": variables},
        headers={"cookie": f"clientarea_session={customer.cookie}"},
    )
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        return elapsed, f"HTTP {response.status_code}: {response.text[:200]}"
    body = response.json()
    if body.get("errors"):
        return elapsed, str(body["errors"])[:200]
    payload = body["data"]["placeOrder"]
    return elapsed, str(payload["userErrors"])[:200] if payload["userErrors"] else None


async def run_level(
    base_url: str, clients: list[Customer], products: dict[str, str], seconds: float
) -> Timings:
    timings = Timings()
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=len(clients))

    async def client(customer: Customer, http: httpx.AsyncClient) -> None:
        for number in itertools.count():
            if time.perf_counter() >= deadline:
                return
            key = f"bench-{customer.account_id[-8:]}-{time.time_ns()}-{number}"
            elapsed, failure = await place(http, customer, order_input(customer, products, key))
            if failure is None:
                timings.placed.append(elapsed)
            else:
                timings.failures.append(failure)

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as http:
        await asyncio.gather(*(client(customer, http) for customer in clients))
    return timings


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--database-url", required=True, help="postgresql+asyncpg://… (its tables are written)"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="per concurrency level")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers of the server")
    parser.add_argument("--levels", type=int, nargs="+", default=list(LEVELS))
    args = parser.parse_args(argv)

    await asyncio.to_thread(upgrade, args.database_url)
    settings = Settings(database_url=args.database_url, cookie_secure=False, mail_enabled=False)
    db = Database(args.database_url)
    try:
        made, products = await customers(db, settings, max(args.levels))
    finally:
        await db.dispose()
    log = Path(tempfile.mkdtemp(prefix="clientarea-bench-orders-")) / "server.log"
    async with server_process(args.database_url, log, workers=args.workers) as server:
        await run_level(server.base_url, made[:4], products, 1.0)  # warm-up: connections, caches
        print(f"placeOrder (hosting + domain), {args.workers} worker(s), {args.seconds:.0f} s per level")
        for clients in args.levels:
            timings = await run_level(server.base_url, made[:clients], products, args.seconds)
            print(timings.line(clients, args.seconds), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("CLIENTAREA_ENV", "development")
    asyncio.run(main(sys.argv[1:]))
