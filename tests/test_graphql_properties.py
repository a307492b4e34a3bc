"""Property: whatever well-formed request arrives (a random document drawn from our schema, valid or
one violation away from it, or an operation on any root field with random JSON variables, shaped
like its input types or not), the answer is JSON, never a 5xx and never INTERNAL_SERVER_ERROR.

Requests go in process, signed in as the owner of an account or anonymously. The seed is fixed, so
every run draws the same cases; CLIENTAREA_PROPERTY_EXAMPLES draws more for a longer hunt."""

from __future__ import annotations

import asyncio
import base64
import os
from datetime import UTC
from typing import Any

import graphql
import httpx
import hypothesis.strategies as st
import orjson
import pytest
from hypothesis import HealthCheck, given, seed
from hypothesis import settings as hypothesis_settings
from hypothesis_graphql import Mode, from_schema, nodes

from models.database import Database
from resolvers.core.settings import Settings
from schema.schema import schema
from tests.factories import create_account, create_user, session_for
from tests.graphql import Api

EXAMPLES = int(os.environ.get("CLIENTAREA_PROPERTY_EXAMPLES", "60"))
SEED = 20261206
GRAPHQL_SCHEMA = schema._schema

SCALARS = {
    "DateTime": st.datetimes(timezones=st.just(UTC)).map(lambda d: nodes.String(d.isoformat())),
    "Date": st.dates().map(nodes.String),
    "Decimal": st.decimals(allow_nan=False, allow_infinity=False, places=2).map(nodes.String),
}
DOCUMENTS = st.one_of(
    from_schema(GRAPHQL_SCHEMA, custom_scalars=SCALARS, mode=Mode.POSITIVE),
    from_schema(GRAPHQL_SCHEMA, custom_scalars=SCALARS, mode=Mode.NEGATIVE),
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# Strings that look like what a server decodes (cursors and IDs are base64 of JSON or of text), so
# the decoders meet malformed content and not only malformed base64.
ENCODED = st.one_of(st.lists(JSON, max_size=3).map(orjson.dumps), st.text(max_size=40).map(str.encode)).map(
    lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("=")
)
TEXT = st.one_of(st.text(max_size=40), ENCODED)
_SCALAR_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "Int": st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats(allow_nan=False, allow_infinity=False),
    "Float": st.floats(allow_nan=False, allow_infinity=False),
    "Boolean": st.booleans(),
    "String": TEXT,
    "ID": TEXT,
    "DateTime": st.datetimes().map(lambda d: d.isoformat()) | st.text(max_size=30),
    "Date": st.dates().map(lambda d: d.isoformat()) | st.text(max_size=12),
    "Decimal": st.decimals(allow_nan=False, allow_infinity=False).map(str) | st.text(max_size=12),
}


