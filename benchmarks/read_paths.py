"""Benchmark of the partner read paths: 50 accounts, each with services and domains.

Run with `scripts/bench` (in-process median of the contract operations, then HTTP requests per
second against one uvicorn worker with 16 concurrent clients). Numbers are printed, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from typing import Any

import httpx

from clientarea.app import create_app
from clientarea.catalogue import sync_catalogue
from clientarea.migrate import upgrade
from clientarea.settings import Settings
from models.database import Database
from models.permissions import Permission
from tests.contract_check import CONTRACT_OPERATIONS as OPERATIONS
from tests.factories import (
    add_member,
    create_account,
    create_domain,
    create_service,
    create_user,
    session_for,
)
from tests.servers import clientarea_server

QUERIES = {
    "DashboardAccounts": (OPERATIONS / "dashboard_accounts.graphql").read_text(),
    "PartnerServices": (OPERATIONS / "partner_services.graphql").read_text(),
    "ExpiringDomains": (OPERATIONS / "partner_expiring_domains.graphql").read_text(),
}
VARIABLES = {"first": 100, "before": "2100-01-01"}


async def populate(db: Database, settings: Settings, accounts: int, per_account: int) -> str:
    await sync_catalogue(db)
    agency = await create_user(db, email="agency@example.com", name="Agency")
    for index in range(accounts):
        owner = await create_user(db, name=f"Owner {index}")
        account = await create_account(db, owner=owner, name=f"Customer {index:03}")
        await add_member(db, account=account, user=agency, permissions=list(Permission))
        for item in range(per_account):
            await create_service(db, account=account, label=f"www.c{index}s{item}.at")
            await create_domain(db, account=account, name=f"c{index}d{item}.at")
    return await session_for(db, settings, agency)


async def in_process(settings: Settings, db: Database, cookie: str, rounds: int) -> None:
    app = create_app(settings, db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        client.cookies.set(settings.cookie_name, cookie)
        for name, query in QUERIES.items():
            timings = []
            size = 0
            for _ in range(rounds):
                db.counter.reset()
                started = time.perf_counter()
                response = await client.post("/graphql", json={"query": query, "variables": VARIABLES})
                timings.append((time.perf_counter() - started) * 1000)
                assert "errors" not in response.json(), response.text[:500]
                size = len(response.content)
            print(
                f"{name:18} in-process median {statistics.median(timings):7.2f} ms"
                f"  p90 {statistics.quantiles(timings, n=10)[-1]:7.2f} ms"
                f"  {db.counter.count} statements  {size / 1024:.0f} KB"
            )


async def over_http(
    database_url: str, cookie: str, seconds: float, concurrency: int, gc_tuning: bool
) -> None:
    async with clientarea_server(
        database_url, mail_enabled="false", gc_tuning=str(gc_tuning).lower()
    ) as base:
        for name, query in QUERIES.items():
            done = 0

            async def worker(client: httpx.AsyncClient, body: dict[str, Any], deadline: float) -> None:
                nonlocal done
                while time.perf_counter() < deadline:
                    response = await client.post("/graphql", json=body)
                    assert response.status_code == 200
                    done += 1

            limits = httpx.Limits(max_connections=concurrency)
            async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
                client.cookies.set("clientarea_session", cookie)
                body = {"query": query, "variables": VARIABLES}
                await client.post("/graphql", json=body)
                started = time.perf_counter()
                deadline = started + seconds
                await asyncio.gather(*(worker(client, body, deadline) for _ in range(concurrency)))
                elapsed = time.perf_counter() - started
            print(f"{name:18} HTTP, 1 worker, {concurrency} concurrent: {done / elapsed:6.1f} req/s")


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--per-account", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--no-gc-tuning", action="store_true", help="the server keeps Python's GC defaults")
    args = parser.parse_args(argv)

    folder = tempfile.mkdtemp(prefix="clientarea-bench-")
    url = args.database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
    await asyncio.to_thread(upgrade, url)
    settings = Settings(database_url=url, cookie_secure=False, mail_enabled=False)
    db = Database(url)
    cookie = await populate(db, settings, args.accounts, args.per_account)
    print(f"{args.accounts} accounts x {args.per_account} services and domains, database {url.split(':')[0]}")
    await in_process(settings, db, cookie, args.rounds)
    await db.dispose()
    await over_http(url, cookie, args.seconds, args.concurrency, not args.no_gc_tuning)


if __name__ == "__main__":
    os.environ.setdefault("CLIENTAREA_ENV", "development")
    asyncio.run(main(sys.argv[1:]))
