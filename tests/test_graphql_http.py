"""GraphQL over HTTP: the response media type, refusals as GraphQL bodies with codes, exact
Content-Type parsing, operation selection, and queries over GET with their caching rules."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from clientarea.graphql_http import GRAPHQL_RESPONSE_JSON, JSON, negotiate, parse_media_type
from models.database import Database
from resolvers.core.settings import Settings
from tests.factories import create_user, session_for
from tests.graphql import Api

VIEWER = "{ viewer { user { email } } }"
PRODUCTS = "{ products(first: 2) { totalCount } }"
SIGN_OUT = "mutation SignOut { signOut { ok } }"
NEW = {"accept": GRAPHQL_RESPONSE_JSON}


async def post(api: Api, body: Any, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await api.client.post(
        "/graphql", content=content, headers={"content-type": "application/json", **headers}
    )


def codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json()["errors"]]


# --- the response media type ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        ("application/json", JSON),
        ("text/html", JSON),
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
        # Apollo Client 4 and urql
        ("application/graphql-response+json,application/json;q=0.9", GRAPHQL_RESPONSE_JSON),
        (
            "application/graphql-response+json, application/graphql+json, application/json, "
            "text/event-stream, multipart/mixed",
            GRAPHQL_RESPONSE_JSON,
        ),
        ("application/json, application/graphql-response+json;q=0.5", JSON),
        ("application/graphql-response+json;q=0", JSON),
        ("Application/GraphQL-Response+JSON; charset=utf-8", GRAPHQL_RESPONSE_JSON),
    ],
)
def test_accept_negotiation(accept: str | None, chosen: str) -> None:
    assert negotiate(accept) == chosen


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("application/json", ("application/json", {})),
        ("application/json; charset=utf-8", ("application/json", {"charset": "utf-8"})),
        ('Application/JSON;Charset="UTF-8"', ("application/json", {"charset": "UTF-8"})),
        ("application/jsonx", ("application/jsonx", {})),
        ("application/json-patch+json", ("application/json-patch+json", {})),
        ("text/application/json", None),
        ("application/json;", ("application/json", {})),
        ("application/json; charset", None),
        ("json", None),
        ("", None),
    ],
)
def test_media_types_are_parsed_exactly(value: str, parsed: tuple[str, dict[str, str]] | None) -> None:
    assert parse_media_type(value) == parsed


async def test_a_document_that_does_not_parse_is_400_without_data(api: Api) -> None:
    response = await post(api, {"query": "{ viewer "}, **NEW)

    assert response.status_code == 400
    assert response.headers["content-type"] == f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
    assert "data" not in response.json()
    assert codes(response) == ["BAD_USER_INPUT"]


async def test_a_document_that_does_not_validate_is_400_without_data(api: Api) -> None:
    response = await post(api, {"query": "{ viewer { nosuchfield } }"}, **NEW)

    assert response.status_code == 400
    assert "data" not in response.json()
    assert codes(response) == ["BAD_USER_INPUT"]


async def test_a_refused_limit_is_400_without_data(api: Api) -> None:
    aliases = " ".join(f"a{i}: __typename" for i in range(100))

    response = await post(api, {"query": "{ " + aliases + " }"}, **NEW)

    assert response.status_code == 400
    assert "data" not in response.json()
    assert codes(response) == ["QUERY_TOO_COMPLEX"]


async def test_legacy_json_keeps_200_and_null_data_for_the_same_errors(api: Api) -> None:
    response = await post(api, {"query": "{ viewer { nosuchfield } }"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json()["data"] is None
    assert codes(response) == ["BAD_USER_INPUT"]


async def test_a_field_error_is_200_with_data_in_the_new_media_type(api: Api) -> None:
    response = await post(api, {"query": SIGN_OUT}, **NEW)

    assert response.status_code == 200
    assert response.json()["data"] is None
    assert codes(response) == ["UNAUTHENTICATED"]


async def test_an_invalid_token_is_401_in_both_media_types(api: Api) -> None:
    for accept in (GRAPHQL_RESPONSE_JSON, JSON):
        response = await post(api, {"query": VIEWER}, accept=accept, authorization="Bearer ca_nonsense")

        assert response.status_code == 401
        assert response.headers["content-type"].startswith(accept)
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert codes(response) == ["UNAUTHENTICATED"]


# --- refusals --------------------------------------------------------------------------------

REFUSALS: list[tuple[str, dict[str, str], bytes, int, str]] = [
    (
        "form body",
        {"content-type": "application/x-www-form-urlencoded"},
        b"query=%7B%7D",
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    ),
    ("no content type", {}, b'{"query": "{ __typename }"}', 415, "UNSUPPORTED_MEDIA_TYPE"),
    (
        "jsonx",
        {"content-type": "application/jsonx"},
        b'{"query": "{ __typename }"}',
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    ),
    (
        "text/application/json",
        {"content-type": "text/application/json"},
        b'{"query": "{ __typename }"}',
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    ),
    (
        "json-patch",
        {"content-type": "application/json-patch+json"},
        b'{"query": "{ __typename }"}',
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    ),
    (
        "latin-1",
        {"content-type": "application/json; charset=iso-8859-1"},
        b'{"query": "{ __typename }"}',
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    ),
    ("malformed JSON", {}, b'{"query": ', 400, "BAD_REQUEST"),
    ("invalid UTF-8", {}, b'{"query": "\xff"}', 400, "BAD_REQUEST"),
    ("empty body", {}, b"", 400, "BAD_REQUEST"),
    ("whitespace body", {}, b"  \n", 400, "BAD_REQUEST"),
    ("JSON string", {}, b'"{ __typename }"', 400, "BAD_REQUEST"),
    ("batch", {}, b'[{"query": "{ __typename }"}, {"query": "{ __typename }"}]', 400, "BAD_REQUEST"),
    (
        "unknown operationName",
        {},
        b'{"query": "query A { __typename }", "operationName": "B"}',
        400,
        "BAD_REQUEST",
    ),
    (
        "two operations, no name",
        {},
        b'{"query": "query A { __typename } query B { __typename }"}',
        400,
        "BAD_REQUEST",
    ),
    ("variables a list", {}, b'{"query": "{ __typename }", "variables": [1]}', 400, "BAD_REQUEST"),
    ("variables a string", {}, b'{"query": "{ __typename }", "variables": "{}"}', 400, "BAD_REQUEST"),
    (
        "number past 64 bits",
        {},
        b'{"query": "query($n: Int) { products(first: $n) { totalCount } }", '
        b'"variables": {"n": 18446744073709551615}}',
        400,
        "BAD_REQUEST",
    ),
    (
        "number past 64 bits, read as a float",
        {},
        b'{"query": "query($n: Int) { products(first: $n) { totalCount } }", '
        b'"variables": {"n": 99999999999999999999}}',
        400,
        "BAD_USER_INPUT",
    ),
    (
        "nested 3,000 deep",
        {},
        b'{"query": "{ __typename }", "variables": {"v": ' + b"[" * 3000 + b"]" * 3000 + b"}}",
        400,
        "BAD_REQUEST",
    ),
    (
        "nested 40 deep",
        {},
        b'{"query": "{ __typename }", "variables": {"v": ' + b"[" * 40 + b"]" * 40 + b"}}",
        400,
        "BAD_REQUEST",
    ),
    (
        "body too large",
        {},
        b'{"query": "{ __typename }", "x": "' + b"a" * 70_000 + b'"}',
        413,
        "BAD_USER_INPUT",
    ),
]


@pytest.mark.parametrize(
    ("case", "headers", "body", "status", "code"), REFUSALS, ids=[r[0] for r in REFUSALS]
)
async def test_every_refusal_is_a_graphql_body_with_a_code(
    api: Api, case: str, headers: dict[str, str], body: bytes, status: int, code: str
) -> None:
    sent = {} if case == "no content type" else {"content-type": "application/json", **headers}

    response = await api.client.post("/graphql", content=body, headers={**sent, **NEW})

    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    assert "data" not in response.json()
    assert codes(response) == [code]
    assert "Traceback" not in response.text


async def test_a_huge_number_is_a_request_error_in_legacy_json_too(api: Api) -> None:
    body = {"query": "query($n: Int) { products(first: $n) { totalCount } }", "variables": {"n": 2**64 - 1}}

    response = await post(api, body)

    assert response.status_code == 200
    assert codes(response) == ["BAD_REQUEST"]


async def test_other_methods_are_refused_with_allow(api: Api) -> None:
    response = await api.client.request("PUT", "/graphql", content=b"{}", headers=NEW)

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert codes(response) == ["METHOD_NOT_ALLOWED"]


async def test_a_charset_parameter_is_fine(api: Api) -> None:
    response = await api.client.post(
        "/graphql",
        content=b'{"query": "{ __typename }"}',
        headers={"content-type": 'Application/JSON; charset="UTF-8"'},
    )

    assert response.json() == {"data": {"__typename": "Query"}, "extensions": {"cost": 0}}


# --- operation selection ------------------------------------------------------------------------


async def test_two_operations_without_a_name_run_nothing(api: Api, db: Database, settings: Settings) -> None:
    api.set_session(await session_for(db, settings, await create_user(db)))

    refused = await post(api, {"query": f"{SIGN_OUT} query Viewer {VIEWER}"})

    assert codes(refused) == ["BAD_REQUEST"]
    assert "operationName" in refused.json()["errors"][0]["message"]
    assert (await api(VIEWER)).data["viewer"] is not None


async def test_the_named_operation_runs(api: Api, db: Database, settings: Settings) -> None:
    api.set_session(await session_for(db, settings, await create_user(db, email="n@example.com")))

    response = await post(api, {"query": f"{SIGN_OUT} query Viewer {VIEWER}", "operationName": "Viewer"})

    assert response.json()["data"] == {"viewer": {"user": {"email": "n@example.com"}}}
    assert (await api(VIEWER)).data["viewer"] is not None


# --- GET ------------------------------------------------------------------------------------------


async def test_a_query_over_get_uses_the_session_from_the_dashboard(
    api: Api, db: Database, settings: Settings
) -> None:
    api.set_session(await session_for(db, settings, await create_user(db, email="g@example.com")))

    def get(**headers: str) -> Any:
        return api.client.get("/graphql", params={"query": VIEWER}, headers=headers)

    same = await get(origin="http://localhost:3000")
    no_origin = await get()
    cross = await get(origin="https://evil.example")
    fetch_cross = await get(**{"sec-fetch-site": "cross-site"})

    assert same.json()["data"]["viewer"]["user"]["email"] == "g@example.com"
    assert no_origin.json()["data"]["viewer"]["user"]["email"] == "g@example.com"
    assert cross.json()["data"]["viewer"] is None
    assert fetch_cross.json()["data"]["viewer"] is None
    for response in (same, no_origin, cross, fetch_cross):
        assert response.headers["cache-control"] == "private, no-store"


async def test_a_mutation_over_get_is_405_and_changes_nothing(
    api: Api, db: Database, settings: Settings
) -> None:
    api.set_session(await session_for(db, settings, await create_user(db)))

    response = await api.client.get("/graphql", params={"query": SIGN_OUT}, headers=NEW)
    chosen = await api.client.get(
        "/graphql",
        params={
            "query": f"query Viewer {VIEWER} mutation Out {{ signOut {{ ok }} }}",
            "operationName": "Out",
        },
    )

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert codes(response) == ["METHOD_NOT_ALLOWED"]
    assert chosen.status_code == 405
    assert (await api(VIEWER)).data["viewer"] is not None


async def test_the_public_catalogue_over_get_may_be_cached(api: Api) -> None:
    cached = await api.client.get("/graphql", params={"query": PRODUCTS})
    fragment = await api.client.get(
        "/graphql",
        params={"query": "{ ...Catalogue } fragment Catalogue on Query { products { totalCount } }"},
    )
    posted = await post(api, {"query": PRODUCTS})
    mixed = await api.client.get(
        "/graphql", params={"query": "{ products { totalCount } viewer { user { id } } }"}
    )
    failed = await api.client.get("/graphql", params={"query": "{ products(first: -1) { totalCount } }"})

    assert cached.json()["data"]["products"]["totalCount"] >= 0
    assert cached.headers["cache-control"] == "public, max-age=60"
    assert "Accept" in cached.headers["vary"]
    assert fragment.headers["cache-control"] == "public, max-age=60"
    assert posted.headers["cache-control"] == "private, no-store"
    assert mixed.headers["cache-control"] == "private, no-store"
    assert failed.headers["cache-control"] == "private, no-store"


async def test_get_with_variables_and_operation_name(api: Api) -> None:
    response = await api.client.get(
        "/graphql",
        params={
            "query": "query Catalogue($n: Int) { products(first: $n) { edges { node { id } } } }",
            "variables": json.dumps({"n": 1}),
            "operationName": "Catalogue",
        },
        headers=NEW,
    )

    assert response.status_code == 200
    assert len(response.json()["data"]["products"]["edges"]) <= 1


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"query": "{ __typename }", "variables": "{nope"}, 400),
        ({"query": "{ __typename }", "variables": "[1]"}, 400),
        ({}, 400),
        ({"query": "{"}, 400),
    ],
)
async def test_bad_get_parameters_are_request_errors(api: Api, params: dict[str, str], status: int) -> None:
    response = await api.client.get("/graphql", params=params, headers=NEW)

    assert response.status_code == status
    assert "data" not in response.json()
    assert codes(response)


async def test_a_repeated_get_parameter_is_refused(api: Api) -> None:
    response = await api.client.get("/graphql?query=%7B__typename%7D&query=%7Bviewer%7Bid%7D%7D", headers=NEW)

    assert response.status_code == 400
    assert codes(response) == ["BAD_REQUEST"]


async def test_graphiql_is_served_to_a_browser_asking_for_html(api: Api) -> None:
    response = await api.client.get(
        "/graphql", headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_a_cost_past_64_bits_is_answered(api: Api) -> None:
    query = (
        "query($n: Int, $m: Int) { viewer { accounts(first: $n) "
        "{ edges { node { services(first: $m) { totalCount } } } } } }"
    )

    response = await post(api, {"query": query, "variables": {"n": 2**62, "m": 2**62}}, **NEW)

    # Refused for its cost or for its variables (no Int has 62 bits); either way never a 500.
    assert response.status_code == 400
    assert set(codes(response)) <= {"QUERY_TOO_COMPLEX", "BAD_USER_INPUT"}
    assert codes(response)
