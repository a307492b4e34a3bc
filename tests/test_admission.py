"""At most CLIENTAREA_MAX_CONCURRENT_REQUESTS GraphQL requests of a process run at once; the others
wait their turn in the order they came, and one that waits too long is answered 503 and runs
nothing (clientarea/admission.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from clientarea.admission import Admission, NoTurn
from clientarea.app import create_app
from clientarea.graphql_endpoint import GraphQLEndpoint
from models.database import Database
from models.users import User
from resolvers.core.settings import Settings
from tests.conftest import make_settings
from tests.factories import BILLING, create_user, session_for

SIGN_UP = "mutation($input: SignUpInput!) { signUp(input: $input) { user { email } userErrors { code } } }"


async def test_requests_past_the_limit_wait_and_are_admitted_in_the_order_they_came() -> None:
    # Given room for two at once
    admission = Admission(limit=2, wait_seconds=5)
    admitted: list[int] = []
    most = 0
    go_on = asyncio.Event()

    async def request(number: int) -> None:
        nonlocal most
        async with admission.turn():
            admitted.append(number)
            most = max(most, admission.running)
            await go_on.wait()

    # When six come one after another and the first two hold their turns
    tasks = []
    for number in range(6):
        tasks.append(asyncio.create_task(request(number)))
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    assert admitted == [0, 1]
    assert admission.waiting == 4

    # Then the rest go in their order as turns free up, never more than two at once
    go_on.set()
    await asyncio.gather(*tasks)
    assert admitted == [0, 1, 2, 3, 4, 5]
    assert most == 2
    assert (admission.running, admission.waiting) == (0, 0)


async def test_a_request_that_waits_too_long_gets_no_turn_and_takes_none_later() -> None:
    # Given the only turn taken
    admission = Admission(limit=1, wait_seconds=0.05)
    release = asyncio.Event()

    async def holder() -> None:
        async with admission.turn():
            await release.wait()

    held = asyncio.create_task(holder())
    await asyncio.sleep(0)

    # When another waits past its time
    with pytest.raises(NoTurn):
        async with admission.turn():
            pytest.fail("ran without a turn")

    # Then it holds nothing: once the turn is given back, the next request gets it at once
    assert admission.waiting == 0
    release.set()
    await held
    async with asyncio.timeout(1):
        async with admission.turn():
            assert admission.running == 1
    assert admission.running == 0


async def test_a_waiter_that_goes_away_leaves_the_line_as_it_was() -> None:
    # Given the only turn taken and a request waiting for it
    admission = Admission(limit=1, wait_seconds=5)
    release = asyncio.Event()
    admitted: list[str] = []

    async def request(name: str) -> None:
        async with admission.turn():
            admitted.append(name)
            await release.wait()

    first = asyncio.create_task(request("first"))
    await asyncio.sleep(0)
    gone = asyncio.create_task(request("gone"))
    after = asyncio.create_task(request("after"))
    await asyncio.sleep(0.01)

    # When the waiting one is cancelled (its client went away)
    gone.cancel()
    await asyncio.sleep(0)

    # Then the turn goes to the one behind it, and nothing is counted twice
    release.set()
    await asyncio.gather(first, after)
    assert gone.cancelled()
    assert admitted == ["first", "after"]
    assert (admission.running, admission.waiting) == (0, 0)


def counted(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


@pytest.fixture
def narrow_settings(database_url: str) -> Settings:
    return make_settings(database_url, max_concurrent_requests=1, request_wait_seconds=0.05)


@pytest.fixture
async def narrow_client(
    narrow_settings: Settings, db: Database
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app = create_app(narrow_settings, db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        yield app, client


async def test_over_http_a_request_without_a_turn_is_answered_503_and_changes_nothing(
    narrow_client: tuple[Any, httpx.AsyncClient], db: Database
) -> None:
    # Given a process that runs one request at once, busy with one
    app, client = narrow_client
    variables = {
        "input": {
            "email": "waited@example.com",
            "name": "Waited",
            "password": "a long enough passphrase",
            "accountName": "Waited GmbH",
            "billingProfile": BILLING,
        }
    }
    refused = counted("clientarea_graphql_requests_refused_waiting_total")
    waited = counted("clientarea_graphql_request_wait_seconds_count")
    async with app.state.admission.turn():
        # When a sign-up comes in and waits longer than it may
        response = await client.post("/graphql", json={"query": SIGN_UP, "variables": variables})

        # Then it is told the service is busy, when to come back, and no account was made
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert "waited@example.com" not in response.text
        async with db.read() as session:
            made = await session.scalar(select(func.count()).where(User.email == "waited@example.com"))
        assert made == 0
        # ...while health checks, which take no turn, still answer
        assert (await client.get("/healthz")).status_code == 200
        # ...and operators see the refusal
        assert counted("clientarea_graphql_requests_refused_waiting_total") == refused + 1
        assert counted("clientarea_graphql_request_wait_seconds_count") == waited

    # And once the turn is free, the same request goes through
    response = await client.post("/graphql", json={"query": SIGN_UP, "variables": variables})
    assert response.status_code == 200
    assert response.json()["data"]["signUp"]["user"] == {"email": "waited@example.com"}


async def test_over_http_concurrent_requests_run_at_most_the_limit_at_once(
    database_url: str, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a process that runs three requests at once, and a signed-in user
    settings = make_settings(database_url, max_concurrent_requests=3)
    user = await create_user(db)
    cookie = await session_for(db, settings, user)
    running_at_once: list[int] = []
    answer = GraphQLEndpoint._answer

    async def watched(self: GraphQLEndpoint, *args: Any) -> Any:
        running_at_once.append(self.admission.running)
        await asyncio.sleep(0.01)
        return await answer(self, *args)

    monkeypatch.setattr(GraphQLEndpoint, "_answer", watched)
    app = create_app(settings, db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        client.cookies.set(settings.cookie_name, cookie)

        # When twelve requests come at once
        responses = await asyncio.gather(
            *(client.post("/graphql", json={"query": "{ viewer { user { email } } }"}) for _ in range(12))
        )

    # Then every one is answered, and never more than three ran at once (but three did)
    assert [r.status_code for r in responses] == [200] * 12
    assert all(r.json()["data"]["viewer"]["user"]["email"] == user.email for r in responses)
    assert max(running_at_once) == 3
    assert app.state.admission.running == 0
