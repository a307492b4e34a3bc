"""Hostile values in arguments: malformed cursors, NUL characters and oversized strings are
BAD_USER_INPUT (or the mutation's own INVALID user error), never an internal error, and change
nothing."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from graphql import GraphQLInputObjectType, GraphQLObjectType, get_named_type
from sqlalchemy import func, select

from clientarea.catalogue import sync_catalogue
from models import ClientAccount, User
from models.billing import Order
from models.catalogue import Product
from models.database import Database
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from schema.schema import schema
from tests.factories import BILLING, create_account, create_user, session_for
from tests.graphql import Api


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


def _raw_cursor(text: bytes) -> str:
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


UUID_HEX = "0" * 32
MALFORMED_CURSORS = {
    "int": _cursor([123]),
    "float": _cursor([1.5]),
    "bool": _cursor([True]),
    "nested-list": _cursor([[1]]),
    "object": _cursor([{"a": 1}]),
    "short-hex": _cursor(["zz"]),
    "two-ints": _cursor([123, 456]),
    "int-then-bool": _cursor([True, UUID_HEX]),
    "int32-overflow": _cursor([2**31, UUID_HEX]),
    "int64-overflow": _cursor([2**63, UUID_HEX]),
    "uint64": _raw_cursor(b'[18446744073709551615, "' + UUID_HEX.encode() + b'"]'),
    "past-64-bits": _raw_cursor(b'[123456789012345678901234567890, "' + UUID_HEX.encode() + b'"]'),
    "nul-in-text-key": _cursor(["a\u0000b", UUID_HEX]),
    "text-and-int": _cursor(["1", 5]),
    "naive-hex-braces": _cursor(["{" + "0" * 30 + "}"]),
    "not-json": _raw_cursor(b"[1,"),
    "not-a-list": _cursor({"a": 1}),
    "empty": "",
    "not-base64": "%%%%",
    "non-ascii": "\u00e9\u00e9",
    "deep": _raw_cursor(b"[" * 700),
}
ACCOUNT_CONNECTIONS = [
    "members",
    "invitations",
    "auditLog",
    "services",
    "domains",
    "orders",
    "invoices",
    "contacts",
    "tickets",
]
VIEWER_CONNECTIONS = ["accounts", "services", "domains", "invoices"]


class World:
    def __init__(self, api: Api, account: ClientAccount) -> None:
        self.api = api
        self.account_id = encode_id("ClientAccount", account.id)

    def connection_queries(self) -> dict[str, tuple[str, dict[str, Any]]]:
        queries: dict[str, tuple[str, dict[str, Any]]] = {
            "products": ("query($c: String) { products(after: $c) { totalCount } }", {}),
            "commissions": (
                "query($id: ID!, $c: String) { account(id: $id) { affiliate {"
                " commissions(after: $c) { totalCount } } } }",
                {"id": self.account_id},
            ),
        }
        for name in VIEWER_CONNECTIONS:
            queries[f"viewer.{name}"] = (
                f"query($c: String) {{ viewer {{ {name}(after: $c) {{ totalCount }} }} }}",
                {},
            )
        for name in ACCOUNT_CONNECTIONS:
            queries[f"account.{name}"] = (
                "query($id: ID!, $c: String) { account(id: $id) { " + name + "(after: $c) { totalCount } } }",
                {"id": self.account_id},
            )
        return queries


@pytest.fixture
async def world(api: Api, db: Database, settings: Settings) -> World:
    await sync_catalogue(db)
    owner = await create_user(db)
    account = await create_account(db, owner=owner)
    api.set_session(await session_for(db, settings, owner))
    activated = await api(
        "mutation($i: ActivateAffiliateInput!) { activateAffiliate(input: $i) { userErrors { code } } }",
        {"i": {"accountId": encode_id("ClientAccount", account.id)}},
    )
    assert activated.payload("activateAffiliate")["userErrors"] == []
    return World(api, account)


async def test_every_connection_answers_a_malformed_cursor_with_bad_user_input(world: World) -> None:
    failures = []
    for connection, (query, variables) in world.connection_queries().items():
        valid = await world.api(query, variables)
        assert not valid.errors, (connection, valid.errors)
        for case, cursor in MALFORMED_CURSORS.items():
            response = await world.api(query, {**variables, "c": cursor})
            messages = [e["message"] for e in response.errors]
            if response.codes != ["BAD_USER_INPUT"] or messages != ["Invalid cursor."]:
                failures.append((connection, case, response.errors))

    assert failures == []


async def test_a_cursor_of_another_connection_is_invalid(world: World) -> None:
    products = await world.api("{ products(first: 1) { pageInfo { endCursor } } }")
    cursor = products.data["products"]["pageInfo"]["endCursor"]

    response = await world.api(
        "query($c: String) { viewer { accounts(after: $c) { totalCount } } }", {"c": cursor}
    )

    assert response.codes == ["BAD_USER_INPUT"]


async def _counts(db: Database) -> tuple[int, int, int]:
    async with db.read() as session:
        return (
            await session.scalar(select(func.count()).select_from(User)) or 0,
            await session.scalar(select(func.count()).select_from(ClientAccount)) or 0,
            await session.scalar(select(func.count()).select_from(Order)) or 0,
        )


SIGN_UP = "mutation($i: SignUpInput!) { signUp(input: $i) { userErrors { code } } }"
SIGN_IN = "mutation($i: SignInInput!) { signIn(input: $i) { userErrors { code } } }"
RESET = "mutation($i: RequestPasswordResetInput!) { requestPasswordReset(input: $i) { userErrors { code } } }"
INVITATION = "query($t: String!) { invitation(token: $t) { email } }"
RESET_PASSWORD = "mutation($i: ResetPasswordInput!) { resetPassword(input: $i) { userErrors { code } } }"


def _sign_up(**overrides: Any) -> dict[str, Any]:
    return {
        "i": {
            "email": "new@example.com",
            "name": "New Person",
            "password": "a long enough passphrase",
            "accountName": "New GmbH",
            "billingProfile": BILLING,
            **overrides,
        }
    }


ANONYMOUS_NUL = {
    "signIn.email": (SIGN_IN, {"i": {"email": "a\u0000@example.com", "password": "whatever it is"}}),
    "signIn.password": (SIGN_IN, {"i": {"email": "a@example.com", "password": "pass\u0000word"}}),
    "signUp.email": (SIGN_UP, _sign_up(email="new\u0000@example.com")),
    "signUp.referralCode": (SIGN_UP, _sign_up(referralCode="REF\u0000")),
    "signUp.name": (SIGN_UP, _sign_up(name="New\u0000Person")),
    "requestPasswordReset.email": (RESET, {"i": {"email": "a\u0000@example.com"}}),
    "invitation.token": (INVITATION, {"t": "abc\u0000def"}),
    "resetPassword.token": (RESET_PASSWORD, {"i": {"token": "t\u0000", "password": "a long passphrase"}}),
    "cursor": ("query($c: String) { products(after: $c) { totalCount } }", {"c": "\u0000"}),
}


@pytest.mark.parametrize("case", list(ANONYMOUS_NUL))
async def test_anonymous_strings_with_nul_are_bad_user_input(api: Api, db: Database, case: str) -> None:
    await sync_catalogue(db)
    query, variables = ANONYMOUS_NUL[case]
    before = await _counts(db)

    response = await api(query, variables)

    assert response.data is None
    assert response.codes == ["BAD_USER_INPUT"], response.errors
    assert "NUL" in response.errors[0]["message"]
    assert await _counts(db) == before


async def test_nul_in_a_literal_is_refused_like_in_a_variable(api: Api) -> None:
    literal = await api(
        'mutation { signIn(input: {email: "a\\u0000@example.com", password: "x"}) { userErrors { code } } }'
    )

    assert literal.codes == ["BAD_USER_INPUT"]
    assert "NUL" in literal.errors[0]["message"]


async def test_signed_in_strings_with_nul_are_bad_user_input(world: World, db: Database) -> None:
    async with db.read() as session:
        product = await session.scalar(select(Product).where(Product.key == "domain-at"))
    assert product is not None
    domain: dict[str, Any] = {"name": "example.at", "action": "TRANSFER", "period": 1, "contacts": {}}
    domain_item: dict[str, Any] = {
        "productId": encode_id("Product", product.id),
        "billingCycle": "ANNUALLY",
        "domain": {**domain, "authCode": "x"},
    }
    order = "mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { order { id } userErrors { code } } }"
    cases: list[tuple[str, dict[str, Any]]] = [
        (order, {"i": {"accountId": world.account_id, "items": [domain_item], "idempotencyKey": "k\u0000"}}),
        (
            order,
            {
                "i": {
                    "accountId": world.account_id,
                    "items": [{**domain_item, "domain": {**domain, "authCode": "a\u0000"}}],
                    "idempotencyKey": "k1",
                }
            },
        ),
        ("query($s: String) { viewer { accounts(search: $s) { totalCount } } }", {"s": "a\u0000"}),
        (
            "query($f: DomainFilter) { viewer { domains(filter: $f) { totalCount } } }",
            {"f": {"search": "\u0000"}},
        ),
        (
            "mutation($i: CreateClientAccountInput!) {"
            " createClientAccount(input: $i) { userErrors { code } } }",
            {"i": {"name": "Acme\u0000", "billingProfile": BILLING}},
        ),
    ]
    before = await _counts(db)

    for query, variables in cases:
        response = await world.api(query, variables)
        assert response.codes == ["BAD_USER_INPUT"], (variables, response.errors)
        assert "NUL" in response.errors[0]["message"]

    assert await _counts(db) == before


async def test_a_60000_character_search_is_bad_user_input(world: World) -> None:
    search = "%_" * 30_000

    accounts = await world.api(
        "query($s: String) { viewer { accounts(search: $s) { totalCount } } }", {"s": search}
    )
    domains = await world.api(
        "query($f: DomainFilter) { viewer { domains(filter: $f) { totalCount } } }", {"f": {"search": search}}
    )

    assert accounts.codes == ["BAD_USER_INPUT"]
    assert "at most 200 characters" in accounts.errors[0]["message"]
    assert domains.codes == ["BAD_USER_INPUT"]


async def test_a_search_at_its_limit_runs(world: World) -> None:
    response = await world.api(
        "query($s: String) { viewer { accounts(search: $s) { totalCount } } }", {"s": "%_" * 100}
    )

    assert not response.errors
    assert response.data["viewer"]["accounts"]["totalCount"] == 0


async def test_a_string_without_a_limit_of_its_own_is_bounded_by_the_default(api: Api, db: Database) -> None:
    await create_user(db, email="someone@example.com")

    response = await api(SIGN_IN, {"i": {"email": "someone@example.com", "password": "p" * 1025}})

    assert response.codes == ["BAD_USER_INPUT"]


async def test_fields_the_mutation_checks_keep_their_user_error(world: World, db: Database) -> None:
    response = await world.api(
        "mutation($i: CreateClientAccountInput!) { createClientAccount(input: $i) {"
        " userErrors { field code } } }",
        {"i": {"name": "x" * 5_000, "billingProfile": BILLING}},
    )

    assert response.payload("createClientAccount")["userErrors"] == [
        {"field": ["input", "name"], "code": "INVALID"}
    ]


def test_every_string_input_states_its_limit() -> None:
    undocumented = []
    for type_ in schema._schema.type_map.values():
        if type_.name.startswith("__"):
            continue
        if isinstance(type_, GraphQLInputObjectType):
            targets = [(f"{type_.name}.{n}", f) for n, f in type_.fields.items()]
        elif isinstance(type_, GraphQLObjectType):
            targets = [
                (f"{type_.name}.{fn}({n}:)", a) for fn, d in type_.fields.items() for n, a in d.args.items()
            ]
        else:
            continue
        for position, target in targets:
            if get_named_type(target.type).name == "String" and "At most" not in (target.description or ""):
                undocumented.append(position)
            if position.endswith("(first:)") and "0 to 100 (default 20)" not in (target.description or ""):
                undocumented.append(position)

    assert undocumented == []
