"""Query limits and request hygiene: each refusal is readable, carries a code, and runs nothing."""

from __future__ import annotations

import httpx
import pytest

from clientarea.app import create_app
from models.database import Database
from resolvers.core.settings import Settings
from tests.conftest import production_settings
from tests.factories import create_user, session_for
from tests.graphql import Api

VIEWER = "{ viewer { user { email } } }"


async def test_every_response_reports_its_cost(api: Api, db: Database, settings: Settings) -> None:
    api.set_session(await session_for(db, settings, await create_user(db)))

    small = await api("{ viewer { accounts(first: 5) { edges { node { id } } } } }")
    nested = await api(
        "{ viewer { accounts(first: 50) { edges { node { members(first: 100) { totalCount } } } } } }"
    )

    assert small.body["extensions"]["cost"] == 5
    assert nested.body["extensions"]["cost"] == 50 + 50 * 100


async def test_a_query_above_the_cost_limit_is_refused_before_it_runs(
    api: Api, db: Database, settings: Settings
) -> None:
    api.set_session(await session_for(db, settings, await create_user(db)))
    query = """
    query($n: Int) { viewer { accounts(first: $n) { edges { node {
      members(first: 100) { edges { node { user { id } } } }
      invitations(first: 100) { totalCount }
      auditLog(first: 100) { totalCount }
      m2: members(first: 100) { totalCount }
      i2: invitations(first: 100) { totalCount }
      a2: auditLog(first: 100) { totalCount }
    } } } } }
    """

    db.counter.reset()
    response = await api(query, {"n": 100})

    assert response.data is None
    assert response.codes == ["QUERY_TOO_COMPLEX"]
    assert "60100 nodes" in response.errors[0]["message"]
    # Only the session lookup ran; no resolver touched the database.
    assert db.counter.count == 1


def _deep(cycles: int) -> str:
    inner = "id"
    for _ in range(cycles):
        inner = f"account {{ members(first: 1) {{ edges {{ node {{ {inner} }} }} }} }}"
    return "query($id: ID!) { node(id: $id) { ... on Membership { " + inner + " } } }"


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        (_deep(3), "depth"),
        ("{ " + " ".join(f"a{i}: viewer {{ user {{ id }} }}" for i in range(16)) + " }", "aliases"),
        ("{ viewer { " + "user { id } " * 700 + "} }", "tokens"),
        ("{ viewer { user { " + "... on User @include(if: true) { id } " * 11 + "} } }", "directives"),
    ],
)
async def test_limits_refuse_with_one_readable_error(api: Api, query: str, fragment: str) -> None:
    response = await api(query, {"id": "x"})

    assert response.data is None
    assert response.codes == ["QUERY_TOO_COMPLEX"], response.errors
    assert len(response.errors) == 1


async def test_field_suggestions_are_not_given(api: Api) -> None:
    response = await api("{ viewr { user { id } } }")

    assert response.codes == ["BAD_USER_INPUT"]
    assert "Did you mean" not in response.errors[0]["message"]


async def test_batched_requests_are_refused(api: Api) -> None:
    response = await api.client.post("/graphql", json=[{"query": VIEWER}, {"query": VIEWER}])

    assert response.status_code == 400


async def test_a_body_over_64_kib_is_refused(api: Api) -> None:
    padding = " " * (64 * 1024)
    response = await api.client.post("/graphql", json={"query": VIEWER + padding})

    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_introspection_and_graphiql_are_off_in_production(db: Database, database_url: str) -> None:
    production = production_settings(database_url)
    app = create_app(production, db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://t") as client:
        introspection = await client.post("/graphql", json={"query": "{ __schema { types { name } } }"})
        graphiql = await client.get("/graphql", headers={"accept": "text/html"})

    assert introspection.json()["data"] is None
    assert graphiql.status_code == 404


async def test_cookies_count_only_from_the_dashboards_origin(
    api: Api, db: Database, settings: Settings
) -> None:
    api.set_session(await session_for(db, settings, await create_user(db, email="v@example.com")))

    same = await api(VIEWER, origin="http://localhost:3000")
    cross = await api(VIEWER, origin="https://evil.example")
    fetch_cross = await api(VIEWER, sec_fetch_site="cross-site")
    no_origin = await api(VIEWER)
    sign_out = await api("mutation { signOut { ok } }", origin="https://evil.example")

    assert same.data["viewer"]["user"]["email"] == "v@example.com"
    assert cross.data["viewer"] is None
    assert fetch_cross.data["viewer"] is None
    assert no_origin.data["viewer"] is not None
    assert sign_out.codes == ["UNAUTHENTICATED"]
    assert (await api(VIEWER)).data["viewer"] is not None


async def test_cors_answers_the_allowed_origin_only(api: Api) -> None:
    preflight = {"access-control-request-method": "POST", "access-control-request-headers": "content-type"}

    allowed = await api.client.options("/graphql", headers={"origin": "http://localhost:3000", **preflight})
    refused = await api.client.options("/graphql", headers={"origin": "https://evil.example", **preflight})

    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "access-control-allow-origin" not in refused.headers


async def test_security_headers(api: Api) -> None:
    response = await api.client.post("/graphql", json={"query": VIEWER})

    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
