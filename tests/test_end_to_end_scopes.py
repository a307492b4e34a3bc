"""An agency limited to the one website it maintains for a customer (DESIGN rule 16), over real HTTP
against `clientarea serve`, with the invitation delivered over SMTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from clientarea.catalogue import sync_catalogue
from models.accounts import ClientAccount
from models.database import Database
from resolvers.core.ids import encode_id
from tests.factories import create_domain, create_service
from tests.servers import Inbox, clientarea_server, free_port, link_token, smtp_server
from tests.test_end_to_end import _mail_to, _sign_up

pytestmark = pytest.mark.e2e

INVITE = """
mutation InviteScoped($input: InviteUserInput!) {
  inviteUser(input: $input) {
    invitation { id email permissions status scope { services { id label } domains { id name } } }
    userErrors { field message code }
  }
}
"""
PREVIEW = """
query ScopedInvitationPreview($token: String!) {
  invitation(token: $token) { accountName email permissions scopeNames }
}
"""
ACCEPT = """
mutation($token: String!) {
  acceptInvitation(input: { token: $token }) { membership { id role } userErrors { code } }
}
"""
SEES = """
query($shop: ID!, $account: ID!) {
  viewer {
    services(first: 20) { totalCount edges { node { id label } } }
    domains(first: 20) { totalCount edges { node { id name } } }
  }
  shop: node(id: $shop) { id }
  account(id: $account) { name invoices(first: 1) { totalCount } }
}
"""
NAMESERVERS = """
mutation($id: ID!) {
  updateDomainNameservers(
    input: { domainId: $id, nameservers: ["ns1.agency.example", "ns2.agency.example"] }
  ) {
    domain { nameservers }
    userErrors { field code }
  }
}
"""
UPDATE_SCOPE = """
mutation UpdateMemberScope($membershipId: ID!, $scope: MembershipScopeInput) {
  updateMemberScope(input: { membershipId: $membershipId, scope: $scope }) {
    membership { id permissions scope { services { id label } domains { id name } } }
    userErrors { field message code }
  }
}
"""


async def _gql(client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None) -> Any:
    """The whole response body: some steps expect errors next to data."""
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def inbox() -> AsyncIterator[Inbox]:
    mail = Inbox()
    port = free_port()
    async with smtp_server(mail, port):
        mail.url = f"smtp://127.0.0.1:{port}"  # type: ignore[attr-defined]
        yield mail


@pytest.fixture
async def server(database_url: str, db: Database, inbox: Inbox) -> AsyncIterator[str]:
    await sync_catalogue(db)
    async with clientarea_server(
        database_url,
        smtp_url=inbox.url,  # type: ignore[attr-defined]
        mail_poll_seconds="0.05",
        public_url="https://dashboard.example",
    ) as base:
        yield base


async def test_an_agency_scoped_to_one_website_sees_exactly_it_until_the_scope_widens(
    server: str, db: Database, inbox: Inbox
) -> None:
    # Given a customer with a website and a shop, each with its domain.
    customer = await _sign_up(server, "kunde@example.com", "Kunde GmbH")
    async with db.read() as session:
        account = await session.scalar(select(ClientAccount).where(ClientAccount.name == "Kunde GmbH"))
    assert account is not None
    website = await create_service(db, account=account, label="www.kunde.at")
    shop = await create_service(db, account=account, label="shop.kunde.at")
    website_domain = await create_domain(db, account=account, name="kunde.at")
    shop_domain = await create_domain(db, account=account, name="kunde-shop.at")
    account_id = encode_id("ClientAccount", account.id)
    shop_id = encode_id("Service", shop.id)

    # The customer invites the agency for the website and its domain only.
    invited = await _gql(
        customer,
        INVITE,
        {
            "input": {
                "accountId": account_id,
                "email": "agency@example.com",
                "permissions": ["VIEW_SERVICES", "VIEW_DOMAINS", "MANAGE_DOMAINS"],
                "scope": {
                    "serviceIds": [encode_id("Service", website.id)],
                    "domainIds": [encode_id("Domain", website_domain.id)],
                },
            }
        },
    )
    assert invited["data"]["inviteUser"]["userErrors"] == []
    [mail] = await _mail_to(inbox, "agency@example.com")
    token = link_token(mail, "https://dashboard.example/invitations/accept")

    # The agency, with a login of its own, previews and accepts.
    agency = await _sign_up(server, "agency@example.com", "Web Agency GmbH")
    preview = await _gql(agency, PREVIEW, {"token": token})
    assert preview["data"]["invitation"]["scopeNames"] == ["www.kunde.at", "kunde.at"]
    accepted = await _gql(agency, ACCEPT, {"token": token})
    assert accepted["data"]["acceptInvitation"]["userErrors"] == []
    membership_id = accepted["data"]["acceptInvitation"]["membership"]["id"]

    # It sees exactly the website and its domain.
    seen = await _gql(agency, SEES, {"shop": shop_id, "account": account_id})
    assert [e["node"]["label"] for e in seen["data"]["viewer"]["services"]["edges"]] == ["www.kunde.at"]
    assert [e["node"]["name"] for e in seen["data"]["viewer"]["domains"]["edges"]] == ["kunde.at"]
    assert seen["data"]["shop"] is None
    assert seen["data"]["account"] == {"name": "Kunde GmbH", "invoices": None}
    assert [e["extensions"]["code"] for e in seen["errors"]] == ["FORBIDDEN"]
    refused = await _gql(agency, NAMESERVERS, {"id": encode_id("Domain", shop_domain.id)})
    assert refused["data"]["updateDomainNameservers"]["userErrors"] == [
        {"field": ["input", "domainId"], "code": "NOT_FOUND"}
    ]
    changed = await _gql(agency, NAMESERVERS, {"id": encode_id("Domain", website_domain.id)})
    assert changed["data"]["updateDomainNameservers"]["userErrors"] == []

    # The customer gives the agency the whole account: it sees the rest at once.
    widened = await _gql(customer, UPDATE_SCOPE, {"membershipId": membership_id, "scope": None})
    assert widened["data"]["updateMemberScope"]["membership"]["scope"] is None
    seen = await _gql(agency, SEES, {"shop": shop_id, "account": account_id})
    assert seen["data"]["viewer"]["services"]["totalCount"] == 2
    assert seen["data"]["viewer"]["domains"]["totalCount"] == 2
    assert seen["data"]["shop"] == {"id": shop_id}
    now_allowed = await _gql(agency, NAMESERVERS, {"id": encode_id("Domain", shop_domain.id)})
    assert now_allowed["data"]["updateDomainNameservers"]["userErrors"] == []

    await agency.aclose()
    await customer.aclose()
