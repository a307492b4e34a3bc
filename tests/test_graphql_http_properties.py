"""Property: whatever bytes, JSON, content type, Accept header or method reaches /graphql, the
answer is never a 5xx and always a GraphQL JSON body — `data`, or errors that each carry a code —
and never INTERNAL_SERVER_ERROR. (Random GraphQL documents are tests/test_fuzz.py's business.)"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clientarea.app import create_app
from models.database import Database
from tests.conftest import make_settings, production_settings
from tests.factories import create_user, session_for

METHODS = ["GET", "POST", "POST", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "application/jsonx",
    "text/application/json",
    "application/json-patch+json",
    "application/graphql",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "text/plain",
    "application/json;;",
    'application/json; charset="',
    "",
]
ACCEPTS = [
    "application/json",
    "application/graphql-response+json",
    "application/graphql-response+json, application/json;q=0.9",
    "*/*",
    "text/html",
    "application/json;q=abc",
    "application/graphql-response+json;q=0",
    ";;,,",
]
DOCUMENTS = [
    "{ __typename }",
    "{ products(first: 2) { totalCount } }",
    "query A { __typename } query B { __typename }",
    "mutation { signOut { ok } }",
    "query($n: Int) { products(first: $n) { totalCount } }",
    "{ viewer { user { id } } }",
    "{",
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
persisted_query = st.fixed_dictionaries(
    {
        "version": st.one_of(st.just(1), json_values),
        "sha256Hash": st.one_of(st.text(max_size=70), json_values),
    }
)
graphql_requests = st.fixed_dictionaries(
    {},
    optional={
        "query": st.one_of(st.sampled_from(DOCUMENTS), json_values),
        "operationName": st.one_of(st.sampled_from(["A", "B", ""]), json_values),
        "variables": st.one_of(st.dictionaries(st.sampled_from(["n", "x"]), json_values), json_values),
        "extensions": st.one_of(st.fixed_dictionaries({"persistedQuery": persisted_query}), json_values),
    },
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    graphql_requests.map(lambda v: json.dumps(v).encode()),
    st.lists(graphql_requests, max_size=3).map(lambda v: json.dumps(v).encode()),
)
query_strings = st.dictionaries(
    st.sampled_from(["query", "variables", "operationName", "extensions"]),
    st.one_of(st.sampled_from(DOCUMENTS), st.text(max_size=40), json_values.map(json.dumps)),
)
header_sets = st.fixed_dictionaries(
    {},
    optional={
        "content-type": st.one_of(st.sampled_from(CONTENT_TYPES), st.text(max_size=30)),
        "accept": st.one_of(st.sampled_from(ACCEPTS), st.text(max_size=30)),
        "authorization": st.sampled_from(["Bearer ca_x", "Basic abc", "Bearer " + "a" * 41, ""]),
    },
)


@pytest.fixture(params=["development", "production"])
async def client(
    request: pytest.FixtureRequest, db: Database, database_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A signed-in browser, in the development configuration and in production with trusted
    documents only for cookie sessions."""
    if request.param == "production":
        config = production_settings(database_url).model_copy(update={"trusted_documents_only": True})
    else:
        config = make_settings(database_url)
    app = create_app(config, db)
    session = await session_for(db, config, await create_user(db))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver"
    ) as made:
        made.cookies.set("clientarea_session", session)
        yield made


def printable(headers: dict[str, str]) -> dict[str, str]:
    """HTTP header values are Latin-1 without control characters."""
    return {k: "".join(c for c in v if " " <= c <= "~") for k, v in headers.items()}


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(method=st.sampled_from(METHODS), headers=header_sets, body=bodies, params=query_strings)
async def test_any_request_gets_a_graphql_answer(
    client: httpx.AsyncClient, method: str, headers: dict[str, str], body: bytes, params: dict[str, Any]
) -> None:
    response = await client.request(
        method,
        "/graphql",
        headers=printable(headers),
        content=None if method == "GET" else body,
        params=params if method == "GET" or not body else None,
    )

    assert response.status_code < 500, response.text
    if method == "HEAD":  # answered without a body
        return
    if response.headers.get("content-type", "").startswith("text/html"):
        assert method == "GET"
        return
    assert response.headers["content-type"].split(";")[0] in (
        "application/json",
        "application/graphql-response+json",
    ), response.headers
    result = response.json()
    assert isinstance(result, dict)
    assert "data" in result or result.get("errors")
    for error in result.get("errors") or ():
        assert isinstance(error["message"], str)
        assert isinstance(error["extensions"]["code"], str)
        assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR", result
    assert "Traceback" not in response.text
