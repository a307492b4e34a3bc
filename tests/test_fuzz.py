"""Fuzzing: schemathesis draws valid and invalid operations from the exported SDL and sends them to a
real server, signed in as the owner of an account with an order and a ticket, with that account's real
IDs among the values it may pick. Whatever it sends, no answer is a 5xx, every error carries a code
and shows no traceback, file path or SQL, and the server logs no unexpected error.

Run it alone with `.venv/bin/python -m pytest tests/test_fuzz.py`; for a longer hunt by hand,
CLIENTAREA_FUZZ_EXAMPLES raises the number of cases per operation and CLIENTAREA_FUZZ_SEED draws others."""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy import select

from clientarea.catalogue import sync_catalogue
from models import Base, Product
from models.database import Database
from resolvers.core.ids import encode_id
from schema.schema import SDL_PATH
from tests.factories import BILLING
from tests.outages import ServerProcess, log_records, server_process

pytestmark = pytest.mark.e2e

# The same seed and the same code draw the same cases on every machine (Hypothesis also draws on
# constants it finds in the project's modules); a failure prints the query that reproduces it.
SEED = int(os.environ.get("CLIENTAREA_FUZZ_SEED", "20260611"))
# Cases per operation, valid and invalid ones together.
EXAMPLES = int(os.environ.get("CLIENTAREA_FUZZ_EXAMPLES", "25"))
PASSWORD = "a long enough passphrase"
# A traceback, a source file, SQL or a driver's name in an answer is a leak of how the server is built.
LEAK = re.compile(
    r"Traceback|File \"|/[\w.-]+\.py\b|sqlalchemy|asyncpg|aiosqlite|sqlite3|psycopg|"
    r"\bSELECT\b.+\bFROM\b|\bINSERT INTO\b|\bUPDATE\b.+\bSET\b|\bDELETE FROM\b"
)

# Real values exist only once the server runs, so the fuzzer draws placeholders and each test swaps
# them for the real values. An argument that takes an ID of one kind gets a real one most of the time,
# so the rules behind the permission checks are reached too; any other string or ID is now and then
# one of the known values, and otherwise whatever the fuzzer draws.
KNOWN = (
    "account",
    "membership",
    "contact",
    "order",
    "invoice",
    "service",
    "domain",
    "hosting product",
    "domain product",
    "ticket",
)
PLACEHOLDERS = {name: f"known {name}" for name in KNOWN}
DICTIONARIES = {
    "any": KNOWN,
    "account": ("account",),
    "membership": ("membership",),
    "contact": ("contact",),
    "service": ("service",),
    "domain": ("domain",),
    "product": ("hosting product", "domain product"),
    "ticket": ("ticket",),
}
ARGUMENTS = {
    "Query.account.id": "account",
    "Query.node.id": "any",
    "Query.nodes.ids[*]": "any",
    "Mutation.*.input.accountId": "account",
    "Mutation.*.input.accountIds[*]": "account",
    "Mutation.*.input.membershipId": "membership",
    "Mutation.*.input.contactId": "contact",
    "Mutation.placeOrder.input.items[*].domain.contacts.registrantContactId": "contact",
    "Mutation.*.input.serviceId": "service",
    "Mutation.*.input.domainId": "domain",
    "Mutation.placeOrder.input.items[*].productId": "product",
    "Mutation.*.input.ticketId": "ticket",
}

schema = schemathesis.graphql.from_path(
    SDL_PATH,
    config=SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "dictionaries": {
                name: {"values": [PLACEHOLDERS[known] for known in values]}
                for name, values in DICTIONARIES.items()
            },
            "parameters": {
                argument: {"dictionary": dictionary, "probability": 0.8}
                for argument, dictionary in ARGUMENTS.items()
            },
            "generation": {
                "mode": "all",
                "max-examples": EXAMPLES,
                # No example database: the seed alone decides what is drawn.
                "database": "none",
                "dictionaries": {"string": {"dictionary": "any", "probability": 0.1}},
            },
        }
    ),
    # signOut takes no input, and would end the session every other operation is sent with.
).exclude(name="Mutation.signOut")

SIGN_UP = """
mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) {
    account { id primaryContact { id } members { edges { node { id } } } }
    userErrors { code }
  }
}
"""
PLACE_ORDER = """
mutation PlaceOrder($input: PlaceOrderInput!) {
  placeOrder(input: $input) {
    order { id invoice { id } items { service { id } domain { id } } }
    userErrors { code }
  }
}
"""
OPEN_TICKET = """
mutation OpenTicket($input: OpenTicketInput!) {
  openTicket(input: $input) { ticket { id } userErrors { code } }
}
"""