def _loose(type_: graphql.GraphQLInputType, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values shaped like `type_` most of the time, and any JSON now and then."""
    if depth > 4:
        return JSON
    if isinstance(type_, graphql.GraphQLNonNull):
        return _loose(type_.of_type, depth)
    if isinstance(type_, graphql.GraphQLList):
        shaped: st.SearchStrategy[Any] = st.lists(_loose(type_.of_type, depth + 1), max_size=3)
    elif isinstance(type_, graphql.GraphQLInputObjectType):
        fields = {name: _loose(field.type, depth + 1) for name, field in type_.fields.items()}
        shaped = st.fixed_dictionaries({}, optional=fields)
    elif isinstance(type_, graphql.GraphQLEnumType):
        shaped = st.sampled_from(list(type_.values))
    else:
        shaped = _SCALAR_VALUES.get(getattr(type_, "name", ""), JSON)
    return st.one_of(shaped, shaped, shaped, JSON)


def _operation(kind: str, path: list[str], name: str, field: graphql.GraphQLField) -> str:
    definitions = ", ".join(f"${arg}: {argument.type}" for arg, argument in field.args.items())
    arguments = ", ".join(f"{arg}: ${arg}" for arg in field.args)
    selection = "" if graphql.is_leaf_type(graphql.get_named_type(field.type)) else " { __typename }"
    inner = f"{name}{f'({arguments})' if arguments else ''}{selection}"
    for outer in reversed(path):
        inner = f"{outer} {{ {inner} }}"
    return f"{kind}{f'({definitions})' if definitions else ''} {{ {inner} }}"


def _root_operations() -> list[tuple[str, dict[str, st.SearchStrategy[Any]]]]:
    """One operation per root field and per field of Viewer that takes arguments, each argument a
    variable of the argument's own type."""
    viewer = GRAPHQL_SCHEMA.get_type("Viewer")
    assert isinstance(viewer, graphql.GraphQLObjectType)
    fields: list[tuple[str, list[str], str, graphql.GraphQLField]] = []
    for kind, root in (("query", GRAPHQL_SCHEMA.query_type), ("mutation", GRAPHQL_SCHEMA.mutation_type)):
        assert root is not None
        fields += [(kind, [], name, field) for name, field in root.fields.items()]
    fields += [("query", ["viewer"], name, field) for name, field in viewer.fields.items() if field.args]
    return [
        (
            _operation(kind, path, name, field),
            {arg: _loose(argument.type) for arg, argument in field.args.items()},
        )
        for kind, path, name, field in fields
    ]


ROOT_OPERATIONS = _root_operations()


@st.composite
def variable_requests(draw: st.DrawFn) -> dict[str, Any]:
    document, values = draw(st.sampled_from(ROOT_OPERATIONS))
    return {"query": document, "variables": draw(st.fixed_dictionaries({}, optional=values))}


@st.composite
def document_requests(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "query": draw(DOCUMENTS),
        "variables": draw(st.dictionaries(st.text(max_size=8), JSON, max_size=3)),
    }


REQUESTS = st.one_of(variable_requests(), document_requests())


def _check(response: httpx.Response, body: dict[str, Any]) -> None:
    assert response.status_code < 500, (body, response.text)
    assert response.headers["content-type"].startswith("application/json"), (body, response.text)
    answer = response.json()
    codes = [error.get("extensions", {}).get("code") for error in answer.get("errors") or ()]
    assert "INTERNAL_SERVER_ERROR" not in codes, (body, answer)
    assert None not in codes, (body, answer)


async def test_no_request_is_answered_with_a_server_error(api: Api, db: Database, settings: Settings) -> None:
    owner = await create_user(db)
    await create_account(db, owner=owner)
    api.set_session(await session_for(db, settings, owner))
    clients = {True: api.client, False: api.new().client}
    loop = asyncio.get_running_loop()

    # Hypothesis drives a synchronous test, so it runs in a thread and hands each request to this
    # event loop, where the app and its database connections live.
    @seed(SEED)
    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(body=REQUESTS, signed_in=st.booleans())
    def check(body: dict[str, Any], signed_in: bool) -> None:
        sent = asyncio.run_coroutine_threadsafe(clients[signed_in].post("/graphql", json=body), loop)
        _check(sent.result(timeout=60), body)

    await loop.run_in_executor(None, check)


@pytest.mark.parametrize(
    "body",
    [
        {"query": "query($n: Int) { products(first: $n) { totalCount } }", "variables": {"n": 1e300}},
        {"query": "query($n: Int = 100) { products(first: $n) { totalCount } }", "variables": {"n": None}},
        {"query": "query($a: String) { products(after: $a) { totalCount } }", "variables": {"a": "\u0000"}},
        {"query": "query($i: [ID!]!) { nodes(ids: $i) { id } }", "variables": {"i": [[["x"]]]}},
        {"query": "{ products(first: 1) { edges { node { id } } } }", "variables": {"x": [[[[[]]]]]}},
        # The catalogue's cursor is [position, id]: two integers once failed inside the database.
        {"query": 'query { products(after: "WzEyMyw0NTZd") { totalCount } }', "variables": {}},
    ],
)
async def test_known_edge_cases_stay_clean(api: Api, body: dict[str, Any]) -> None:
    _check(await api.client.post("/graphql", json=body), body)
