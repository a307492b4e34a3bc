"""Granting a scope (DESIGN rule 16): invitations chosen with a scope, shown in the preview and
applied at acceptance; API tokens limited to services and domains, never wider than their user;
and the two ways a scoped member is reached outside the API: sign-on links and staff replies."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import delete, select

from models.database import Database
from models.hosting import Service
from models.outbox import OutboxEmail
from models.scopes import MembershipScopeService
from resolvers.core.settings import Settings
from resolvers.sso import redeem_login
from resolvers.tickets import reply_as_staff
from tests.factories import create_account, create_service, create_user
from tests.graphql import Api
from tests.test_scopes import (
    ACCOUNT_WIDE,
    LISTS,
    NODE,
    SCOPED,
    Customer,
    audit_actions,
    customer_with_agency,
    gid,
    ids,
    signed_in,
)

CREATE_TOKEN = """
mutation($input: CreateApiTokenInput!) {
  createApiToken(input: $input) {
    token
    apiToken { permissions scope { services { id } domains { id } } }
    userErrors { field code }
  }
}
"""
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
  acceptInvitation(input: { token: $token }) {
    membership { permissions scope { services { id } domains { id } } }
    userErrors { code }
  }
}
"""


async def last_invitation_token(db: Database, email: str) -> str:
    async with db.read() as session:
        body = await session.scalar(
            select(OutboxEmail.text_body)
            .where(OutboxEmail.to_address == email, OutboxEmail.template == "invitation")
            .order_by(OutboxEmail.id.desc())
        )
    assert body is not None
    match = re.search(r"/invitations/accept\?token=([A-Za-z0-9_-]+)", body)
    assert match, body
    return match.group(1)


# --- invitations -------------------------------------------------------------------------------


async def test_an_invitation_with_a_scope_is_previewed_and_accepted_into_it(
    api: Api, db: Database, settings: Settings
) -> None:
    given = await customer_with_agency(db)
    owner = await signed_in(api, db, settings, given.owner)
    freelancer = await create_user(db, email="freelancer@example.com")
    scope = {"serviceIds": [gid("Service", given.shop)], "domainIds": [gid("Domain", given.shop_domain)]}

    invited = await owner(
        INVITE,
        {
            "input": {
                "accountId": given.account_id,
                "email": "freelancer@example.com",
                "permissions": ["VIEW_SERVICES", "VIEW_DOMAINS"],
                "scope": scope,
            }
        },
    )
    token = await last_invitation_token(db, "freelancer@example.com")
    preview = await api.new()(PREVIEW, {"token": token})
    joined = await (await signed_in(api, db, settings, freelancer))(ACCEPT, {"token": token})
    lists = await (await signed_in(api, db, settings, freelancer))(LISTS, {"account": given.account_id})

    assert invited.payload("inviteUser")["invitation"]["scope"] == {
        "services": [{"id": gid("Service", given.shop), "label": "shop.kunde.at"}],
        "domains": [{"id": gid("Domain", given.shop_domain), "name": "kunde-shop.at"}],
    }
    assert preview.data["invitation"]["scopeNames"] == ["shop.kunde.at", "kunde-shop.at"]
    assert joined.payload("acceptInvitation") == {
        "membership": {
            "permissions": ["VIEW_SERVICES", "VIEW_DOMAINS"],
            "scope": {
                "services": [{"id": gid("Service", given.shop)}],
                "domains": [{"id": gid("Domain", given.shop_domain)}],
            },
        },
        "userErrors": [],
    }
    assert ids(lists.data["viewer"]["services"]) == [gid("Service", given.shop)]
    assert ids(lists.data["viewer"]["domains"]) == [gid("Domain", given.shop_domain)]


