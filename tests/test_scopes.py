"""Scoped members (DESIGN rule 16): a member limited to chosen services and domains reaches nothing
else of the account, exactly as if it were another account's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from models.accounts import ClientAccount, Membership
from models.audit import AuditEvent
from models.database import Database
from models.hosting import Domain, Service
from models.permissions import SCOPED_PERMISSIONS, ordered
from models.tickets import Ticket
from models.users import User
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from tests.factories import (
    add_member,
    create_account,
    create_domain,
    create_service,
    create_ticket,
    create_user,
    limit_membership,
    session_for,
)
from tests.graphql import Api

SCOPED = [p.value for p in ordered(SCOPED_PERMISSIONS)]
LISTS = """
query($account: ID!) {
  viewer {
    services(first: 20) { totalCount edges { node { id } } }
    domains(first: 20) { totalCount edges { node { id } } }
    accounts(first: 5) {
      edges { permissions scope { services { id label } domains { id name } } }
    }
  }
  account(id: $account) {
    name
    services(first: 20) { totalCount edges { node { id } } }
    domains(first: 20) { totalCount edges { node { id } } }
    tickets(first: 20) { totalCount edges { node { id } } }
  }
}
"""
NODE = "query($id: ID!) { node(id: $id) { id } }"
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
ACCOUNT_WIDE = """
query($account: ID!) {
  account(id: $account) { name invoices(first: 5) { totalCount } members(first: 5) { totalCount } }
  viewer { invoices(first: 5) { totalCount } }
}
"""


def gid(kind: str, row: Any) -> str:
    return encode_id(kind, row.id)


@dataclass
class Customer:
    """An account with a website and a shop (a service and a domain each); the agency is a member
    limited to the website."""

    account: ClientAccount
    owner: User
    website: Service
    shop: Service
    website_domain: Domain
    shop_domain: Domain
    agency: User
    agency_membership: Membership
    website_ticket: Ticket
    shop_ticket: Ticket
    general_ticket: Ticket

    @property
    def account_id(self) -> str:
        return gid("ClientAccount", self.account)


async def customer_with_agency(db: Database) -> Customer:
    owner = await create_user(db, email="kunde@example.com", name="Kunde")
    account = await create_account(db, owner=owner, name="Kunde GmbH")
    website = await create_service(db, account=account, label="www.kunde.at")
    shop = await create_service(db, account=account, label="shop.kunde.at")
    website_domain = await create_domain(db, account=account, name="kunde.at")
    shop_domain = await create_domain(db, account=account, name="kunde-shop.at")
    agency = await create_user(db, email="agency@example.com", name="Agentur")
    membership = await add_member(db, account=account, user=agency, permissions=SCOPED_PERMISSIONS)
    membership = await limit_membership(db, membership, services=[website], domains=[website_domain])
    return Customer(
        account=account,
        owner=owner,
        website=website,
        shop=shop,
        website_domain=website_domain,
        shop_domain=shop_domain,
        agency=agency,
        agency_membership=membership,
        website_ticket=await create_ticket(db, account=account, opened_by=owner, service=website),
        shop_ticket=await create_ticket(db, account=account, opened_by=owner, service=shop),
        general_ticket=await create_ticket(db, account=account, opened_by=owner),
    )


async def signed_in(api: Api, db: Database, settings: Settings, user: User) -> Api:
    client = api.new()
    client.set_session(await session_for(db, settings, user))
    return client


def ids(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


async def audit_actions(db: Database) -> list[str]:
    async with db.read() as session:
        return list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


# --- what a scoped member sees -----------------------------------------------------------------


async def test_a_scoped_member_lists_only_what_is_in_scope(
    api: Api, db: Database, settings: Settings
) -> None:
    given = await customer_with_agency(db)
    agency = await signed_in(api, db, settings, given.agency)

    response = await agency(LISTS, {"account": given.account_id})

    assert response.errors == []
    viewer, account = response.data["viewer"], response.data["account"]
    assert ids(viewer["services"]) == [gid("Service", given.website)]
    assert viewer["services"]["totalCount"] == 1
    assert ids(viewer["domains"]) == [gid("Domain", given.website_domain)]
    assert viewer["accounts"]["edges"] == [
        {
            "permissions": SCOPED,
            "scope": {
                "services": [{"id": gid("Service", given.website), "label": "www.kunde.at"}],
                "domains": [{"id": gid("Domain", given.website_domain), "name": "kunde.at"}],
            },
        }
    ]
    assert account["name"] == "Kunde GmbH"
    assert ids(account["services"]) == [gid("Service", given.website)]
    assert ids(account["domains"]) == [gid("Domain", given.website_domain)]
    assert ids(account["tickets"]) == [gid("Ticket", given.website_ticket)]
    assert account["tickets"]["totalCount"] == 1


async def test_an_unscoped_member_sees_the_whole_account_and_no_scope(
    api: Api, db: Database, settings: Settings
) -> None:
    given = await customer_with_agency(db)
    owner = await signed_in(api, db, settings, given.owner)

    response = await owner(LISTS, {"account": given.account_id})

    assert response.data["viewer"]["services"]["totalCount"] == 2
    assert response.data["account"]["tickets"]["totalCount"] == 3
    assert response.data["viewer"]["accounts"]["edges"][0]["scope"] is None


@pytest.mark.parametrize("outside", ["shop", "shop_domain", "shop_ticket", "general_ticket"])
async def test_outside_the_scope_node_is_null_as_for_another_account(
    api: Api, db: Database, settings: Settings, outside: str
) -> None:
    given = await customer_with_agency(db)
    agency = await signed_in(api, db, settings, given.agency)
    row = getattr(given, outside)
    kind = {"shop": "Service", "shop_domain": "Domain"}.get(outside, "Ticket")

    response = await agency(NODE, {"id": gid(kind, row)})

    assert response.errors == []
    assert response.data == {"node": None}


async def test_nodes_returns_what_is_in_scope_and_null_for_the_rest(
    api: Api, db: Database, settings: Settings
) -> None:
    given = await customer_with_agency(db)
    agency = await signed_in(api, db, settings, given.agency)
    inside, outside = gid("Service", given.website), gid("Service", given.shop)

    response = await agency(NODES, {"ids": [inside, outside, gid("Domain", given.website_domain)]})

    assert response.errors == []
    assert response.data["nodes"] == [{"id": inside}, None, {"id": gid("Domain", given.website_domain)}]


async def test_account_wide_fields_are_forbidden_and_invoices_none(
    api: Api, db: Database, settings: Settings
) -> None:
    given = await customer_with_agency(db)
    agency = await signed_in(api, db, settings, given.agency)

    response = await agency(ACCOUNT_WIDE, {"account": given.account_id})

    assert response.data["account"] == {"name": "Kunde GmbH", "invoices": None, "members": None}
    assert sorted((tuple(e["path"]), e["extensions"]["code"]) for e in response.errors) == [
        (("account", "invoices"), "FORBIDDEN"),
        (("account", "members"), "FORBIDDEN"),
    ]
    assert response.data["viewer"]["invoices"]["totalCount"] == 0


# --- statement counts --------------------------------------------------------------------------

PINNED = 5
SCOPED_READ = """
query($account: ID!) {
  viewer { services(first: 50) { edges { node { id label } } } }
  account(id: $account) {
    domains(first: 50) { edges { node { id name } } }
    tickets(first: 50) { edges { node { id subject } } }
  }
}
"""


async def test_a_scoped_members_reads_cost_the_same_whatever_the_scope_holds(
    api: Api, db: Database, settings: Settings
) -> None:
    given = await customer_with_agency(db)
    agency = await signed_in(api, db, settings, given.agency)
    _, small = await agency.count(SCOPED_READ, {"account": given.account_id})
    more = [await create_service(db, account=given.account) for _ in range(5)]
    domains = [await create_domain(db, account=given.account) for _ in range(5)]
    await limit_membership(db, given.agency_membership, services=more, domains=domains)
    for service in more:
        await create_ticket(db, account=given.account, opened_by=given.owner, service=service)

    response, large = await agency.count(SCOPED_READ, {"account": given.account_id})
    _, unscoped = await (await signed_in(api, db, settings, given.owner)).count(
        SCOPED_READ, {"account": given.account_id}
    )

    assert len(response.data["viewer"]["services"]["edges"]) == 6
    assert len(response.data["account"]["tickets"]["edges"]) == 6
    assert small == large, db.counter.statements
    # session lookup, viewer's services page, access to the account with the account, its domains
    # page, its tickets page: the scope adds no statement, only conditions to these
    assert large == PINNED, db.counter.statements
    assert unscoped == PINNED


async def test_a_scoped_tokens_reads_cost_what_an_unscoped_tokens_do(
    api: Api, db: Database, settings: Settings
) -> None:
    given = await customer_with_agency(db)
    owner = await signed_in(api, db, settings, given.owner)
    mint = "mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { token } }"
    scope = {
        "serviceIds": [gid("Service", given.website)],
        "domainIds": [gid("Domain", given.website_domain)],
    }
    scoped = api.with_token(
        (await owner(mint, {"i": {"name": "scoped", "scope": scope}})).payload("createApiToken")["token"]
    )
    unscoped = api.with_token((await owner(mint, {"i": {"name": "all"}})).payload("createApiToken")["token"])
    variables = {"account": given.account_id}
    # Each token's first request records its first use; the ones after it do not.
    await scoped(SCOPED_READ, variables)
    await unscoped(SCOPED_READ, variables)

    response, narrow = await scoped.count(SCOPED_READ, variables)
    _, wide = await unscoped.count(SCOPED_READ, variables)

    assert len(response.data["viewer"]["services"]["edges"]) == 1
    assert narrow == wide == PINNED, db.counter.statements
