"""Scoped members act only inside their scope (DESIGN rule 16): mutations on what lies outside it
are NOT_FOUND, and only an unscoped member with MANAGE_USERS changes a scope."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select, update

from models.accounts import Membership
from models.database import Database
from models.hosting import Domain, DomainStatus, Service, ServiceStatus
from models.permissions import SCOPED_PERMISSIONS, Permission, from_mask
from resolvers.core.settings import Settings
from tests.factories import add_member, create_account, create_service, create_user
from tests.graphql import Api
from tests.test_scopes import (
    LISTS,
    NODE,
    SCOPED,
    audit_actions,
    customer_with_agency,
    gid,
    ids,
    signed_in,
)

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


async def test_a_cancelled_domain_leaves_the_scope(api: Api, db: Database, settings: Settings) -> None:
    given = await customer_with_agency(db)
    agency = await signed_in(api, db, settings, given.agency)
    async with db.begin() as session:
        await session.execute(
            update(Domain).where(Domain.id == given.website_domain.id).values(status=DomainStatus.CANCELLED)
        )

    lists = await agency(LISTS, {"account": given.account_id})
    node = await agency(NODE, {"id": gid("Domain", given.website_domain)})

    assert lists.data["viewer"]["domains"]["totalCount"] == 0
    assert lists.data["viewer"]["accounts"]["edges"][0]["scope"]["domains"] == []
    assert node.data == {"node": None}
    # What is left in scope stays in scope; nothing else comes into it.
    assert ids(lists.data["viewer"]["services"]) == [gid("Service", given.website)]


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
        db,
        account=given.account,
        user=manager_user,
        permissions=[Permission.MANAGE_USERS, Permission.VIEW_SERVICES],
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


TRANSFER = """
mutation($id: ID!) {
  transferAccountOwnership(input: { membershipId: $id }) { account { id } userErrors { code } }
}
"""


async def test_a_scoped_member_made_owner_reaches_the_whole_account(
    api: Api, db: Database, settings: Settings
) -> None:
    given = await customer_with_agency(db)
    owner = await signed_in(api, db, settings, given.owner)
    agency = await signed_in(api, db, settings, given.agency)

    moved = await owner(TRANSFER, {"id": gid("Membership", given.agency_membership)})
    lists = await agency(LISTS, {"account": given.account_id})

    assert moved.payload("transferAccountOwnership")["userErrors"] == []
    assert lists.data["viewer"]["services"]["totalCount"] == 2
    assert lists.data["viewer"]["accounts"]["edges"][0]["scope"] is None
    assert lists.data["account"]["tickets"]["totalCount"] == 3


async def test_a_scope_and_a_wider_permission_racing_never_both_win(
    api: Api, db: Database, settings: Settings
) -> None:
    given = await customer_with_agency(db)
    worker_user = await create_user(db, email="worker@example.com")
    worker = await add_member(
        db, account=given.account, user=worker_user, permissions=[Permission.VIEW_SERVICES]
    )
    owner = await signed_in(api, db, settings, given.owner)
    other_tab = await signed_in(api, db, settings, given.owner)
    scope = {"serviceIds": [gid("Service", given.website)], "domainIds": []}

    await asyncio.gather(
        owner(UPDATE_SCOPE, {"membershipId": gid("Membership", worker), "scope": scope}),
        other_tab(
            UPDATE_PERMISSIONS,
            {"id": gid("Membership", worker), "permissions": ["VIEW_SERVICES", "VIEW_INVOICES"]},
        ),
    )

    async with db.read() as session:
        stored = await session.get_one(Membership, worker.id)
    held = from_mask(stored.permissions)
    # Either order is fine; a scoped member holding an account-wide permission is not.
    assert not (stored.scoped and held - SCOPED_PERMISSIONS)