async def test_an_invitation_without_a_scope_has_none(api: Api, db: Database, settings: Settings) -> None:
    given = await customer_with_agency(db)
    owner = await signed_in(api, db, settings, given.owner)

    invited = await owner(
        INVITE,
        {
            "input": {
                "accountId": given.account_id,
                "email": "x@example.com",
                "permissions": ["VIEW_INVOICES"],
            }
        },
    )
    preview = await api.new()(PREVIEW, {"token": await last_invitation_token(db, "x@example.com")})

    assert invited.payload("inviteUser")["invitation"]["scope"] is None
    assert preview.data["invitation"]["scopeNames"] is None


async def test_renewing_an_invitation_replaces_its_scope(api: Api, db: Database, settings: Settings) -> None:
    given = await customer_with_agency(db)
    owner = await signed_in(api, db, settings, given.owner)
    base = {"accountId": given.account_id, "email": "x@example.com", "permissions": ["VIEW_SERVICES"]}
    shop = {"serviceIds": [gid("Service", given.shop)], "domainIds": []}

    await owner(INVITE, {"input": {**base, "scope": shop}})
    renewed = await owner(INVITE, {"input": base})
    preview = await api.new()(PREVIEW, {"token": await last_invitation_token(db, "x@example.com")})

    assert renewed.payload("inviteUser")["invitation"]["scope"] is None
    assert preview.data["invitation"]["scopeNames"] is None


async def test_a_scoped_invitation_may_grant_only_scoped_permissions(
    api: Api, db: Database, settings: Settings
) -> None:
    given = await customer_with_agency(db)
    stranger = await create_user(db)
    elsewhere = await create_service(db, account=await create_account(db, owner=stranger))
    owner = await signed_in(api, db, settings, given.owner)
    base = {"accountId": given.account_id, "email": "x@example.com"}

    asks_invoices = await owner(
        INVITE,
        {
            "input": {
                **base,
                "permissions": ["VIEW_SERVICES", "VIEW_INVOICES"],
                "scope": {"serviceIds": [gid("Service", given.shop)], "domainIds": []},
            }
        },
    )
    foreign = await owner(
        INVITE,
        {
            "input": {
                **base,
                "permissions": ["VIEW_SERVICES"],
                "scope": {"serviceIds": [gid("Service", elsewhere)], "domainIds": []},
            }
        },
    )

    assert [(e["field"], e["code"]) for e in asks_invoices.payload("inviteUser")["userErrors"]] == [
        (["input", "permissions"], "INVALID")
    ]
    assert [(e["field"], e["code"]) for e in foreign.payload("inviteUser")["userErrors"]] == [
        (["input", "scope", "serviceIds", "0"], "NOT_FOUND")
    ]
    assert await audit_actions(db) == []


# --- API tokens --------------------------------------------------------------------------------


async def test_a_scoped_token_of_the_owner_reaches_only_its_scope(
    api: Api, db: Database, settings: Settings
) -> None:
    given = await customer_with_agency(db)
    owner = await signed_in(api, db, settings, given.owner)
    scope = {"serviceIds": [gid("Service", given.shop)], "domainIds": []}

    minted = (await owner(CREATE_TOKEN, {"input": {"name": "shop monitor", "scope": scope}})).payload(
        "createApiToken"
    )
    partner = api.with_token(minted["token"])
    lists = await partner(LISTS, {"account": given.account_id})
    account_wide = await partner(ACCOUNT_WIDE, {"account": given.account_id})

    assert minted["apiToken"]["scope"] == {"services": [{"id": gid("Service", given.shop)}], "domains": []}
    assert ids(lists.data["viewer"]["services"]) == [gid("Service", given.shop)]
    assert lists.data["viewer"]["domains"]["totalCount"] == 0
    assert ids(lists.data["account"]["tickets"]) == [gid("Ticket", given.shop_ticket)]
    assert lists.data["viewer"]["accounts"]["edges"][0]["permissions"] == SCOPED
    assert account_wide.data["account"]["invoices"] is None
    assert account_wide.data["viewer"]["invoices"]["totalCount"] == 0


