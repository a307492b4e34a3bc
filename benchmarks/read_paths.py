"""Benchmark of the dashboard and partner read paths against the GraphQL floor.

Run with `scripts/bench` (`--accounts 1000`, `--database-url postgresql+asyncpg://…`). Absolute
times drift on a shared machine, so the figure is the ratio to a floor measured in the same run:
graphql-core executing the same document (parse and validate included, default resolvers) against
our exported SDL, from the finished response as a plain dict. Over HTTP the floor adds one round
trip of `{ __typename }` to the same server. Rounds of an operation and of its floor alternate, so
load from elsewhere on the machine lands on both. Numbers are printed, not asserted (the CI guard is
tests/test_read_path_ratios.py).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
from graphql import GraphQLSchema, build_schema, graphql_sync
from sqlalchemy import Table, insert, select, text

from clientarea.app import create_app
from clientarea.catalogue import sync_catalogue
from clientarea.gc_tuning import tune_gc
from clientarea.migrate import upgrade
from models.accounts import MembershipRole
from models.base import Base, uuid7
from models.database import Database
from models.permissions import Permission
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from tests.contract_check import CONTRACT_OPERATIONS as OPERATIONS
from tests.factories import (
    add_member,
    create_account,
    create_domain,
    create_invoice,
    create_service,
    create_user,
    session_for,
)
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")
DOCUMENTS = {
    "DashboardAccounts": "dashboard_accounts.graphql",
    "PartnerServices": "partner_services.graphql",
    "ExpiringDomains": "partner_expiring_domains.graphql",
    "AccountOverview": "account_overview.graphql",
}
TYPENAME = {"query": "{ __typename }"}
COOKIE = Settings.model_fields["cookie_name"].default


@dataclass(frozen=True)
class World:
    cookie: str
    account_id: str
    # An account every copy is made from, for a second agency (`another_agency`).
    template: uuid.UUID


def operations(world: World) -> dict[str, dict[str, Any]]:
    """Request bodies of the four operations, as the dashboard and partners send them."""
    variables: dict[str, dict[str, Any]] = {
        "DashboardAccounts": {"first": 50},
        "PartnerServices": {"first": 100},
        "ExpiringDomains": {"first": 100, "before": "2100-01-01"},
        "AccountOverview": {"id": world.account_id},
    }
    return {
        name: {"query": (OPERATIONS / file).read_text(), "variables": variables[name]}
        for name, file in DOCUMENTS.items()
    }


def floor_schema() -> GraphQLSchema:
    return build_schema((ROOT / "schema" / "schema.graphql").read_text())


# Stack depths below `measure` the floor is tried at before its rounds; the rounds run at the
# fastest. On CPython 3.11 a recursive loop that keeps crossing the end of a frame chunk allocates
# and frees a chunk per call, and where that end falls depends on the caller's depth: in one
# process the PartnerServices floor took 12 ms at 3 of 40 depths and up to 62 ms at the others.
# A depth cannot be fast by chance, only slow, so one try at each finds a clean one.
FLOOR_DEPTHS = range(40)


def deeper(depth: int, run: Callable[[], T]) -> T:
    """`run()`, called `depth` frames below here."""
    if depth:
        return deeper(depth - 1, run)
    return run()


def floor(schema: GraphQLSchema, body: dict[str, Any], data: dict[str, Any]) -> Callable[[], None]:
    """graphql-core executing `body` from the finished response `data`: the cost of GraphQL itself."""

    def run() -> None:
        result = graphql_sync(schema, body["query"], root_value=data, variable_values=body["variables"])
        assert result.errors is None, result.errors

    return run


# Accounts made one by one through the test factories; the rest are copies of the last of them,
# inserted in batches (ten thousand accounts one by one would take longer than the benchmark).
BUILT_ONE_BY_ONE = 20
COPIED_PER_BATCH = 500


async def populate(db: Database, settings: Settings, accounts: int, per_account: int) -> World:
    await sync_catalogue(db)
    agency = await create_user(db, email="agency@example.com", name="Agency")
    first = None
    for index in range(min(accounts, BUILT_ONE_BY_ONE)):
        owner = await create_user(db, name=f"Owner {index}")
        account = await create_account(db, owner=owner, name=f"Customer {index:04}")
        await add_member(db, account=account, user=agency, permissions=list(Permission))
        for item in range(per_account):
            await create_service(db, account=account, label=f"www.c{index}s{item}.at")
            await create_domain(db, account=account, name=f"c{index}d{item}.at")
        if first is None:
            first = account
            for _ in range(3):
                await create_invoice(db, account=account, placed_by=owner)
    assert first is not None
    if accounts > BUILT_ONE_BY_ONE:
        await _copies(db, template=account.id, indexes=range(BUILT_ONE_BY_ONE, accounts))
    await _analyze(db)
    cookie = await session_for(db, settings, agency)
    return World(cookie, encode_id("ClientAccount", first.id), account.id)


async def _analyze(db: Database) -> None:
    """Fresh planner statistics, as a database that grew over time has (a query planned on the
    empty tables' statistics may join ten thousand rows one by one)."""
    async with db.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("ANALYZE"))


