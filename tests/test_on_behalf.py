"""createClientAccountOnBehalf: the customer owns the new account, the agency acts in it as a USER."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from models import (
    AuditEvent,
    ClientAccount,
    Membership,
    MembershipRole,
    OutboxEmail,
    PasswordResetToken,
    User,
)
from models.base import utcnow
from models.database import Database
from models.permissions import Permission, to_mask
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from tests.factories import ADDRESS, BILLING, create_account, create_user, session_for
from tests.graphql import Api

CREATE = """
mutation CreateClientAccountOnBehalf($input: CreateClientAccountOnBehalfInput!) {
  createClientAccountOnBehalf(input: $input) {
    account { id name owner { id email } viewerRole viewerPermissions }
    membership { id role permissions invitedBy { email } }
    userErrors { field message code }
  }
}
"""
RESET = """
mutation Reset($token: String!, $password: String!) {
  resetPassword(input: { token: $token, password: $password }) {
    user { email }
    userErrors { field message code }
  }
}
"""
MINT = """
mutation Mint($input: CreateApiTokenInput!) {
  createApiToken(input: $input) { token userErrors { code } }
}
"""
ACCOUNTS = "{ viewer { user { email } accounts { edges { role permissions node { name } } } } }"

AGENCY = "office@agency.example"
CUSTOMER = "erika@muster.example"


def on_behalf_input(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "owner": {"email": CUSTOMER, "name": "Erika Muster"},
        "name": "Muster GmbH",
        "billingProfile": BILLING,
        "permissions": ["PLACE_ORDERS", "MANAGE_DOMAINS", "VIEW_DOMAINS"],
        "powerOfAttorney": True,
    }
    values.update(overrides)
    return values


async def _agency(api: Api, db: Database, settings: Settings) -> User:
    agency = await create_user(db, email=AGENCY, name="Web Agency")
    api.set_session(await session_for(db, settings, agency))
    return agency


async def _counts(db: Database) -> tuple[int, int, int, int]:
    async with db.read() as session:
        return (
            await session.scalar(select(func.count()).select_from(User)) or 0,
            await session.scalar(select(func.count()).select_from(ClientAccount)) or 0,
            await session.scalar(select(func.count()).select_from(Membership)) or 0,
            await session.scalar(select(func.count()).select_from(OutboxEmail)) or 0,
        )


async def _email_to(db: Database, address: str) -> OutboxEmail:
    async with db.read() as session:
        return (await session.scalars(select(OutboxEmail).where(OutboxEmail.to_address == address))).one()


def _token_in(email: OutboxEmail) -> str:
    match = re.search(r"/password/reset\?token=([A-Za-z0-9_-]+)", email.text_body)
    assert match is not None, email.text_body
    return match.group(1)


async def test_the_customer_owns_the_account_and_the_agency_holds_what_it_asked_for(
    api: Api, db: Database, settings: Settings
) -> None:
    agency = await _agency(api, db, settings)

    response = await api(CREATE, {"input": on_behalf_input()})

    payload = response.payload("createClientAccountOnBehalf")
    assert payload["userErrors"] == []
    assert payload["account"]["name"] == "Muster GmbH"
    assert payload["account"]["owner"]["email"] == CUSTOMER
    assert payload["account"]["viewerRole"] == "USER"
    assert payload["account"]["viewerPermissions"] == ["VIEW_DOMAINS", "MANAGE_DOMAINS", "PLACE_ORDERS"]
    assert payload["membership"]["role"] == "USER"
    assert payload["membership"]["permissions"] == ["VIEW_DOMAINS", "MANAGE_DOMAINS", "PLACE_ORDERS"]
    assert payload["membership"]["invitedBy"] == {"email": AGENCY}
    async with db.read() as session:
        customer = (await session.scalars(select(User).where(User.email == CUSTOMER))).one()
        memberships = {
            m.user_id: m for m in await session.scalars(select(Membership).order_by(Membership.id))
        }
        token = (await session.scalars(select(PasswordResetToken))).one()
        actions = set(await session.scalars(select(AuditEvent.action)))
    assert customer.password_hash is None
    assert memberships[customer.id].role is MembershipRole.OWNER
    assert memberships[agency.id].role is MembershipRole.USER
    assert memberships[agency.id].permissions == to_mask(
        [Permission.PLACE_ORDERS, Permission.MANAGE_DOMAINS, Permission.VIEW_DOMAINS]
    )
    assert memberships[agency.id].invited_by_id == agency.id
    assert token.user_id == customer.id
    assert timedelta(days=6, hours=23) < token.expires_at - utcnow() <= timedelta(days=7)
    assert "account.created_on_behalf" in actions
    agency_view = (await api(ACCOUNTS)).data["viewer"]["accounts"]["edges"]
    assert agency_view == [
        {
            "role": "USER",
            "permissions": ["VIEW_DOMAINS", "MANAGE_DOMAINS", "PLACE_ORDERS"],
            "node": {"name": "Muster GmbH"},
        }
    ]


async def test_the_customer_sets_a_password_from_the_email_and_sees_themself_as_owner(
    api: Api, db: Database, settings: Settings
) -> None:
    await _agency(api, db, settings)
    await api(CREATE, {"input": on_behalf_input()})
    email = await _email_to(db, CUSTOMER)
    customer = api.new()

    response = await customer(RESET, {"token": _token_in(email), "password": "the customer's passphrase"})

    assert email.template == "account_created_on_behalf"
    assert "Web Agency" in email.text_body
    assert response.payload("resetPassword") == {"user": {"email": CUSTOMER}, "userErrors": []}
    viewer = (await customer(ACCOUNTS)).data["viewer"]
    assert viewer["user"]["email"] == CUSTOMER
    assert [(e["role"], e["node"]["name"]) for e in viewer["accounts"]["edges"]] == [("OWNER", "Muster GmbH")]
    assert len(viewer["accounts"]["edges"][0]["permissions"]) == len(Permission)


@pytest.mark.parametrize(
    ("country", "subject", "greeting"),
    [
        ("AT", "Ihr Kundenkonto Muster GmbH ist eingerichtet", "Guten Tag Erika Muster,"),
        ("GB", "Your client account Muster GmbH is ready", "Hello Erika Muster,"),
    ],
)
async def test_the_email_speaks_the_language_of_the_billing_country(
    api: Api, db: Database, settings: Settings, country: str, subject: str, greeting: str
) -> None:
    await _agency(api, db, settings)
    billing = {**BILLING, "address": {**ADDRESS, "countryCode": country}}

    await api(CREATE, {"input": on_behalf_input(billingProfile=billing)})

    email = await _email_to(db, CUSTOMER)
    assert email.subject == subject
    assert email.text_body.startswith(greeting)
    assert f"{settings.public_url}/password/reset?token={_token_in(email)}" in email.text_body


async def test_without_power_of_attorney_nothing_is_created(
    api: Api, db: Database, settings: Settings
) -> None:
    await _agency(api, db, settings)

    response = await api(CREATE, {"input": on_behalf_input(powerOfAttorney=False)})

    payload = response.payload("createClientAccountOnBehalf")
    assert payload["account"] is None
    assert payload["membership"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("INVALID", ["input", "powerOfAttorney"])
    ]
    assert await _counts(db) == (1, 0, 0, 0)


async def test_a_registered_customer_email_is_refused_and_nothing_is_created(
    api: Api, db: Database, settings: Settings
) -> None:
    await _agency(api, db, settings)
    await create_user(db, email=CUSTOMER)

    response = await api(
        CREATE, {"input": on_behalf_input(owner={"email": "Erika@MUSTER.example", "name": "E"})}
    )

    payload = response.payload("createClientAccountOnBehalf")
    assert payload["account"] is None
    assert payload["membership"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("EMAIL_ALREADY_REGISTERED", ["input", "owner", "email"])
    ]
    assert await _counts(db) == (2, 0, 0, 0)


async def test_of_two_concurrent_requests_for_one_customer_only_one_creates(
    api: Api, db: Database, settings: Settings
) -> None:
    await _agency(api, db, settings)

    first, second = await asyncio.gather(
        api(CREATE, {"input": on_behalf_input(name="First")}),
        api(CREATE, {"input": on_behalf_input(name="Second")}),
    )

    codes = sorted(
        [
            first.user_error_codes("createClientAccountOnBehalf"),
            second.user_error_codes("createClientAccountOnBehalf"),
        ]
    )
    assert codes == [[], ["EMAIL_ALREADY_REGISTERED"]]
    assert await _counts(db) == (2, 1, 2, 1)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"owner": {"email": "not-an-email", "name": "Erika"}}, ["input", "owner", "email"]),
        ({"owner": {"email": CUSTOMER, "name": "  "}}, ["input", "owner", "name"]),
        ({"name": ""}, ["input", "name"]),
        ({"billingProfile": {**BILLING, "phone": "01 234 567"}}, ["input", "billingProfile", "phone"]),
        (
            {"billingProfile": {**BILLING, "address": {**ADDRESS, "countryCode": "XX"}}},
            ["input", "billingProfile", "address", "countryCode"],
        ),
    ],
)
async def test_invalid_input_is_a_user_error_with_its_path(
    api: Api, db: Database, settings: Settings, overrides: dict[str, Any], field: list[str]
) -> None:
    await _agency(api, db, settings)

    response = await api(CREATE, {"input": on_behalf_input(**overrides)})

    errors = response.payload("createClientAccountOnBehalf")["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [(field, "INVALID")]
    assert await _counts(db) == (1, 0, 0, 0)


async def test_an_anonymous_caller_is_unauthenticated(api: Api, db: Database) -> None:
    response = await api(CREATE, {"input": on_behalf_input()})

    assert response.codes == ["UNAUTHENTICATED"]
    assert response.data is None
    assert await _counts(db) == (0, 0, 0, 0)


async def test_creating_accounts_on_behalf_is_rate_limited_per_agency(
    api: Api, db: Database, settings: Settings
) -> None:
    await _agency(api, db, settings)
    # Refused attempts count too: otherwise the limit would not slow down probing for emails.
    await create_user(db, email=CUSTOMER)
    for index in range(20):
        owner = {"email": CUSTOMER if index % 2 else f"customer{index}@example.com", "name": "C"}
        await api(CREATE, {"input": on_behalf_input(owner=owner)})

    limited = await api(CREATE, {"input": on_behalf_input(owner={"email": "late@example.com", "name": "C"})})
    other_agency = api.new()
    other_agency.set_session(await session_for(db, settings, await create_user(db)))
    elsewhere = await other_agency(
        CREATE, {"input": on_behalf_input(owner={"email": "late@example.com", "name": "C"})}
    )

    assert limited.user_error_codes("createClientAccountOnBehalf") == ["RATE_LIMITED"]
    assert limited.payload("createClientAccountOnBehalf")["account"] is None
    assert elsewhere.user_error_codes("createClientAccountOnBehalf") == []


async def test_a_token_restricted_to_some_accounts_cannot_create_accounts(
    api: Api, db: Database, settings: Settings
) -> None:
    agency = await _agency(api, db, settings)
    own = await create_account(db, owner=agency)
    minted = await api(
        MINT, {"input": {"name": "partner", "accountIds": [encode_id("ClientAccount", own.id)]}}
    )
    partner = api.new().with_token(minted.payload("createApiToken")["token"])
    before = await _counts(db)

    response = await partner(CREATE, {"input": on_behalf_input()})

    assert response.user_error_codes("createClientAccountOnBehalf") == ["FORBIDDEN"]
    assert response.payload("createClientAccountOnBehalf")["account"] is None
    assert await _counts(db) == before
