"""Scoped members (DESIGN rule 16): a member limited to chosen services and domains reaches nothing
else of the account, exactly as if it were another account's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select, update

from clientarea.settings import Settings
from models.accounts import ClientAccount, Membership
from models.audit import AuditEvent
from models.database import Database
from models.hosting import Domain, Service, ServiceStatus
from models.permissions import SCOPED_PERMISSIONS, Permission, ordered
from models.support import Ticket
from models.users import User
from resolvers.ids import encode_id
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
NAMESERVERS = """
mutation($id: ID!) {
  updateDomainNameservers(
    input: { domainId: $id, nameservers: ["ns1.agency.example", "ns2.agency.example"] }
  ) {
    domain { id nameservers }
    userErrors { field code }
  }
}
"""
LOGIN_LINK = """
mutation($id: ID!) {
  createServiceLoginLink(input: { serviceId: $id }) { url userErrors { field code } }
}
"""
OPEN_TICKET = """
mutation($account: ID!, $service: ID) {
  openTicket(input: { accountId: $account, department: "Support", subject: "Slow", message: "Help",
                      serviceId: $service }) {
    ticket { id }
    userErrors { field code }
  }
}
"""
REPLY = """
mutation($id: ID!) {
  replyToTicket(input: { ticketId: $id, message: "Any news?" }) { ticket { id } userErrors { field code } }
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
UPDATE_PERMISSIONS = """
mutation($id: ID!, $permissions: [Permission!]!) {
  updateMemberPermissions(input: { membershipId: $id, permissions: $permissions }) {
    membership { permissions }
    userErrors { field code }
  }
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


# --- what a scoped member can do ---------------------------------------------------------------


async def test_nameservers_of_a_domain_outside_the_scope_are_not_found(
    api: Api, db: Database, settings: Settings
) -> None:
    given = await customer_with_agency(db)
    agency = await signed_in(api, db, settings, given.agency)

    outside = await agency(NAMESERVERS, {"id": gid("Domain", given.shop_domain)})
    inside = await agency(NAMESERVERS, {"id": gid("Domain", given.website_domain)})

    assert outside.payload("updateDomainNameservers") == {
        "domain": None,
        "userErrors": [{"field": ["input", "domainId"], "code": "NOT_FOUND"}],
    }
    assert inside.payload("updateDomainNameservers")["domain"]["nameservers"] == [
        "ns1.agency.example",
        "ns2.agency.example",
    ]
    assert await audit_actions(db) == ["domain.nameservers_updated"]


async def test_sign_on_links_only_for_services_in_scope(api: Api, db: Database, settings: Settings) -> None:
    given = await customer_with_agency(db)
    agency = await signed_in(api, db, settings, given.agency)

    outside = await agency(LOGIN_LINK, {"id": gid("Service", given.shop)})
    inside = await agency(LOGIN_LINK, {"id": gid("Service", given.website)})

    assert outside.user_error_codes("createServiceLoginLink") == ["NOT_FOUND"]
    assert inside.payload("createServiceLoginLink")["url"].startswith(settings.panel_url)


async def test_tickets_must_be_about_a_service_in_scope(api: Api, db: Database, settings: Settings) -> None:
    given = await customer_with_agency(db)
    agency = await signed_in(api, db, settings, given.agency)
    account = given.account_id

    about_nothing = await agency(OPEN_TICKET, {"account": account, "service": None})
    about_the_shop = await agency(OPEN_TICKET, {"account": account, "service": gid("Service", given.shop)})
    about_the_website = await agency(
        OPEN_TICKET, {"account": account, "service": gid("Service", given.website)}
    )
    reply_outside = await agency(REPLY, {"id": gid("Ticket", given.shop_ticket)})
    reply_inside = await agency(REPLY, {"id": gid("Ticket", given.website_ticket)})

    assert about_nothing.payload("openTicket")["userErrors"] == [
        {"field": ["input", "serviceId"], "code": "INVALID"}
    ]
    assert about_the_shop.payload("openTicket")["userErrors"] == [
        {"field": ["input", "serviceId"], "code": "NOT_FOUND"}
    ]
    assert about_the_website.payload("openTicket")["userErrors"] == []
    assert reply_outside.user_error_codes("replyToTicket") == ["NOT_FOUND"]
    assert reply_inside.user_error_codes("replyToTicket") == []


async def test_a_terminated_service_leaves_the_scope(api: Api, db: Database, settings: Settings) -> None:
    given = await customer_with_agency(db)
    agency = await signed_in(api, db, settings, given.agency)
    async with db.begin() as session:
        await session.execute(
            update(Service).where(Service.id == given.website.id).values(status=ServiceStatus.TERMINATED)
        )

    lists = await agency(LISTS, {"account": given.account_id})
    node = await agency(NODE, {"id": gid("Service", given.website)})

    assert lists.data["viewer"]["services"]["totalCount"] == 0
    assert lists.data["viewer"]["accounts"]["edges"][0]["scope"]["services"] == []
    assert lists.data["account"]["tickets"]["totalCount"] == 0
    assert node.data == {"node": None}
    # What is left in scope stays in scope; nothing else comes into it.
    assert ids(lists.data["viewer"]["domains"]) == [gid("Domain", given.website_domain)]


# --- changing a scope --------------------------------------------------------------------------


async def test_widening_the_scope_shows_the_rest_at_once(api: Api, db: Database, settings: Settings) -> None:
    given = await customer_with_agency(db)
    owner = await signed_in(api, db, settings, given.owner)
    agency = await signed_in(api, db, settings, given.agency)
    membership_id = gid("Membership", given.agency_membership)

    widened = await owner(UPDATE_SCOPE, {"membershipId": membership_id, "scope": None})
    after = await agency(LISTS, {"account": given.account_id})

    assert widened.payload("updateMemberScope") == {
        "membership": {"id": membership_id, "permissions": SCOPED, "scope": None},
        "userErrors": [],
    }
    assert after.data["viewer"]["services"]["totalCount"] == 2
    assert after.data["account"]["tickets"]["totalCount"] == 3
    assert await audit_actions(db) == ["membership.scope_changed"]


async def test_the_owner_moves_the_scope_to_other_services(
    api: Api, db: Database, settings: Settings
) -> None:
    given = await customer_with_agency(db)
    owner = await signed_in(api, db, settings, given.owner)
    agency = await signed_in(api, db, settings, given.agency)
    scope = {"serviceIds": [gid("Service", given.shop)], "domainIds": []}

    moved = await owner(
        UPDATE_SCOPE, {"membershipId": gid("Membership", given.agency_membership), "scope": scope}
    )
    website = await agency(NODE, {"id": gid("Service", given.website)})
    shop = await agency(NODE, {"id": gid("Service", given.shop)})

    assert moved.payload("updateMemberScope")["membership"]["scope"] == {
        "services": [{"id": gid("Service", given.shop), "label": "shop.kunde.at"}],
        "domains": [],
    }
    assert website.data == {"node": None}
    assert shop.data == {"node": {"id": gid("Service", given.shop)}}


async def test_a_scoped_member_cannot_change_scopes(api: Api, db: Database, settings: Settings) -> None:
    given = await customer_with_agency(db)
    agency = await signed_in(api, db, settings, given.agency)

    response = await agency(
        UPDATE_SCOPE, {"membershipId": gid("Membership", given.agency_membership), "scope": None}
    )

    assert response.user_error_codes("updateMemberScope") == ["FORBIDDEN"]
    assert await audit_actions(db) == []


async def test_a_manager_scopes_a_member_but_not_the_owner_nor_a_manager(
    api: Api, db: Database, settings: Settings
) -> None:
    given = await customer_with_agency(db)
    manager_user = await create_user(db, email="manager@example.com")
    manager = await add_member(
        db, account=given.account, user=manager_user, permissions=[Permission.MANAGE_USERS]
    )
    worker_user = await create_user(db, email="worker@example.com")
    worker = await add_member(
        db, account=given.account, user=worker_user, permissions=[Permission.VIEW_SERVICES]
    )
    async with db.read() as session:
        owner_membership = await session.scalar(
            select(Membership).where(Membership.user_id == given.owner.id)
        )
    client = await signed_in(api, db, settings, manager_user)
    scope = {"serviceIds": [gid("Service", given.website)], "domainIds": []}

    scoped = await client(UPDATE_SCOPE, {"membershipId": gid("Membership", worker), "scope": scope})
    owner = await client(UPDATE_SCOPE, {"membershipId": gid("Membership", owner_membership), "scope": scope})
    itself = await client(UPDATE_SCOPE, {"membershipId": gid("Membership", manager), "scope": scope})

    assert scoped.payload("updateMemberScope")["userErrors"] == []
    assert [(e["field"], e["code"]) for e in owner.payload("updateMemberScope")["userErrors"]] == [
        (["input", "membershipId"], "OWNER_REQUIRED")
    ]
    assert [(e["field"], e["code"]) for e in itself.payload("updateMemberScope")["userErrors"]] == [
        (["input", "scope"], "INVALID")
    ]


@pytest.mark.parametrize(
    ("scope", "errors"),
    [
        ({"serviceIds": [], "domainIds": []}, [(["input", "scope"], "INVALID")]),
        ("foreign", [(["input", "scope", "serviceIds", "0"], "NOT_FOUND")]),
        ("wrong type", [(["input", "scope", "domainIds", "0"], "NOT_FOUND")]),
        ("too many", [(["input", "scope", "serviceIds"], "INVALID")]),
    ],
)
async def test_a_scope_names_live_services_and_domains_of_the_account(
    api: Api, db: Database, settings: Settings, scope: Any, errors: list[Any]
) -> None:
    given = await customer_with_agency(db)
    stranger = await create_user(db)
    elsewhere = await create_service(db, account=await create_account(db, owner=stranger))
    owner = await signed_in(api, db, settings, given.owner)
    if scope == "foreign":
        scope = {"serviceIds": [gid("Service", elsewhere)], "domainIds": []}
    elif scope == "wrong type":
        scope = {"serviceIds": [], "domainIds": [gid("Service", given.shop)]}
    elif scope == "too many":
        scope = {"serviceIds": [gid("Service", given.shop)] * 101, "domainIds": []}

    response = await owner(
        UPDATE_SCOPE, {"membershipId": gid("Membership", given.agency_membership), "scope": scope}
    )

    found = [(e["field"], e["code"]) for e in response.payload("updateMemberScope")["userErrors"]]
    assert found == errors
    assert await audit_actions(db) == []


async def test_a_malformed_id_in_a_scope_is_bad_user_input(
    api: Api, db: Database, settings: Settings
) -> None:
    given = await customer_with_agency(db)
    owner = await signed_in(api, db, settings, given.owner)

    response = await owner(
        UPDATE_SCOPE,
        {
            "membershipId": gid("Membership", given.agency_membership),
            "scope": {"serviceIds": ["not-an-id\x00"], "domainIds": []},
        },
    )

    assert response.codes == ["BAD_USER_INPUT"]
    assert await audit_actions(db) == []


async def test_another_accounts_membership_is_not_found(api: Api, db: Database, settings: Settings) -> None:
    given = await customer_with_agency(db)
    stranger = await create_user(db)
    await create_account(db, owner=stranger)
    client = await signed_in(api, db, settings, stranger)

    response = await client(
        UPDATE_SCOPE, {"membershipId": gid("Membership", given.agency_membership), "scope": None}
    )

    assert response.user_error_codes("updateMemberScope") == ["NOT_FOUND"]


async def test_a_scoped_member_holds_only_service_domain_and_ticket_permissions(
    api: Api, db: Database, settings: Settings
) -> None:
    given = await customer_with_agency(db)
    owner = await signed_in(api, db, settings, given.owner)

    response = await owner(
        UPDATE_PERMISSIONS,
        {"id": gid("Membership", given.agency_membership), "permissions": ["VIEW_SERVICES", "VIEW_INVOICES"]},
    )

    assert response.payload("updateMemberPermissions")["userErrors"] == [
        {"field": ["input", "permissions"], "code": "INVALID"}
    ]


# --- statement counts --------------------------------------------------------------------------

PINNED = 6
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
    # session lookup, viewer's services page, access to the account, the account, its domains page,
    # its tickets page: the scope adds no statement, only conditions to these
    assert large == PINNED, db.counter.statements
    assert unscoped == PINNED