@dataclass
class Target:
    """The server under fuzzing, the owner's session and the real values of the placeholders."""

    server: ServerProcess
    cookie: str
    known: dict[str, str]

    def with_known_values(self, query: str) -> str:
        for name, placeholder in PLACEHOLDERS.items():
            query = query.replace(json.dumps(placeholder), json.dumps(self.known[name]))
        return query

    def errors_logged(self, since: int) -> list[str]:
        """The errors the server logged after `since` characters of its log: only unexpected ones are."""
        return [
            record["message"]
            for record in log_records(self.server.log[since:])
            if record["level"] in ("error", "critical") or "exception" in record
        ]


async def _graphql(http: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> Any:
    response = await http.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def _an_owner_with_an_order_and_a_ticket(
    http: httpx.AsyncClient, products: dict[str, str]
) -> dict[str, str]:
    """Signs up over HTTP (the client keeps the session cookie); returns the real value of each
    placeholder."""
    account = (
        await _graphql(
            http,
            SIGN_UP,
            {
                "input": {
                    "email": "fuzz@example.com",
                    "name": "Fuzz Owner",
                    "password": PASSWORD,
                    "accountName": "Fuzz GmbH",
                    "billingProfile": BILLING,
                }
            },
        )
    )["signUp"]["account"]
    hosting_product, domain_product = products["webhosting-s"], products["domain-at"]
    order = (
        await _graphql(
            http,
            PLACE_ORDER,
            {
                "input": {
                    "accountId": account["id"],
                    "idempotencyKey": "fuzz",
                    "items": [
                        {"productId": hosting_product, "billingCycle": "MONTHLY"},
                        {
                            "productId": domain_product,
                            "billingCycle": "ANNUALLY",
                            "domain": {"name": "fuzz.at", "action": "REGISTER", "period": 1, "contacts": {}},
                        },
                    ],
                }
            },
        )
    )["placeOrder"]["order"]
    hosting, domain = order["items"]
    ticket = (
        await _graphql(
            http,
            OPEN_TICKET,
            {
                "input": {
                    "accountId": account["id"],
                    "department": "Support",
                    "subject": "Fuzzing",
                    "message": "Mail is not delivered.",
                    "serviceId": hosting["service"]["id"],
                }
            },
        )
    )["openTicket"]["ticket"]
    [membership] = account["members"]["edges"]
    return {
        "account": account["id"],
        "membership": membership["node"]["id"],
        "contact": account["primaryContact"]["id"],
        "order": order["id"],
        "invoice": order["invoice"]["id"],
        "service": hosting["service"]["id"],
        "domain": domain["domain"]["id"],
        "hosting product": hosting_product,
        "domain product": domain_product,
        "ticket": ticket["id"],
    }


@pytest.fixture(scope="module")
async def target(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Target]:
    db = Database(database_url)
    try:
        await sync_catalogue(db)
        async with db.read() as session:
            products = {p.key: encode_id("Product", p.id) for p in await session.scalars(select(Product))}
        async with (
            server_process(database_url, tmp_path_factory.mktemp("fuzz") / "server.log") as server,
            httpx.AsyncClient(base_url=server.base_url) as http,
        ):
            known = await _an_owner_with_an_order_and_a_ticket(http, products)
            yield Target(server, http.cookies["clientarea_session"], known)
    finally:
        async with db.begin() as session:
            for table in reversed(Base.metadata.sorted_tables):
                await session.execute(table.delete())
        await db.dispose()


def unmasked(body: Any) -> Iterator[str]:
    """Why each error of a GraphQL answer would tell too much or too little."""
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if not code:
            yield f"no extensions.code: {error}"
        if code == "INTERNAL_SERVER_ERROR":
            yield f"an unexpected error: {error}"
        if LEAK.search(str(error)):
            yield f"detail leaked: {error}"


@schema.parametrize()
def test_no_server_error_and_no_unmasked_error(case: Any, target: Target) -> None:
    case.body = target.with_known_values(case.body)
    logged = target.server.log_end()

    response = case.call(
        base_url=f"{target.server.base_url}/graphql",
        headers={"cookie": f"clientarea_session={target.cookie}"},
    )

    assert response.status_code < 500, response.text
    # schemathesis counts a valid operation refused with a coded error (RATE_LIMITED, FORBIDDEN) as a
    # failure, and any error raised in a resolver as a server error; here both are answers by design,
    # and `unmasked` judges the errors instead. What it checks besides stays: invalid operations are
    # refused, and answers are GraphQL responses that keep the schema's promises.
    case.validate_response(response, excluded_checks=[positive_data_acceptance, not_a_server_error])
    [content_type] = response.headers["content-type"]
    assert content_type.startswith("application/json"), response.text
    assert list(unmasked(response.json())) == []
    assert target.errors_logged(since=logged) == []