async def test_a_token_is_never_wider_than_its_users_scope(
    api: Api, db: Database, settings: Settings
) -> None:
    given = await customer_with_agency(db)
    agency = await signed_in(api, db, settings, given.agency)

    wider = await agency(
        CREATE_TOKEN,
        {"input": {"name": "x", "scope": {"serviceIds": [gid("Service", given.shop)], "domainIds": []}}},
    )
    asks_more = await agency(
        CREATE_TOKEN,
        {
            "input": {
                "name": "x",
                "permissions": ["PLACE_ORDERS"],
                "scope": {"serviceIds": [gid("Service", given.website)], "domainIds": []},
            }
        },
    )

    assert wider.payload("createApiToken")["userErrors"] == [
        {"field": ["input", "scope", "serviceIds", "0"], "code": "NOT_FOUND"}
    ]
    assert asks_more.payload("createApiToken")["userErrors"] == [
        {"field": ["input", "permissions"], "code": "INVALID"}
    ]


async def test_a_scoped_members_token_stays_inside_the_members_scope(
    api: Api, db: Database, settings: Settings
) -> None:
    given = await customer_with_agency(db)
    agency = await signed_in(api, db, settings, given.agency)

    minted = (await agency(CREATE_TOKEN, {"input": {"name": "all I have"}})).payload("createApiToken")
    partner = api.with_token(minted["token"])
    lists = await partner(LISTS, {"account": given.account_id})

    assert ids(lists.data["viewer"]["services"]) == [gid("Service", given.website)]
    assert (await partner(NODE, {"id": gid("Service", given.shop)})).data == {"node": None}


# --- what reaches a scoped member outside the API -------------------------------------------------

LOGIN_LINK = """
mutation($id: ID!) { createServiceLoginLink(input: { serviceId: $id }) { url userErrors { code } } }
"""


async def test_a_sign_on_link_dies_with_the_scope_that_allowed_it(
    api: Api, db: Database, settings: Settings
) -> None:
    given = await customer_with_agency(db)
    agency = await signed_in(api, db, settings, given.agency)
    url = (await agency(LOGIN_LINK, {"id": gid("Service", given.website)})).payload("createServiceLoginLink")[
        "url"
    ]
    [token] = parse_qs(urlsplit(url).query)["token"]
    await limit_membership_to(db, given, services=[given.shop])

    assert await redeem_login(db, settings, token) is None


async def test_a_sign_on_link_in_scope_is_redeemed(api: Api, db: Database, settings: Settings) -> None:
    given = await customer_with_agency(db)
    agency = await signed_in(api, db, settings, given.agency)
    url = (await agency(LOGIN_LINK, {"id": gid("Service", given.website)})).payload("createServiceLoginLink")[
        "url"
    ]
    [token] = parse_qs(urlsplit(url).query)["token"]

    redeemed = await redeem_login(db, settings, token)

    assert redeemed is not None
    assert redeemed.service_id == given.website.id


async def test_staff_replies_reach_a_scoped_member_only_about_their_services(
    db: Database, settings: Settings
) -> None:
    given = await customer_with_agency(db)
    website, shop, general = given.website_ticket, given.shop_ticket, given.general_ticket

    about_the_website = await reply_as_staff(db, settings, number=website.number, message="Done.")
    about_the_shop = await reply_as_staff(db, settings, number=shop.number, message="Done.")
    about_nothing = await reply_as_staff(db, settings, number=general.number, message="Done.")

    assert sorted(about_the_website.recipients) == ["agency@example.com", "kunde@example.com"]
    assert about_the_shop.recipients == ["kunde@example.com"]
    assert about_nothing.recipients == ["kunde@example.com"]


async def limit_membership_to(db: Database, given: Customer, *, services: list[Service]) -> None:
    owner_id = given.agency_membership.id
    async with db.begin() as session:
        await session.execute(
            delete(MembershipScopeService).where(MembershipScopeService.owner_id == owner_id)
        )
        session.add_all(MembershipScopeService(owner_id=owner_id, service_id=s.id) for s in services)
