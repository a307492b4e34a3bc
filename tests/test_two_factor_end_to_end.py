"""Two-factor sign-in and accounts that require it, over real HTTP against `clientarea serve`, with
email over SMTP (DESIGN rule 17)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import httpx
import pyotp
import pytest

from models.database import Database
from tests.factories import BILLING
from tests.servers import Inbox, clientarea_server, free_port, link_token, smtp_server

pytestmark = pytest.mark.e2e

PASSWORD = "a long enough passphrase"
SIGN_UP = """
mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) { account { id } userErrors { code } }
}
"""
SIGN_IN = """
mutation SignIn($email: String!, $password: String!) {
  signIn(input: { email: $email, password: $password }) { user { id } twoFactorChallenge userErrors { code } }
}
"""
COMPLETE = """
mutation CompleteSignIn($challenge: String!, $code: String!) {
  completeSignIn(input: { twoFactorChallenge: $challenge, code: $code }) {
    user { email }
    userErrors { field code }
  }
}
"""
BEGIN = """
mutation Begin($password: String!) {
  beginTwoFactorSetup(input: { password: $password }) { secret otpauthUri userErrors { code } }
}
"""
CONFIRM = """
mutation Confirm($code: String!) {
  confirmTwoFactor(input: { code: $code }) { recoveryCodes userErrors { code } }
}
"""
SECURITY = "{ viewer { twoFactorEnabled user { email } } }"
SIGN_OUT = "mutation { signOut { ok } }"
REQUIRE = """
mutation Require($accountId: ID!, $on: Boolean!) {
  updateAccountSecurity(input: { accountId: $accountId, requireTwoFactor: $on }) {
    account { id requireTwoFactor }
    userErrors { field code }
  }
}
"""
INVITE = """
mutation Invite($input: InviteUserInput!) {
  inviteUser(input: $input) { invitation { id } userErrors { code } }
}
"""
JOIN = """
mutation Join($input: SignUpWithInvitationInput!) {
  signUpWithInvitation(input: $input) { membership { role } userErrors { code } }
}
"""
ACCOUNTS = """
query($id: ID!) {
  viewer { accounts { edges { twoFactorRequired permissions node { id } } } }
  account(id: $id) { name contacts { totalCount } }
}
"""
CREATE_CONTACT = """
mutation($input: CreateContactInput!) {
  createContact(input: $input) { contact { id } userErrors { code } }
}
"""
CONTACT = {
    "firstName": "Max",
    "lastName": "Muster",
    "email": "max@muster.example",
    "phone": "+43.1234567",
    "address": {"line1": "Gasse 2", "city": "Wien", "postalCode": "1010", "countryCode": "AT"},
}


class Device:
    """An authenticator app: the codes of the time steps around now."""

    def __init__(self, secret: str) -> None:
        self.totp = pyotp.TOTP(secret)

    def code(self, offset: int = 0) -> str:
        return self.totp.generate_otp(self.totp.timecode(datetime.now(UTC)) + offset)


async def _call(client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None) -> Any:
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def _mail(inbox: Inbox, address: str, subject: str) -> EmailMessage:
    for _ in range(100):
        for message in inbox.messages:
            if message["To"] == address and subject in str(message["Subject"]):
                return message
        await asyncio.sleep(0.05)
    raise AssertionError(f"no email '{subject}' to {address}")


async def _turn_on(browser: httpx.AsyncClient, offset: int) -> tuple[Device, list[str]]:
    begun = (await _call(browser, BEGIN, {"password": PASSWORD}))["beginTwoFactorSetup"]
    assert begun["otpauthUri"].startswith("otpauth://totp/")
    device = Device(begun["secret"])
    confirmed = (await _call(browser, CONFIRM, {"code": device.code(offset)}))["confirmTwoFactor"]
    assert confirmed["userErrors"] == []
    codes: list[str] = confirmed["recoveryCodes"]
    return device, codes


async def _challenge(browser: httpx.AsyncClient, email: str) -> str:
    signed = (await _call(browser, SIGN_IN, {"email": email, "password": PASSWORD}))["signIn"]
    assert signed["user"] is None
    assert signed["userErrors"] == []
    challenge: str = signed["twoFactorChallenge"]
    return challenge


async def _complete(browser: httpx.AsyncClient, challenge: str, code: str) -> list[str]:
    done = (await _call(browser, COMPLETE, {"challenge": challenge, "code": code}))["completeSignIn"]
    return [e["code"] for e in done["userErrors"]]


@pytest.fixture
async def inbox() -> AsyncIterator[Inbox]:
    mail = Inbox()
    port = free_port()
    async with smtp_server(mail, port):
        mail.url = f"smtp://127.0.0.1:{port}"  # type: ignore[attr-defined]
        yield mail


@pytest.fixture
async def server(database_url: str, db: Database, inbox: Inbox) -> AsyncIterator[str]:
    async with clientarea_server(
        database_url,
        smtp_url=inbox.url,  # type: ignore[attr-defined]
        mail_poll_seconds="0.05",
        public_url="https://dashboard.example",
    ) as base:
        yield base


async def test_two_factor_sign_in_from_setup_to_recovery_codes_and_throttling(
    server: str, inbox: Inbox
) -> None:
    email = "owner@example.com"
    async with httpx.AsyncClient(base_url=server) as browser:
        input_ = {"email": email, "name": "Erika", "password": PASSWORD, "accountName": "Muster GmbH"}
        await _call(browser, SIGN_UP, {"input": {**input_, "billingProfile": BILLING}})
        device, recovery_codes = await _turn_on(browser, -1)
        assert (await _call(browser, SECURITY))["viewer"]["twoFactorEnabled"] is True
        await _call(browser, SIGN_OUT)
    await _mail(inbox, email, "Zwei-Faktor-Anmeldung ist aktiv")

    # Signing in: the password gives a challenge and no session; a code gives the session.
    async with httpx.AsyncClient(base_url=server) as browser:
        challenge = await _challenge(browser, email)
        assert (await _call(browser, SECURITY))["viewer"] is None
        code = device.code()
        assert await _complete(browser, challenge, code) == []
        assert (await _call(browser, SECURITY))["viewer"]["user"] == {"email": email}
        await _call(browser, SIGN_OUT)

    # The same code again is refused; a recovery code works, once.
    async with httpx.AsyncClient(base_url=server) as browser:
        challenge = await _challenge(browser, email)
        assert await _complete(browser, challenge, code) == ["INVALID_CREDENTIALS"]
        assert await _complete(browser, challenge, recovery_codes[0]) == []
        assert (await _call(browser, SECURITY))["viewer"]["user"] == {"email": email}
    await _mail(inbox, email, "Wiederherstellungscode")
    async with httpx.AsyncClient(base_url=server) as browser:
        challenge = await _challenge(browser, email)
        assert await _complete(browser, challenge, recovery_codes[0]) == ["INVALID_CREDENTIALS"]

        # Two wrong codes so far; three more reach the limit, and then even a right code is refused.
        for _ in range(3):
            assert await _complete(
                browser, challenge, "000000" if device.code() != "000000" else "111111"
            ) == ["INVALID_CREDENTIALS"]
        assert await _complete(browser, challenge, device.code(1)) == ["RATE_LIMITED"]
        assert (await _call(browser, SECURITY))["viewer"] is None


async def test_an_owner_requires_two_factor_and_a_member_without_it_can_do_nothing_there(
    server: str, inbox: Inbox
) -> None:
    owner = httpx.AsyncClient(base_url=server)
    input_ = {
        "email": "owner@example.com",
        "name": "Erika",
        "password": PASSWORD,
        "accountName": "Muster GmbH",
    }
    account_id = (await _call(owner, SIGN_UP, {"input": {**input_, "billingProfile": BILLING}}))["signUp"][
        "account"
    ]["id"]
    invite = {"accountId": account_id, "email": "agency@example.com", "permissions": ["MANAGE_CONTACTS"]}
    assert (await _call(owner, INVITE, {"input": invite}))["inviteUser"]["userErrors"] == []
    token = link_token(
        await _mail(inbox, "agency@example.com", "Muster GmbH"),
        "https://dashboard.example/invitations/accept",
    )
    agency = httpx.AsyncClient(base_url=server)
    joined = await _call(agency, JOIN, {"input": {"token": token, "name": "Agency", "password": PASSWORD}})
    assert joined["signUpWithInvitation"]["userErrors"] == []

    # The owner cannot require what they do not use themself; with two-factor on, they can.
    refused = (await _call(owner, REQUIRE, {"accountId": account_id, "on": True}))["updateAccountSecurity"]
    assert refused["userErrors"] == [{"field": ["input", "requireTwoFactor"], "code": "TWO_FACTOR_REQUIRED"}]
    await _turn_on(owner, 0)
    required = (await _call(owner, REQUIRE, {"accountId": account_id, "on": True}))["updateAccountSecurity"]
    assert required == {"account": {"id": account_id, "requireTwoFactor": True}, "userErrors": []}
    await _mail(inbox, "agency@example.com", "verlangt Zwei-Faktor-Anmeldung")

    # The agency, without two-factor, holds nothing in the account.
    response = await agency.post("/graphql", json={"query": ACCOUNTS, "variables": {"id": account_id}})
    body = response.json()
    assert body["data"]["viewer"]["accounts"]["edges"] == [
        {"twoFactorRequired": True, "permissions": [], "node": {"id": account_id}}
    ]
    assert body["data"]["account"] == {"name": "Muster GmbH", "contacts": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    created = await _call(agency, CREATE_CONTACT, {"input": {"accountId": account_id, "contact": CONTACT}})
    assert created["createContact"] == {"contact": None, "userErrors": [{"code": "TWO_FACTOR_REQUIRED"}]}

    # Once the agency turns it on, its permissions count again.
    await _turn_on(agency, 0)
    seen = await _call(agency, ACCOUNTS, {"id": account_id})
    assert seen["viewer"]["accounts"]["edges"][0]["twoFactorRequired"] is False
    assert seen["viewer"]["accounts"]["edges"][0]["permissions"] == ["MANAGE_CONTACTS"]
    created = await _call(agency, CREATE_CONTACT, {"input": {"accountId": account_id, "contact": CONTACT}})
    assert created["createContact"]["userErrors"] == []
    await agency.aclose()
    await owner.aclose()
