"""signUp: a new user owning a new account, and a session; nothing created when anything is wrong."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from models import ClientAccount, Membership, MembershipRole, User
from models.database import Database
from tests.factories import ADDRESS, BILLING, create_user
from tests.graphql import Api

SIGN_UP = """
mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) {
    user { id email name }
    account { id name viewerRole viewerPermissions billingProfile { phone address { countryCode } } }
    userErrors { field message code }
  }
}
"""

VIEWER = "{ viewer { user { email } accounts { totalCount edges { role node { name } } } } }"


def sign_up_input(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "email": "Erika@Muster.example",
        "name": "Erika Muster",
        "password": "a long enough passphrase",
        "accountName": "Muster GmbH",
        "billingProfile": BILLING,
    }
    values.update(overrides)
    return values


async def _counts(db: Database) -> tuple[int, int, int]:
    async with db.read() as session:
        return (
            await session.scalar(select(func.count()).select_from(User)) or 0,
            await session.scalar(select(func.count()).select_from(ClientAccount)) or 0,
            await session.scalar(select(func.count()).select_from(Membership)) or 0,
        )


async def test_sign_up_creates_owner_account_and_session(api: Api, db: Database) -> None:
    response = await api(SIGN_UP, {"input": sign_up_input()})

    payload = response.payload("signUp")
    assert payload["userErrors"] == []
    assert payload["user"]["email"] == "erika@muster.example"
    assert payload["account"]["name"] == "Muster GmbH"
    assert payload["account"]["viewerRole"] == "OWNER"
    assert len(payload["account"]["viewerPermissions"]) == 12
    assert payload["account"]["billingProfile"]["phone"] == "+431234567"
    cookie = response.http.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert "samesite=lax" in cookie.lower()

    viewer = (await api(VIEWER)).data["viewer"]
    assert viewer["user"]["email"] == "erika@muster.example"
    assert viewer["accounts"]["edges"] == [{"role": "OWNER", "node": {"name": "Muster GmbH"}}]
    async with db.read() as session:
        membership = await session.scalar(select(Membership))
        assert membership is not None
        assert membership.role is MembershipRole.OWNER


async def test_registered_email_in_any_case_is_refused_and_nothing_is_created(api: Api, db: Database) -> None:
    await create_user(db, email="erika@muster.example")

    response = await api(SIGN_UP, {"input": sign_up_input(email="ERIKA@muster.EXAMPLE")})

    payload = response.payload("signUp")
    assert payload["user"] is None
    assert payload["account"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("EMAIL_ALREADY_REGISTERED", ["input", "email"])
    ]
    assert await _counts(db) == (1, 0, 0)
    assert "set-cookie" not in response.http.headers


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"email": "not-an-email"}, ["input", "email"], "INVALID"),
        ({"password": "short"}, ["input", "password"], "WEAK_PASSWORD"),
        ({"password": "qwertyuiop"}, ["input", "password"], "WEAK_PASSWORD"),
        ({"password": "1234567890"}, ["input", "password"], "WEAK_PASSWORD"),
        ({"accountName": "  "}, ["input", "accountName"], "INVALID"),
        ({"name": ""}, ["input", "name"], "INVALID"),
        (
            {"billingProfile": {**BILLING, "phone": "01 234 567"}},
            ["input", "billingProfile", "phone"],
            "INVALID",
        ),
        (
            {"billingProfile": {**BILLING, "address": {**ADDRESS, "countryCode": "XX"}}},
            ["input", "billingProfile", "address", "countryCode"],
            "INVALID",
        ),
        (
            {"billingProfile": {**BILLING, "email": "billing@"}},
            ["input", "billingProfile", "email"],
            "INVALID",
        ),
    ],
)
async def test_invalid_input_is_a_user_error_with_its_path(
    api: Api, db: Database, overrides: dict[str, Any], field: list[str], code: str
) -> None:
    response = await api(SIGN_UP, {"input": sign_up_input(**overrides)})

    errors = response.payload("signUp")["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [(field, code)]
    assert errors[0]["message"]
    assert await _counts(db) == (0, 0, 0)


async def test_every_problem_is_reported_at_once(api: Api) -> None:
    response = await api(SIGN_UP, {"input": sign_up_input(email="nope", password="short", accountName="")})

    fields = [e["field"] for e in response.payload("signUp")["userErrors"]]
    assert fields == [["input", "email"], ["input", "password"], ["input", "accountName"]]


async def test_phone_in_epp_and_e164_form_is_stored_normalised(api: Api, db: Database) -> None:
    billing = {**BILLING, "phone": "+43 1 234 5678"}
    await api(SIGN_UP, {"input": sign_up_input(billingProfile=billing)})

    async with db.read() as session:
        assert await session.scalar(select(ClientAccount.billing_phone)) == "+4312345678"