async def another_agency(db: Database, settings: Settings, world: World, accounts: int, offset: int) -> str:
    """A second agency managing `accounts` accounts like the first one's, in the same database;
    returns its session cookie."""
    agency = await create_user(db, email="another-agency@example.com", name="Another agency")
    await _copies(db, template=world.template, indexes=range(offset, offset + accounts), agency=agency.id)
    await _analyze(db)
    return await session_for(db, settings, agency)


async def _copies(
    db: Database, *, template: uuid.UUID, indexes: range, agency: uuid.UUID | None = None
) -> None:
    """Accounts like `template` (owner, primary contact, the agency's membership, services and
    domains), each with its own IDs, names and owner; `agency` is the member instead of the
    template's agency when given."""

    async def rows(table: Table, *where: Any) -> list[dict[str, Any]]:
        async with db.read() as session:
            return [dict(row._mapping) for row in await session.execute(select(table).where(*where))]

    accounts, contacts, memberships, services, domains, users = (
        Base.metadata.tables[name]
        for name in ("client_accounts", "contacts", "memberships", "services", "domains", "users")
    )
    (account,) = await rows(accounts, accounts.c.id == template)
    (contact,) = await rows(contacts, contacts.c.account_id == template)
    members = await rows(memberships, memberships.c.account_id == template)
    owner_id = next(m["user_id"] for m in members if m["role"] is MembershipRole.OWNER)
    (owner,) = await rows(users, users.c.id == owner_id)
    its_services = await rows(services, services.c.account_id == template)
    its_domains = await rows(domains, domains.c.account_id == template)
    for start in range(indexes.start, indexes.stop, COPIED_PER_BATCH):
        batch: dict[Table, list[dict[str, Any]]] = {t: [] for t in (users, accounts, contacts, memberships)}
        batch[services], batch[domains] = [], []
        for index in range(start, min(start + COPIED_PER_BATCH, indexes.stop)):
            user_id, account_id, contact_id = uuid7(), uuid7(), uuid7()
            batch[users].append(
                {**owner, "id": user_id, "email": f"owner{index}@example.com", "name": f"Owner {index}"}
            )
            batch[accounts].append({**account, "id": account_id, "name": f"Customer {index:04}"})
            batch[contacts].append({**contact, "id": contact_id, "account_id": account_id})
            for member in members:
                user = user_id if member["role"] is MembershipRole.OWNER else agency or member["user_id"]
                batch[memberships].append(
                    {**member, "id": uuid7(), "account_id": account_id, "user_id": user}
                )
            for item, service in enumerate(its_services):
                batch[services].append(
                    {**service, "id": uuid7(), "account_id": account_id, "label": f"www.c{index}s{item}.at"}
                )
            for item, domain in enumerate(its_domains):
                roles = ("registrant", "admin", "tech", "billing")
                batch[domains].append(
                    {
                        **domain,
                        **{f"{role}_contact_id": contact_id for role in roles},
                        "id": uuid7(),
                        "account_id": account_id,
                        "name": f"c{index}d{item}.at",
                    }
                )
        async with db.begin() as session:
            for table, values in batch.items():
                if values:
                    await session.execute(insert(table), values)


def ms(seconds: list[float]) -> float:
    return statistics.median(seconds) * 1000


