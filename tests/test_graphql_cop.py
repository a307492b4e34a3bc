"""graphql-cop's twelve checks, as our own tests against the production configuration."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from clientarea.app import create_app
from models.database import Database
from resolvers.accounts import accounts
from tests.conftest import production_settings
from tests.factories import create_user, session_for

VIEWER = "{ viewer { user { id } } }"


@pytest.fixture
async def production(database_url: str, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    settings = production_settings(database_url)
    app = create_app(settings, db)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://api.example"
    ) as client:
        client.cookies.set(settings.cookie_name, await session_for(db, settings, await create_user(db)))
        yield client


async def test_introspection_is_disabled(production: httpx.AsyncClient) -> None:
    response = await production.post("/graphql", json={"query": "{ __schema { queryType { name } } }"})

    assert response.json()["data"] is None
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_circular_introspection_is_refused(production: httpx.AsyncClient) -> None:
    query = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"

    response = await production.post("/graphql", json={"query": query})

    assert response.json()["data"] is None


async def test_no_graphiql(production: httpx.AsyncClient) -> None:
    for path in ("/graphql", "/graphiql", "/playground"):
        response = await production.get(path, headers={"accept": "text/html"})
        assert "graphiql" not in response.text.lower()
        assert response.status_code in (404, 405)


async def test_get_runs_queries_but_no_mutations(production: httpx.AsyncClient) -> None:
    query = await production.get("/graphql", params={"query": VIEWER})
    mutation = await production.get("/graphql", params={"query": "mutation { signOut { ok } }"})

    assert query.status_code == 200
    assert query.json()["data"]["viewer"]["user"]["id"]
    assert mutation.status_code == 405
    assert (await production.post("/graphql", json={"query": VIEWER})).json()["data"]["viewer"]


async def test_url_encoded_post_is_refused(production: httpx.AsyncClient) -> None:
    response = await production.post(
        "/graphql",
        content="query=mutation+%7B+signOut+%7B+ok+%7D+%7D",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code in (400, 415)


async def test_alias_overloading_is_refused(production: httpx.AsyncClient) -> None:
    aliases = " ".join(f"a{i}: viewer {{ user {{ id }} }}" for i in range(100))

    response = await production.post("/graphql", json={"query": "{ " + aliases + " }"})

    assert response.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_batched_queries_are_refused(production: httpx.AsyncClient) -> None:
    response = await production.post("/graphql", json=[{"query": VIEWER}] * 10)

    assert response.status_code == 400


async def test_directive_overloading_is_refused_with_one_error(production: httpx.AsyncClient) -> None:
    query = "{ viewer { user { id " + "@include(if: true) " * 50 + "} } }"

    response = await production.post("/graphql", json={"query": query})

    errors = response.json()["errors"]
    assert response.json()["data"] is None
    assert len([e for e in errors if e["extensions"]["code"] == "QUERY_TOO_COMPLEX"]) <= 1


async def test_field_suggestions_are_off(production: httpx.AsyncClient) -> None:
    response = await production.post("/graphql", json={"query": "{ viewr { id } }"})

    assert "Did you mean" not in response.text


async def test_no_tracing_in_responses(production: httpx.AsyncClient) -> None:
    response = await production.post("/graphql", json={"query": VIEWER})

    assert "tracing" not in (response.json().get("extensions") or {})


async def test_unhandled_errors_leak_nothing(
    production: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*_args: object, **_kwargs: object) -> None:
        raise ValueError("/srv/clientarea/models/x.py: SELECT password_hash FROM users")

    monkeypatch.setattr(accounts, "viewer_accounts", broken)

    with caplog.at_level(logging.ERROR):
        response = await production.post("/graphql", json={"query": "{ viewer { accounts { totalCount } } }"})

    body = response.text
    for leak in ("password_hash", "SELECT", "/srv", "ValueError", "Traceback", "File "):
        assert leak not in body
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"


async def test_malformed_bodies_answer_cleanly(production: httpx.AsyncClient) -> None:
    for body in (b"{", b"[]", b'{"query": 5}', b'{"query": "{", "variables": []}', b"\xff\xfe"):
        response = await production.post(
            "/graphql", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code < 500
        assert "Traceback" not in response.text
