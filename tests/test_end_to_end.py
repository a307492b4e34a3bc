"""The seed's flows over real HTTP against `clientarea serve` (uvicorn), with email over SMTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from models.database import Database
from tests.factories import BILLING
from tests.servers import Inbox, clientarea_server, free_port, link_token, smtp_server

pytestmark = pytest.mark.e2e

PASSWORD = "a long enough passphrase"
SIGN_UP = """
mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) { user { id email } account { id name viewerRole } userErrors { code } }
}
"""
SIGN_IN = """
mutation SignIn($email: String!, $password: String!) {
  signIn(input: { email: $email, password: $password }) { user { email } userErrors { code } }
}
"""
ACCOUNTS = """
{
  viewer {
    user { email }
    accounts { totalCount edges { role permissions node { id name owner { email } } } }
  }
}
"""
CREATE_ACCOUNT = """
mutation Create($input: CreateClientAccountInput!) {
  createClientAccount(input: $input) { account { id name viewerRole } userErrors { code } }
}
"""
CREATE_TOKEN = """
mutation Token($input: CreateApiTokenInput!) {
  createApiToken(input: $input) { token apiToken { accounts { id } } userErrors { code } }
}
"""
INVITE = """
mutation Invite($input: InviteUserInput!) {
  inviteUser(input: $input) { invitation { id } userErrors { code } }
}
"""
SIGN_UP_WITH_INVITATION = """
mutation Join($input: SignUpWithInvitationInput!) {
  signUpWithInvitation(input: $input) { user { email } membership { role } userErrors { code } }
}
"""
PENDING = "{ viewer { pendingInvitations { id accountName } } }"
ACCEPT = """
mutation Accept($id: ID) {
  acceptInvitation(input: { invitationId: $id }) { membership { role } userErrors { code } }
}
"""
ON_BEHALF = """
mutation OnBehalf($input: CreateClientAccountOnBehalfInput!) {
  createClientAccountOnBehalf(input: $input) {
    account { id viewerRole viewerPermissions owner { email } }
    userErrors { code }
  }
}
"""
VERIFY = """
mutation Verify($token: String!) {
  verifyEmail(input: { token: $token }) { user { email } userErrors { code } }
}
"""
RESET = """
mutation Reset($token: String!, $password: String!) {
  resetPassword(input: { token: $token, password: $password }) { user { email } userErrors { code } }
}
"""


async def _gql(client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None) -> Any:
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def _sign_up(server: str, email: str, account: str) -> httpx.AsyncClient:
    browser = httpx.AsyncClient(base_url=server)
    data = await _gql(
        browser,
        SIGN_UP,
        {
            "input": {
                "email": email,
                "name": account + " owner",
                "password": PASSWORD,
                "accountName": account,
                "billingProfile": BILLING,
            }
        },
    )
    assert data["signUp"]["userErrors"] == []
    return browser


async def _mail_to(inbox: Inbox, address: str, count: int = 1) -> list[EmailMessage]:
    for _ in range(100):
        found = [m for m in inbox.messages if m["To"] == address]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no email to {address}")


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


async def test_sign_up_verify_sign_in_second_account_and_a_narrow_token(server: str, inbox: Inbox) -> None:
    await (await _sign_up(server, "agency@example.com", "Web Agency GmbH")).aclose()
    [verification] = await _mail_to(inbox, "agency@example.com")
    assert verification["Subject"] == "Bestätigen Sie Ihre E-Mail-Adresse"
    verification_token = link_token(verification, "https://dashboard.example/email/verify")

    async with httpx.AsyncClient(base_url=server) as browser:
        verified = await _gql(browser, VERIFY, {"token": verification_token})
        assert verified["verifyEmail"] == {"user": {"email": "agency@example.com"}, "userErrors": []}
        signed_in = await _gql(browser, SIGN_IN, {"email": "agency@example.com", "password": PASSWORD})
        assert signed_in["signIn"]["user"] == {"email": "agency@example.com"}
        assert (await _gql(browser, ACCOUNTS))["viewer"]["accounts"]["totalCount"] == 1
        created = await _gql(
            browser, CREATE_ACCOUNT, {"input": {"name": "Agency billing", "billingProfile": BILLING}}
        )
        second = created["createClientAccount"]["account"]
        assert second["viewerRole"] == "OWNER"
        minted = await _gql(
            browser, CREATE_TOKEN, {"input": {"name": "partner", "accountIds": [second["id"]]}}
        )
        token = minted["createApiToken"]["token"]

    async with httpx.AsyncClient(base_url=server, headers={"authorization": f"Bearer {token}"}) as partner:
        seen = (await _gql(partner, ACCOUNTS))["viewer"]["accounts"]

    assert seen["totalCount"] == 1
    assert [e["node"]["name"] for e in seen["edges"]] == ["Agency billing"]


async def test_clients_invite_an_agency_and_the_agency_registers_a_customer(
    server: str, inbox: Inbox
) -> None:
    # A client invites an agency that has no user yet; the agency signs up from the email.
    client = await _sign_up(server, "client1@example.com", "Client 1")
    first_account = (await _gql(client, ACCOUNTS))["viewer"]["accounts"]["edges"][0]["node"]["id"]
    invited = await _gql(
        client,
        INVITE,
        {
            "input": {
                "accountId": first_account,
                "email": "agency@example.com",
                "permissions": ["VIEW_SERVICES"],
            }
        },
    )
    assert invited["inviteUser"]["userErrors"] == []
    [invitation_mail] = await _mail_to(inbox, "agency@example.com")
    assert invitation_mail.get_body(preferencelist=("html",)) is not None
    token = link_token(invitation_mail, "https://dashboard.example/invitations/accept")
    agency = httpx.AsyncClient(base_url=server)
    joined = await _gql(
        agency,
        SIGN_UP_WITH_INVITATION,
        {"input": {"token": token, "name": "Web Agency", "password": PASSWORD}},
    )
    assert joined["signUpWithInvitation"]["membership"] == {"role": "USER"}

    # Three more clients invite the same agency user, who accepts all of them.
    for number in (2, 3, 4):
        other = await _sign_up(server, f"client{number}@example.com", f"Client {number}")
        account_id = (await _gql(other, ACCOUNTS))["viewer"]["accounts"]["edges"][0]["node"]["id"]
        await _gql(
            other,
            INVITE,
            {
                "input": {
                    "accountId": account_id,
                    "email": "agency@example.com",
                    "permissions": ["PLACE_ORDERS"],
                }
            },
        )
        await other.aclose()
    pending = (await _gql(agency, PENDING))["viewer"]["pendingInvitations"]
    assert sorted(p["accountName"] for p in pending) == ["Client 2", "Client 3", "Client 4"]
    for invitation in pending:
        accepted = await _gql(agency, ACCEPT, {"id": invitation["id"]})
        assert accepted["acceptInvitation"]["membership"] == {"role": "USER"}
    accounts = (await _gql(agency, ACCOUNTS))["viewer"]["accounts"]
    assert accounts["totalCount"] == 4
    assert [(e["node"]["name"], e["role"], e["permissions"]) for e in accounts["edges"]] == [
        ("Client 1", "USER", ["VIEW_SERVICES"]),
        ("Client 2", "USER", ["PLACE_ORDERS"]),
        ("Client 3", "USER", ["PLACE_ORDERS"]),
        ("Client 4", "USER", ["PLACE_ORDERS"]),
    ]

    # The agency registers a customer's account under power of attorney.
    created = await _gql(
        agency,
        ON_BEHALF,
        {
            "input": {
                "owner": {"email": "customer@example.com", "name": "Customer"},
                "name": "Customer KG",
                "billingProfile": BILLING,
                "permissions": ["VIEW_SERVICES", "PLACE_ORDERS"],
                "powerOfAttorney": True,
            }
        },
    )
    account = created["createClientAccountOnBehalf"]["account"]
    assert account["viewerRole"] == "USER"
    assert account["owner"] == {"email": "customer@example.com"}

    # The customer sets a password from the email and sees itself as the owner.
    [welcome] = await _mail_to(inbox, "customer@example.com")
    reset_token = link_token(welcome, "https://dashboard.example/password/reset")
    async with httpx.AsyncClient(base_url=server) as customer:
        reset = await _gql(customer, RESET, {"token": reset_token, "password": "the customer's passphrase"})
        assert reset["resetPassword"]["user"] == {"email": "customer@example.com"}
        own = (await _gql(customer, ACCOUNTS))["viewer"]["accounts"]["edges"]
    assert [(e["node"]["name"], e["role"]) for e in own] == [("Customer KG", "OWNER")]
    await agency.aclose()
    await client.aclose()
