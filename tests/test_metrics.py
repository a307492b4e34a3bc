"""Prometheus metrics on /metrics: guarded by the bearer secret, counting what requests did, the pool,
refusals and the outbox; and `clientarea serve --workers 2` answering for both workers."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from prometheus_client import REGISTRY

from clientarea import observability
from clientarea.app import create_app
from models.base import utcnow
from models.database import Database
from models.outbox import EmailStatus, OutboxEmail
from resolvers.core.credentials import hash_password
from resolvers.core.settings import Settings
from tests.conftest import make_settings
from tests.factories import create_user
from tests.graphql import Api
from tests.servers import clientarea_server

TOKEN = "metrics-secret-for-tests"
BEARER = {"authorization": f"Bearer {TOKEN}"}
PRODUCTS = "query Catalogue { products(first: 3) { totalCount } }"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def client(database_url: str, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(database_url, metrics_token=TOKEN), db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as c:
        yield c


async def test_metrics_need_the_bearer_secret(client: httpx.AsyncClient) -> None:
    missing = await client.get("/metrics")
    wrong = await client.get("/metrics", headers={"authorization": "Bearer not-the-secret"})
    basic = await client.get("/metrics", headers={"authorization": f"Basic {TOKEN}"})
    right = await client.get("/metrics", headers=BEARER)

    assert [missing.status_code, wrong.status_code, basic.status_code] == [401, 401, 401]
    assert "clientarea_" not in missing.text + wrong.text + basic.text
    assert missing.headers["www-authenticate"] == "Bearer"
    assert right.status_code == 200
    assert right.headers["content-type"].startswith("text/plain")
    assert "clientarea_graphql_requests_total" in right.text


async def test_without_a_secret_there_is_no_metrics_endpoint(api: Api) -> None:
    response = await api.client.get("/metrics", headers=BEARER)

    assert response.status_code == 404


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 characters"):
        Settings(metrics_token="short")


async def test_requests_are_counted_by_operation_and_outcome_with_their_statements(
    client: httpx.AsyncClient, db: Database
) -> None:
    ok = sample("clientarea_graphql_requests_total", operation="Catalogue", outcome="ok")
    timed = sample("clientarea_graphql_request_duration_seconds_count", operation="Catalogue")
    statements = sample("clientarea_graphql_sql_statements_sum", operation="Catalogue")
    bad = sample("clientarea_graphql_requests_total", operation="anonymous", outcome="BAD_USER_INPUT")
    page = sample("clientarea_graphql_requests_total", operation="-", outcome="http_200")

    db.counter.reset()
    await client.post("/graphql", json={"query": PRODUCTS})
    sent = db.counter.count
    await client.post("/graphql", json={"query": "{ nosuchfield }"})
    await client.get("/graphql", headers={"accept": "text/html"})

    assert sent > 0
    assert sample("clientarea_graphql_requests_total", operation="Catalogue", outcome="ok") == ok + 1
    assert sample("clientarea_graphql_request_duration_seconds_count", operation="Catalogue") == timed + 1
    assert sample("clientarea_graphql_sql_statements_sum", operation="Catalogue") == statements + sent
    assert (
        sample("clientarea_graphql_requests_total", operation="anonymous", outcome="BAD_USER_INPUT")
        == bad + 1
    )
    assert sample("clientarea_graphql_requests_total", operation="-", outcome="http_200") == page + 1


def _deep(cycles: int) -> str:
    inner = "id"
    for _ in range(cycles):
        inner = f"account {{ members(first: 1) {{ edges {{ node {{ {inner} }} }} }} }}"
    return "query Deep($id: ID!) { node(id: $id) { ... on Membership { " + inner + " } } }"


REFUSED = {
    "depth": _deep(3),
    "aliases": "{ " + " ".join(f"a{i}: viewer {{ user {{ id }} }}" for i in range(16)) + " }",
    "tokens": "{ viewer { " + "user { id } " * 700 + "} }",
    "directives": "{ viewer { user { "
    + " ".join(f"d{i}: id @include(if: true)" for i in range(11))
    + " } } }",
    "cost": "{ viewer { accounts(first: 100) { edges { node { members(first: 100) { totalCount } } } } } }",
    "selections": "{ viewer { " + "user { id } " * 11 + "} }",
}


@pytest.mark.parametrize("reason", sorted(REFUSED))
async def test_refused_documents_are_counted_by_the_limit_they_broke(
    database_url: str, db: Database, reason: str
) -> None:
    app = create_app(make_settings(database_url, metrics_token=TOKEN, max_query_cost=1000), db)
    before = sample("clientarea_graphql_refused_documents_total", reason=reason)
    others = sum(sample("clientarea_graphql_refused_documents_total", reason=r) for r in REFUSED)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as c:
        response = await c.post("/graphql", json={"query": REFUSED[reason], "variables": {"id": "x"}})

    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["QUERY_TOO_COMPLEX"]
    assert sample("clientarea_graphql_refused_documents_total", reason=reason) == before + 1
    assert sum(sample("clientarea_graphql_refused_documents_total", reason=r) for r in REFUSED) == others + 1


async def test_rate_limit_refusals_are_counted(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    await create_user(db, email="erika@example.com", password_hash=await hash_password(settings, "right"))
    before = sample("clientarea_rate_limit_refusals_total")
    aliases = " ".join(
        f'a{i}: signIn(input: {{email: "erika@example.com", password: "wrong {i}"}})'
        " { userErrors { code } }"
        for i in range(7)
    )

    await client.post("/graphql", json={"query": f"mutation {{ {aliases} }}"})

    assert sample("clientarea_rate_limit_refusals_total") == before + 2


def test_operation_names_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(observability, "_operation_names", set())
    monkeypatch.setattr(observability, "MAX_OPERATION_NAMES", 2)

    labels = [observability._operation_label(name) for name in ("A", "B", "C", "A", None, "x" * 200)]

    assert labels == ["A", "B", "other", "A", "anonymous", "other"]


async def test_the_outbox_is_read_at_scrape_time(client: httpx.AsyncClient, db: Database) -> None:
    now = utcnow()
    async with db.begin() as session:
        for status, attempts, due in (
            (EmailStatus.PENDING, 0, now - timedelta(minutes=10)),
            (EmailStatus.PENDING, 2, now + timedelta(minutes=5)),
            (EmailStatus.FAILED, 8, now - timedelta(hours=1)),
            (EmailStatus.SENT, 1, now - timedelta(hours=2)),
        ):
            session.add(
                OutboxEmail(
                    to_address="someone@example.com",
                    subject="Hello",
                    text_body="Hello",
                    html_body="<p>Hello</p>",
                    template="test",
                    status=status,
                    attempts=attempts,
                    next_attempt_at=due,
                )
            )

    text = (await client.get("/metrics", headers=BEARER)).text

    values = dict(re.findall(r"^(clientarea_outbox_\w+) (\S+)$", text, re.MULTILINE))
    assert float(values["clientarea_outbox_readable"]) == 1
    assert float(values["clientarea_outbox_backlog"]) == 2
    assert float(values["clientarea_outbox_retrying"]) == 1
    assert float(values["clientarea_outbox_delivery_failures"]) == 1
    assert 600 <= float(values["clientarea_outbox_oldest_due_age_seconds"]) < 700


@pytest.mark.usefixtures("postgres_only")
async def test_pool_use_waits_and_timeouts_are_counted(database_url: str) -> None:
    settings = make_settings(database_url, metrics_token=TOKEN, db_pool_size=1, db_pool_timeout_seconds=0.5)
    app = create_app(settings)
    pooled: Database = app.state.db
    in_use = sample("clientarea_db_pool_connections_in_use")
    waits = sample("clientarea_db_pool_waits_total")
    timeouts = sample("clientarea_db_pool_timeouts_total")
    try:
        async with pooled.engine.connect(), pooled.engine.connect():
            assert sample("clientarea_db_pool_connections_in_use") == in_use + 2
            started = time.monotonic()
            with pytest.raises(Exception, match="QueuePool limit"):
                async with pooled.engine.connect():
                    pass
            assert time.monotonic() - started >= 0.4
        async with pooled.engine.connect() as first:
            second = await pooled.engine.connect()
            waiting = asyncio.create_task(pooled.engine.connect().__aenter__())
            await asyncio.sleep(0.1)
            await second.close()
            third = await asyncio.wait_for(waiting, timeout=5)
            await third.close()
            del first
        assert sample("clientarea_db_pool_waits_total") == waits + 2
        assert sample("clientarea_db_pool_timeouts_total") == timeouts + 1
        assert sample("clientarea_db_pool_wait_seconds_count") >= 2
        assert sample("clientarea_db_pool_connections_in_use") == in_use
    finally:
        await pooled.dispose()


# --- the real server, two workers ------------------------------------------------------------


def _total(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        if (line.startswith(f"{name}{{") and wanted in line) or line.startswith(f"{name} "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.e2e
async def test_two_workers_are_counted_together(database_url: str, db: Database) -> None:
    requests = 40
    async with (
        clientarea_server(database_url, workers=2, metrics_token=TOKEN, mail_enabled="false") as base,
        httpx.AsyncClient(base_url=base, timeout=10) as http,
    ):
        refused = await http.get("/metrics")
        for _ in range(requests):
            # A new connection each time, so the workers take turns as the kernel hands them out.
            async with httpx.AsyncClient(base_url=base, timeout=10) as once:
                response = await once.post("/graphql", json={"query": PRODUCTS})
                assert response.status_code == 200
        deadline = time.monotonic() + 10
        while True:
            scraped = await http.get("/metrics", headers=BEARER)
            counted = _total(
                scraped.text, "clientarea_graphql_requests_total", operation="Catalogue", outcome="ok"
            )
            if counted == requests or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)

    assert refused.status_code == 401
    assert scraped.status_code == 200
    assert counted == requests
    assert _total(scraped.text, "clientarea_graphql_sql_statements_count", operation="Catalogue") == requests
    for family in (
        "clientarea_graphql_request_duration_seconds_bucket",
        "clientarea_db_pool_connections_in_use",
        "clientarea_db_pool_waits_total",
        "clientarea_graphql_requests_waiting",
        "clientarea_graphql_requests_refused_waiting_total",
        "clientarea_rate_limit_refusals_total",
        "clientarea_outbox_backlog",
        "clientarea_outbox_oldest_due_age_seconds",
        "clientarea_outbox_delivery_failures",
    ):
        assert family in scraped.text, family
