"""The server audits of the `graphql-http` package (GraphQL-over-HTTP conformance), one test each,
so the suite proves conformance without Node. IDs and names are the package's own."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from clientarea.app import create_app
from models.database import Database
from tests.conftest import production_settings
from tests.graphql import Api

GQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
TYPENAME = {"query": "{ __typename }"}
TYPE_QUERY = "query Type($name: String!) { __type(name: $name) { name } }"
MISSING_FIELD = {"query": "{ 8f31403dfe404bccbb0e835f2629c6a7 }"}
INVALID_VALUES: list[Any] = [{"obj": "ect"}, 0, False, ["array"]]
INVALID_MAP_VALUES: list[Any] = ["string", 0, False, ["array"]]
# They query `__type`, which is introspection: off in production unless CLIENTAREA_INTROSPECTION.
INTROSPECTION_AUDITS = {"2EA1", "28B9", "D6D5", "6A70"}


@dataclass(frozen=True)
class Audit:
    id: str
    name: str
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": JSON})
    body: Any = None  # JSON-encoded when not bytes
    params: dict[str, str] | None = None  # GET query string
    status: tuple[int, int] = (200, 200)
    content_type: str | None = None
    errors: bool | None = None  # True: must have `errors`; False: must not
    no_data: bool = False

    def __str__(self) -> str:
        return self.id


def _post(id: str, name: str, accept: str | None, body: Any, **expected: Any) -> Audit:
    headers = {"content-type": JSON} | ({"accept": accept} if accept else {})
    return Audit(id, name, headers=headers, body=body, **expected)


def _get(id: str, name: str, accept: str | None, params: dict[str, str], **expected: Any) -> Audit:
    return Audit(
        id, name, method="GET", headers={"accept": accept} if accept else {}, params=params, **expected
    )


AUDITS: list[Audit] = [
    # Media types
    _post(
        "22EB",
        "accept graphql-response+json, match content-type",
        GQL_RESPONSE,
        TYPENAME,
        content_type=GQL_RESPONSE,
    ),
    _post("4655", "accept application/json, match content-type", JSON, TYPENAME, content_type=JSON),
    _post("47DE", "accept */*, use application/json", "*/*", TYPENAME, content_type=JSON),
    _get("80D8", "no accept: application/json", None, {"query": "{ __typename }"}, content_type=JSON),
    _post("82A3", "utf-8 response", None, TYPENAME),
    Audit(
        "BF61", "utf-8 request", headers={"content-type": "application/json; charset=utf-8"}, body=TYPENAME
    ),
    _post("78D5", "utf-8 assumed", None, TYPENAME),
    # Requests
    _post("2C94", "accept POST", None, TYPENAME),
    _get("5A70", "accept GET", None, {"query": "{ __typename }"}),
    _get(
        "9C48", "no mutations on GET", GQL_RESPONSE, {"query": "mutation { __typename }"}, status=(400, 499)
    ),
    Audit("9ABE", "4xx without content-type", headers={}, status=(400, 499)),
    _post("03D4", "accept application/json POST", None, TYPENAME),
    Audit("7267", "require a body", headers={"content-type": JSON}, errors=True),
    # Parameters
    _post(
        "6610", "400 on missing query (new)", GQL_RESPONSE, {"notquery": "{ __typename }"}, status=(400, 400)
    ),
    _post("3715", "200 on missing query (legacy)", JSON, {"notquery": "{ __typename }"}, errors=True),
    *[
        _post(
            f"4F5{i}", f"400 on {type(v).__name__} query (new)", GQL_RESPONSE, {"query": v}, status=(400, 400)
        )
        for i, v in enumerate(INVALID_VALUES)
    ],
    *[
        _post(f"9FE{i}", f"200 on {type(v).__name__} query (legacy)", JSON, {"query": v}, errors=True)
        for i, v in enumerate(INVALID_VALUES)
    ],
    _post("34A2", "string query (new)", GQL_RESPONSE, TYPENAME),
    _post("13EE", "string query (legacy)", JSON, TYPENAME, errors=False),
    *[
        _post(
            f"E3E{i}",
            f"400 on {type(v).__name__} operationName (new)",
            GQL_RESPONSE,
            {"operationName": v, "query": "{ __typename }"},
            status=(400, 400),
        )
        for i, v in enumerate(INVALID_VALUES)
    ],
    *[
        _post(
            f"FB9{i}",
            f"200 on {type(v).__name__} operationName (legacy)",
            JSON,
            {"operationName": v, "query": "{ __typename }"},
            errors=True,
        )
        for i, v in enumerate(INVALID_VALUES)
    ],
    _post(
        "8161",
        "string operationName (new)",
        GQL_RESPONSE,
        {"operationName": "Query", "query": "query Query { __typename }"},
    ),
    _post(
        "B8B3",
        "string operationName (legacy)",
        JSON,
        {"operationName": "Query", "query": "query Query { __typename }"},
        errors=False,
    ),
    *[
        audit
        for i, parameter in enumerate(["variables", "operationName", "extensions"])
        for audit in (
            _post(
                f"94B{i}",
                f"null {parameter} (new)",
                GQL_RESPONSE,
                {**TYPENAME, parameter: None},
                errors=False,
            ),
            _post(f"022{i}", f"null {parameter} (legacy)", JSON, {**TYPENAME, parameter: None}, errors=False),
        )
    ],
    *[
        _post(
            f"69B{i}",
            f"400 on {type(v).__name__} variables (new)",
            GQL_RESPONSE,
            {**TYPENAME, "variables": v},
            status=(400, 400),
        )
        for i, v in enumerate(INVALID_MAP_VALUES)
    ],
    *[
        _post(
            f"F05{i}",
            f"200 on {type(v).__name__} variables (legacy)",
            JSON,
            {**TYPENAME, "variables": v},
            errors=True,
        )
        for i, v in enumerate(INVALID_MAP_VALUES)
    ],
    _post(
        "2EA1", "map variables (new)", GQL_RESPONSE, {"query": TYPE_QUERY, "variables": {"name": "sometype"}}
    ),
    _post(
        "28B9",
        "map variables (legacy)",
        JSON,
        {"query": TYPE_QUERY, "variables": {"name": "sometype"}},
        errors=False,
    ),
    _get(
        "D6D5",
        "URL-encoded variables on GET (new)",
        GQL_RESPONSE,
        {"query": TYPE_QUERY, "variables": json.dumps({"name": "sometype"})},
    ),
    _get(
        "6A70",
        "URL-encoded variables on GET (legacy)",
        JSON,
        {"query": TYPE_QUERY, "variables": json.dumps({"name": "sometype"})},
        errors=False,
    ),
    *[
        _post(
            f"904{i}",
            f"400 on {type(v).__name__} extensions (new)",
            GQL_RESPONSE,
            {**TYPENAME, "extensions": v},
            status=(400, 400),
        )
        for i, v in enumerate(INVALID_MAP_VALUES)
    ],
    *[
        _post(
            f"368{i}",
            f"200 on {type(v).__name__} extensions (legacy)",
            JSON,
            {**TYPENAME, "extensions": v},
            errors=True,
        )
        for i, v in enumerate(INVALID_MAP_VALUES)
    ],
    _post("428F", "map extensions (new)", GQL_RESPONSE, {**TYPENAME, "extensions": {"some": "value"}}),
    _post(
        "1B7A", "map extensions (legacy)", JSON, {**TYPENAME, "extensions": {"some": "value"}}, errors=False
    ),
    # Responses in application/json
    _post("D477", "200 on JSON parsing failure (legacy)", JSON, b'{ "not a JSON'),
    _post("F5AF", "200 on invalid parameters (legacy)", JSON, {"qeury": "{ __typename }"}),
    _post("572B", "200 on document parsing failure (legacy)", JSON, {"query": "{"}),
    _post("FDE2", "200 on document validation failure (legacy)", JSON, MISSING_FIELD),
    # Responses in application/graphql-response+json
    _post("60AA", "4xx on JSON parsing failure", GQL_RESPONSE, b'{ "not a JSON', status=(400, 499)),
    _post("2163", "400 on JSON parsing failure", GQL_RESPONSE, b'{ "not a JSON', status=(400, 400)),
    _post(
        "3E36", "4xx/5xx on invalid parameters", GQL_RESPONSE, {"qeury": "{ __typename }"}, status=(400, 599)
    ),
    _post("17C5", "400 on invalid parameters", GQL_RESPONSE, {"qeury": "{ __typename }"}, status=(400, 400)),
    _post(
        "34D6",
        "no data on invalid parameters",
        GQL_RESPONSE,
        {"qeury": "{ __typename }"},
        status=(400, 400),
        no_data=True,
    ),
    _post("865D", "4xx/5xx on document parsing failure", GQL_RESPONSE, {"query": "{"}, status=(400, 599)),
    _post("556A", "400 on document parsing failure", GQL_RESPONSE, {"query": "{"}, status=(400, 400)),
    _post(
        "D586",
        "no data on document parsing failure",
        GQL_RESPONSE,
        {"query": "{"},
        status=(400, 400),
        no_data=True,
    ),
    _post("51FE", "4xx/5xx on validation failure", GQL_RESPONSE, MISSING_FIELD, status=(400, 599)),
    _post("74FF", "400 on validation failure", GQL_RESPONSE, MISSING_FIELD, status=(400, 400)),
    _post(
        "5E5B", "no data on validation failure", GQL_RESPONSE, MISSING_FIELD, status=(400, 400), no_data=True
    ),
]


def test_every_server_audit_is_here() -> None:
    ids = [audit.id for audit in AUDITS]

    assert len(ids) == len(set(ids)) == 78


@pytest.mark.parametrize("audit", AUDITS, ids=str)
async def test_server_audit(api: Api, audit: Audit) -> None:
    await check(api.client, audit)


@pytest.mark.parametrize("audit", [a for a in AUDITS if a.id not in INTROSPECTION_AUDITS], ids=str)
async def test_server_audit_in_production(db: Database, database_url: str, audit: Audit) -> None:
    app = create_app(production_settings(database_url), db)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://t") as client:
        await check(client, audit)


async def test_the_introspection_audits_need_introspection_in_production(
    db: Database, database_url: str
) -> None:
    app = create_app(production_settings(database_url), db)
    enabled = create_app(production_settings(database_url).model_copy(update={"introspection": True}), db)

    for audit in (a for a in AUDITS if a.id in INTROSPECTION_AUDITS):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://t") as client:
            with pytest.raises(AssertionError):
                await check(client, audit)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=enabled), base_url="https://t"
        ) as client:
            await check(client, audit)


async def check(client: httpx.AsyncClient, audit: Audit) -> None:
    body = audit.body if isinstance(audit.body, bytes | None) else json.dumps(audit.body).encode()

    response = await client.request(
        audit.method, "/graphql", headers=audit.headers, content=body, params=audit.params
    )

    low, high = audit.status
    assert low <= response.status_code <= high, (audit.name, response.status_code, response.text)
    response.content.decode("utf-8")  # 82A3: the body is UTF-8
    content_type = response.headers["content-type"]
    if audit.content_type is not None:
        assert content_type.startswith(audit.content_type), content_type
    # Beyond the audits: every answer, refusals included, is a GraphQL JSON body with codes.
    assert content_type.split(";")[0] in (JSON, GQL_RESPONSE)
    result = response.json()
    assert "data" in result or "errors" in result
    for error in result.get("errors") or ():
        assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR"
    if audit.errors is not None:
        assert ("errors" in result) is audit.errors, result
    if audit.no_data:
        assert "data" not in result