def percentiles(seconds: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[94] * 1000, cuts[98] * 1000


class ASGIClient:
    """Posts JSON to an ASGI app in this process: the app's whole work (middleware, endpoint,
    encoding) without an HTTP client's (httpx's ASGI transport costs about half a millisecond a
    request of its own, which the floor does not pay either)."""

    def __init__(self, app: Any, base_url: str = "http://bench") -> None:
        self.app = app
        self.host = base_url.split("://", 1)[1].encode()
        self.scheme = base_url.split("://", 1)[0]
        self.cookies = httpx.Cookies()

    async def post(self, path: str, json: dict[str, Any]) -> httpx.Response:
        body = orjson.dumps(json)
        headers = [
            (b"host", self.host),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if self.cookies:
            cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
            headers.append((b"cookie", cookie.encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": self.scheme,
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("bench", 80),
            "state": {},
        }
        sent = False
        status = 500
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return httpx.Response(status, content=b"".join(chunks))


Client = httpx.AsyncClient | ASGIClient


async def timed(client: Client, body: dict[str, Any]) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = await client.post("/graphql", json=body)
    return time.perf_counter() - started, response


def checked(response: httpx.Response) -> dict[str, Any]:
    payload = response.json()
    assert response.status_code == 200, response.text[:500]
    assert "errors" not in payload, response.text[:500]
    data: dict[str, Any] = payload["data"]
    return data


async def measure(
    client: Client,
    schema: GraphQLSchema,
    body: dict[str, Any],
    rounds: int,
    round_trip: bool,
) -> tuple[float, float, float, dict[str, Any]]:
    """Median of the operation, of the graphql-core floor (at its fastest depth, FLOOR_DEPTHS) and
    of `{ __typename }` (if asked), in ms."""
    data = checked((await timed(client, body))[1])
    execute = floor(schema, body, data)
    execute()

    def floor_seconds() -> float:
        started = time.perf_counter()
        execute()
        return time.perf_counter() - started

    # Tried from this frame, as the rounds call it, so each depth is the same in both.
    depth, fastest = 0, float("inf")
    for tried in FLOOR_DEPTHS:
        seconds = deeper(tried, floor_seconds)
        if seconds < fastest:
            depth, fastest = tried, seconds
    spent: list[float] = []
    floors: list[float] = []
    trips: list[float] = []
    for _ in range(rounds):
        seconds, response = await timed(client, body)
        spent.append(seconds)
        checked(response)
        floors.append(deeper(depth, floor_seconds))
        if round_trip:
            trips.append((await timed(client, TYPENAME))[0])
    return ms(spent), ms(floors), ms(trips) if trips else 0.0, data


async def in_process(
    settings: Settings,
    db: Database,
    bodies: dict[str, dict[str, Any]],
    cookie: str,
    rounds: int,
    small: tuple[int, str, int] | None = None,
    gc_tuned: bool = True,
) -> dict[str, float]:
    schema = floor_schema()
    ratios: dict[str, float] = {}
    client = ASGIClient(create_app(settings, db))
    async with collector_as_served(gc_tuned):
        client.cookies.set(settings.cookie_name, cookie)
        print("\nin-process (ASGI call, no client) operation    floor   ratio  statements")
        for name, body in bodies.items():
            db.counter.reset()
            spent, floor_ms, _, _ = await measure(client, schema, body, rounds, round_trip=False)
            statements = db.counter.count // (rounds + 1)
            ratios[name] = spent / floor_ms
            print(f"  {name:30} {spent:8.2f} ms {floor_ms:6.2f} ms  {ratios[name]:5.2f}  {statements:6}")
        print("\nPartnerServices by page size       operation    floor   ratio   ms/row")
        per_row: list[float] = []
        for first in (10, 50, 100):
            body = {**bodies["PartnerServices"], "variables": {"first": first}}
            spent, floor_ms, _, data = await measure(client, schema, body, rounds, round_trip=False)
            rows = len(data["viewer"]["services"]["edges"])
            per_row.append(spent / rows)
            print(
                f"  first {first:<3} ({rows:3} rows)            {spent:8.2f} ms {floor_ms:6.2f} ms"
                f"  {spent / floor_ms:5.2f}  {spent / rows:6.3f}"
            )
        print(f"  time/row, largest over smallest page: {per_row[-1] / per_row[0]:.2f}")
        if small is not None:
            await first_page_by_accounts(client, bodies["PartnerServices"], cookie, small, rounds)
    return ratios


async def first_page_by_accounts(
    client: Client, body: dict[str, Any], cookie: str, small: tuple[int, str, int], rounds: int
) -> None:
    """PartnerServices' first page for this agency and for one with fewer accounts in the same
    database, alternating, so the table sizes are the same for both."""
    accounts, small_cookie, many = small
    spent: dict[str, list[float]] = {cookie: [], small_cookie: []}
    for _ in range(rounds):
        for who in (cookie, small_cookie):
            client.cookies.set(COOKIE, who)
            seconds, response = await timed(client, body)
            checked(response)
            spent[who].append(seconds)
    client.cookies.set(COOKIE, cookie)
    big, little = ms(spent[cookie]), ms(spent[small_cookie])
    print(f"\nPartnerServices first page, {many} accounts against {accounts}")
    print(f"  {big:8.2f} ms against {little:8.2f} ms: {big / little:5.2f}")


@asynccontextmanager
async def collector_as_served(tuned: bool = True) -> AsyncIterator[None]:
    """The garbage collector as `clientarea serve` sets it (clientarea/gc_tuning.py), for
    in-process rounds; as it was afterwards."""
    if not tuned:
        yield
        return
    threshold = gc.get_threshold()
    tune_gc()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


@contextmanager
def collector_paused() -> Iterator[None]:
    """This process's garbage collector off while it times the server under load, as timeit does:
    the clients' pauses are not the server's latency (one full collection here, over what the
    in-process rounds built, took 190-220 ms and stopped all sixteen clients' clocks at once)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@asynccontextmanager
async def server(database_url: str, gc_tuning: bool) -> AsyncIterator[tuple[str, int]]:
    """`clientarea serve` with one worker on a free port; yields its base URL and process id."""
    port = free_port()
    env = {
        **os.environ,
        "CLIENTAREA_DATABASE_URL": database_url,
        "CLIENTAREA_COOKIE_SECURE": "false",
        "CLIENTAREA_MAIL_ENABLED": "false",
        "CLIENTAREA_GC_TUNING": str(gc_tuning).lower(),
    }
    command = [sys.executable, "-m", "clientarea.cli", "serve", "--port", str(port), "--no-migrate"]
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as client:
            for _ in range(200):
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("server did not start")
        yield base, process.pid
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=10)


def peak_rss_mib(pid: int) -> float:
    """The process's high-water resident set size (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def over_http(
    url: str,
    bodies: dict[str, dict[str, Any]],
    cookie: str,
    rounds: int,
    seconds: float,
    concurrency: int,
    gc: bool,
) -> dict[str, float]:
    schema = floor_schema()
    ratios: dict[str, float] = {}
    async with server(url, gc) as (base, pid):
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            client.cookies.set(COOKIE, cookie)
            print("\nHTTP, one client                   operation    floor   ratio  ({ __typename })")
            for name, body in bodies.items():
                spent, floor_ms, trip, _ = await measure(client, schema, body, rounds, round_trip=True)
                ratios[name] = spent / (floor_ms + trip)
                print(
                    f"  {name:30} {spent:8.2f} ms {floor_ms + trip:6.2f} ms  {ratios[name]:5.2f}"
                    f"  ({trip:.2f} ms)"
                )
        print(
            f"\nHTTP, one worker, {concurrency} concurrent clients   req/s     p50     p95     p99  p99/p50"
        )
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
            client.cookies.set(COOKIE, cookie)
            for name, body in bodies.items():
                latencies: list[float] = []

                async def worker(
                    deadline: float, body: dict[str, Any] = body, latencies: list[float] = latencies
                ) -> None:
                    while time.perf_counter() < deadline:
                        spent, response = await timed(client, body)
                        assert response.status_code == 200
                        latencies.append(spent)

                await client.post("/graphql", json=body)
                with collector_paused():
                    started = time.perf_counter()
                    await asyncio.gather(*(worker(started + seconds) for _ in range(concurrency)))
                    elapsed = time.perf_counter() - started
                p50, p95, p99 = percentiles(latencies)
                print(
                    f"  {name:30} {len(latencies) / elapsed:10.1f} {p50:7.1f} {p95:7.1f} {p99:7.1f}"
                    f"  {p99 / p50:6.2f}   (ms)"
                )
        print(f"\npeak RSS of the server process: {peak_rss_mib(pid):.0f} MiB")
    return ratios


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--per-account", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument(
        "--no-gc-tuning",
        action="store_true",
        help="the server (and the in-process rounds) keep Python's GC defaults",
    )
    parser.add_argument("--no-http", action="store_true", help="in-process figures only")
    parser.add_argument(
        "--compare-accounts",
        type=int,
        default=100,
        help="with more --accounts than this: the first page against an agency with this many",
    )
    args = parser.parse_args(argv)

    folder = tempfile.mkdtemp(prefix="clientarea-bench-")
    url = args.database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
    await asyncio.to_thread(upgrade, url)
    settings = Settings(database_url=url, cookie_secure=False, mail_enabled=False)
    db = Database(url)
    world = await populate(db, settings, args.accounts, args.per_account)
    bodies = operations(world)
    print(f"{args.accounts} accounts x {args.per_account} services and domains, database {url.split(':')[0]}")
    small = None
    if args.accounts > args.compare_accounts:
        other = await another_agency(db, settings, world, args.compare_accounts, offset=args.accounts)
        small = (args.compare_accounts, other, args.accounts)
    inside = await in_process(
        settings, db, bodies, world.cookie, args.rounds, small, gc_tuned=not args.no_gc_tuning
    )
    await db.dispose()
    if not args.no_http:
        outside = await over_http(
            url, bodies, world.cookie, args.rounds, args.seconds, args.concurrency, not args.no_gc_tuning
        )
    print("\nratio to the floor            in-process   HTTP")
    for name, ratio in inside.items():
        http = f"{outside[name]:5.2f}" if not args.no_http else "    -"
        print(f"  {name:28} {ratio:8.2f}   {http}")


if __name__ == "__main__":
    os.environ.setdefault("CLIENTAREA_ENV", "development")
    asyncio.run(main(sys.argv[1:]))
