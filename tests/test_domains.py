"""Domains: listing them across accounts with filters and stable pages, and changing their contacts,
nameservers and settings, with the permission rules of DESIGN.md."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from clientarea.catalogue import sync_catalogue
from models import AuditEvent, ClientAccount, Contact, Domain, DomainStatus, User
from models.database import Database
from models.permissions import Permission
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from tests.factories import (
    add_member,
    create_account,
    create_contact,
    create_domain,
    create_user,
    session_for,
)
from tests.graphql import Api, Response

# As the dashboard sends it: contract/operations/contacts.graphql.
UPDATE_DOMAIN_CONTACTS = """
mutation UpdateDomainContacts($input: UpdateDomainContactsInput!) {
  updateDomainContacts(input: $input) {
    domain { id contacts { registrant { id } admin { id } tech { id } billing { id } } }
    userErrors { field message code }
  }
}
"""
# As partner integrations send it: contract/operations/partner_expiring_domains.graphql.
EXPIRING_DOMAINS = """
# Partner integration: every domain expiring soon, across all accounts the token reaches.
query ExpiringDomains($before: Date!, $first: Int = 100, $after: String) {
  viewer {
    domains(first: $first, after: $after, filter: { expiresBefore: $before }) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges {
        node {
          id
          name
          expiresAt
          autoRenew
          account { id name }
          contacts { registrant { firstName lastName email } }
        }
      }
    }
  }
}
"""
UPDATE_NAMESERVERS = """
mutation UpdateNameservers($input: UpdateDomainNameserversInput!) {
  updateDomainNameservers(input: $input) {
    domain { id nameservers }
    userErrors { field message code }
  }
}
"""
UPDATE_SETTINGS = """
mutation UpdateSettings($input: UpdateDomainSettingsInput!) {
  updateDomainSettings(input: $input) {
    domain { id autoRenew locked }
    userErrors { field message code }
  }
}
"""
VIEWER_DOMAINS = """
query ViewerDomains($first: Int, $after: String, $filter: DomainFilter) {
  viewer {
    domains(first: $first, after: $after, filter: $filter) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage endCursor }
      edges { cursor node { id name status expiresAt account { name } } }
    }
  }
}
"""
ACCOUNT_DOMAINS = """
query AccountDomains($id: ID!, $first: Int, $after: String, $filter: DomainFilter) {
  account(id: $id) {
    name
    domains(first: $first, after: $after, filter: $filter) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { name status contacts { registrant { firstName } } } }
    }
  }
}
"""
CREATE_TOKEN = """
mutation CreateApiToken($input: CreateApiTokenInput!) {
  createApiToken(input: $input) { token userErrors { code } }
}
"""


@pytest.fixture(autouse=True)
async def catalogue(db: Database) -> None:
    await sync_catalogue(db)


def gid(kind: str, pk: uuid.UUID) -> str:
    return encode_id(kind, pk)


async def signed_in(api: Api, db: Database, settings: Settings, user: User) -> Api:
    client = api.new()
    client.set_session(await session_for(db, settings, user))
    return client


async def stored(db: Database, domain: Domain) -> Domain:
    async with db.read() as session:
        return await session.get_one(Domain, domain.id)


async def audit_actions(db: Database) -> list[str]:
    async with db.read() as session:
        return list(
            await session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("domain.%")))
        )


def errors_of(response: Response, field: str) -> list[tuple[list[str] | None, str]]:
    return [(e["field"], e["code"]) for e in response.payload(field)["userErrors"]]


def names(response: Response, *path: str) -> list[str]:
    connection = response.data
    for key in path:
        connection = connection[key]
    return [edge["node"]["name"] for edge in connection["edges"]]


@dataclass
class Holding:
    """An account with one domain, its owner, and a second contact (the customer)."""

    owner: User
    account: ClientAccount
    domain: Domain
    customer: Contact

    @property
    def domain_id(self) -> str:
        return gid("Domain", self.domain.id)


async def holding(db: Database, *, status: DomainStatus = DomainStatus.ACTIVE) -> Holding:
    owner = await create_user(db, email=f"owner-{uuid.uuid4().hex[:8]}@example.com")
    account = await create_account(db, owner=owner, name="Agentur")
    domain = await create_domain(db, account=account, name="kunde.at", status=status)
    customer = await create_contact(db, account=account)
    return Holding(owner, account, domain, customer)


# --- updateDomainContacts ---------------------------------------------------------------------


async def test_contacts_change_as_the_dashboard_sends_it(api: Api, db: Database, settings: Settings) -> None:
    given = await holding(db)
    billing = await create_contact(db, account=given.account, first_name="Buchhaltung")
    client = await signed_in(api, db, settings, given.owner)
    customer_id, billing_id = gid("Contact", given.customer.id), gid("Contact", billing.id)

    response = await client(
        UPDATE_DOMAIN_CONTACTS,
        {
            "input": {
                "domainId": given.domain_id,
                "contacts": {"registrantContactId": customer_id, "billingContactId": billing_id},
            }
        },
    )

    payload = response.payload("updateDomainContacts")
    assert payload["userErrors"] == []
    # Omitted admin and tech fall back to the registrant.
    assert payload["domain"] == {
        "id": given.domain_id,
        "contacts": {
            "registrant": {"id": customer_id},
            "admin": {"id": customer_id},
            "tech": {"id": customer_id},
            "billing": {"id": billing_id},
        },
    }
    row = await stored(db, given.domain)
    assert (row.registrant_contact_id, row.admin_contact_id, row.billing_contact_id) == (
        given.customer.id,
        given.customer.id,
        billing.id,
    )
    assert await audit_actions(db) == ["domain.contacts_updated"]


async def test_an_omitted_registrant_is_the_account_holder(
    api: Api, db: Database, settings: Settings
) -> None:
    given = await holding(db)
    client = await signed_in(api, db, settings, given.owner)
    customer_id = gid("Contact", given.customer.id)
    await client(
        UPDATE_DOMAIN_CONTACTS,
        {"input": {"domainId": given.domain_id, "contacts": {"registrantContactId": customer_id}}},
    )

    response = await client(
        UPDATE_DOMAIN_CONTACTS,
        {"input": {"domainId": given.domain_id, "contacts": {"techContactId": customer_id}}},
    )

    contacts = response.payload("updateDomainContacts")["domain"]["contacts"]
    async with db.read() as session:
        primary = await session.scalar(
            select(Contact.id).where(Contact.account_id == given.account.id, Contact.is_primary.is_(True))
        )
    assert primary is not None
    primary_id = gid("Contact", primary)
    assert contacts == {
        "registrant": {"id": primary_id},
        "admin": {"id": primary_id},
        "tech": {"id": customer_id},
        "billing": {"id": primary_id},
    }


async def test_a_foreign_or_missing_contact_is_not_found_at_its_path(
    api: Api, db: Database, settings: Settings
) -> None:
    given = await holding(db)
    other = await create_account(db, owner=given.owner, name="Other account of the same owner")
    foreign = await create_contact(db, account=other)
    client = await signed_in(api, db, settings, given.owner)

    response = await client(
        UPDATE_DOMAIN_CONTACTS,
        {
            "input": {
                "domainId": given.domain_id,
                "contacts": {
                    "registrantContactId": gid("Contact", given.customer.id),
                    "adminContactId": gid("Contact", foreign.id),
                    "techContactId": gid("Contact", uuid.uuid4()),
                    "billingContactId": given.domain_id,
                },
            }
        },
    )

    assert errors_of(response, "updateDomainContacts") == [
        (["input", "contacts", "adminContactId"], "NOT_FOUND"),
        (["input", "contacts", "techContactId"], "NOT_FOUND"),
        (["input", "contacts", "billingContactId"], "NOT_FOUND"),
    ]
    messages = {e["message"] for e in response.payload("updateDomainContacts")["userErrors"]}
    assert len(messages) == 1, "a foreign contact must read exactly like a missing one"
    assert response.payload("updateDomainContacts")["domain"] is None
    row = await stored(db, given.domain)
    assert row.registrant_contact_id == given.domain.registrant_contact_id
    assert await audit_actions(db) == []


async def test_a_malformed_contact_id_is_bad_user_input(api: Api, db: Database, settings: Settings) -> None:
    given = await holding(db)
    client = await signed_in(api, db, settings, given.owner)

    response = await client(
        UPDATE_DOMAIN_CONTACTS,
        {"input": {"domainId": given.domain_id, "contacts": {"adminContactId": "not an id"}}},
    )

    assert response.codes == ["BAD_USER_INPUT"]
    assert await audit_actions(db) == []


# --- updateDomainNameservers ------------------------------------------------------------------


async def test_nameservers_are_stored_normalised(api: Api, db: Database, settings: Settings) -> None:
    given = await holding(db)
    client = await signed_in(api, db, settings, given.owner)

    response = await client(
        UPDATE_NAMESERVERS,
        {"input": {"domainId": given.domain_id, "nameservers": ["NS1.Example.COM.", " ns.müller.at "]}},
    )

    expected = ["ns1.example.com", "ns.xn--mller-kva.at"]
    assert response.payload("updateDomainNameservers") == {
        "domain": {"id": given.domain_id, "nameservers": expected},
        "userErrors": [],
    }
    assert (await stored(db, given.domain)).nameservers == expected
    assert await audit_actions(db) == ["domain.nameservers_updated"]


@pytest.mark.parametrize(
    ("nameservers", "errors"),
    [
        pytest.param(["ns1.example.com"], [["input", "nameservers"]], id="one"),
        pytest.param([f"ns{i}.example.com" for i in range(14)], [["input", "nameservers"]], id="fourteen"),
        pytest.param(
            ["ns1.example.com", "ns_2.example.com", "192.0.2.1", "localhost"],
            [["input", "nameservers", "1"], ["input", "nameservers", "2"], ["input", "nameservers", "3"]],
            id="not-hostnames",
        ),
        pytest.param(["ns1.example.com", "NS1.example.com."], [["input", "nameservers", "1"]], id="repeated"),
    ],
)
async def test_bad_nameservers_are_invalid_and_change_nothing(
    api: Api, db: Database, settings: Settings, nameservers: list[str], errors: list[list[str]]
) -> None:
    given = await holding(db)
    client = await signed_in(api, db, settings, given.owner)

    response = await client(
        UPDATE_NAMESERVERS, {"input": {"domainId": given.domain_id, "nameservers": nameservers}}
    )

    assert errors_of(response, "updateDomainNameservers") == [(path, "INVALID") for path in errors]
    assert (await stored(db, given.domain)).nameservers == given.domain.nameservers
    assert await audit_actions(db) == []


async def test_thirteen_nameservers_are_allowed(api: Api, db: Database, settings: Settings) -> None:
    given = await holding(db)
    client = await signed_in(api, db, settings, given.owner)
    nameservers = [f"ns{i}.example.com" for i in range(13)]

    response = await client(
        UPDATE_NAMESERVERS, {"input": {"domainId": given.domain_id, "nameservers": nameservers}}
    )

    assert response.payload("updateDomainNameservers")["domain"]["nameservers"] == nameservers


# --- updateDomainSettings ---------------------------------------------------------------------


async def test_settings_change_only_what_is_given(api: Api, db: Database, settings: Settings) -> None:
    given = await holding(db)
    client = await signed_in(api, db, settings, given.owner)

    renew = await client(UPDATE_SETTINGS, {"input": {"domainId": given.domain_id, "autoRenew": False}})
    unlock = await client(UPDATE_SETTINGS, {"input": {"domainId": given.domain_id, "locked": False}})

    assert renew.payload("updateDomainSettings")["domain"] == {
        "id": given.domain_id,
        "autoRenew": False,
        "locked": True,
    }
    assert unlock.payload("updateDomainSettings")["domain"] == {
        "id": given.domain_id,
        "autoRenew": False,
        "locked": False,
    }
    assert await audit_actions(db) == ["domain.settings_updated", "domain.settings_updated"]


async def test_settings_without_any_setting_are_invalid(api: Api, db: Database, settings: Settings) -> None:
    given = await holding(db)
    client = await signed_in(api, db, settings, given.owner)

    response = await client(
        UPDATE_SETTINGS, {"input": {"domainId": given.domain_id, "autoRenew": None, "locked": None}}
    )

    assert errors_of(response, "updateDomainSettings") == [(["input"], "INVALID")]
    assert await audit_actions(db) == []


# --- every change: cancelled domains, permissions ---------------------------------------------


def change(mutation: str, domain_id: str, contact_id: str) -> tuple[str, dict[str, Any], str]:
    """The mutation's document, variables and payload field: a valid change of the domain."""
    if mutation == "updateDomainContacts":
        contacts = {"registrantContactId": contact_id}
        return UPDATE_DOMAIN_CONTACTS, {"input": {"domainId": domain_id, "contacts": contacts}}, mutation
    if mutation == "updateDomainNameservers":
        nameservers = ["ns1.example.org", "ns2.example.org"]
        return UPDATE_NAMESERVERS, {"input": {"domainId": domain_id, "nameservers": nameservers}}, mutation
    return UPDATE_SETTINGS, {"input": {"domainId": domain_id, "autoRenew": False, "locked": False}}, mutation


MUTATIONS = ["updateDomainContacts", "updateDomainNameservers", "updateDomainSettings"]


def unchanged(before: Domain, after: Domain) -> bool:
    return (
        after.registrant_contact_id == before.registrant_contact_id
        and after.nameservers == before.nameservers
        and (after.auto_renew, after.locked) == (before.auto_renew, before.locked)
    )


@pytest.mark.parametrize("mutation", MUTATIONS)
async def test_a_cancelled_domain_cannot_be_changed(
    api: Api, db: Database, settings: Settings, mutation: str
) -> None:
    given = await holding(db, status=DomainStatus.CANCELLED)
    client = await signed_in(api, db, settings, given.owner)
    query, variables, field = change(mutation, given.domain_id, gid("Contact", given.customer.id))

    response = await client(query, variables)

    assert errors_of(response, field) == [(["input", "domainId"], "INVALID")]
    assert unchanged(given.domain, await stored(db, given.domain))
    assert await audit_actions(db) == []


async def actor(api: Api, db: Database, settings: Settings, given: Holding, who: str) -> Api:
    """A client for one row of the permission matrix."""
    if who == "anonymous":
        return api.new()
    if who == "owner":
        return await signed_in(api, db, settings, given.owner)
    user = await create_user(db)
    if who == "stranger":
        await create_account(db, owner=user)
        return await signed_in(api, db, settings, user)
    granted = {
        "manager": [Permission.VIEW_DOMAINS, Permission.MANAGE_DOMAINS],
        "manage_only": [Permission.MANAGE_DOMAINS],
        "viewer": [Permission.VIEW_DOMAINS],
        "view_token": [Permission.VIEW_DOMAINS, Permission.MANAGE_DOMAINS],
    }[who]
    await add_member(db, account=given.account, user=user, permissions=granted)
    client = await signed_in(api, db, settings, user)
    if who != "view_token":
        return client
    # A member who may manage domains, through a token that only lets them view them.
    minted = await client(CREATE_TOKEN, {"input": {"name": "partner", "permissions": ["VIEW_DOMAINS"]}})
    return api.new().with_token(minted.payload("createApiToken")["token"])


@pytest.mark.parametrize("mutation", MUTATIONS)
@pytest.mark.parametrize(
    ("who", "outcome"),
    [
        ("owner", "changed"),
        ("manager", "changed"),
        ("manage_only", "changed, unreadable"),
        ("viewer", "FORBIDDEN"),
        ("view_token", "FORBIDDEN"),
        ("stranger", "NOT_FOUND"),
        ("anonymous", "UNAUTHENTICATED"),
    ],
)
async def test_who_may_change_a_domain(
    api: Api, db: Database, settings: Settings, mutation: str, who: str, outcome: str
) -> None:
    given = await holding(db)
    client = await actor(api, db, settings, given, who)
    query, variables, field = change(mutation, given.domain_id, gid("Contact", given.customer.id))

    response = await client(query, variables)

    changed = not unchanged(given.domain, await stored(db, given.domain))
    if outcome == "UNAUTHENTICATED":
        assert response.codes == ["UNAUTHENTICATED"]
        assert response.data is None
    elif outcome in {"FORBIDDEN", "NOT_FOUND"}:
        field_path = None if outcome == "FORBIDDEN" else ["input", "domainId"]
        assert errors_of(response, field) == [(field_path, outcome)]
        assert response.payload(field)["domain"] is None
    elif outcome == "changed":
        assert response.payload(field)["userErrors"] == []
        assert response.payload(field)["domain"]["id"] == given.domain_id
    else:
        # Changing needs MANAGE_DOMAINS, reading the domain back VIEW_DOMAINS (DESIGN rule 8).
        assert response.data[field] == {"domain": None, "userErrors": []}
        assert response.codes == ["FORBIDDEN"]
        assert response.errors[0]["path"] == [field, "domain"]
        assert response.errors[0]["extensions"]["requiredPermissions"] == ["VIEW_DOMAINS"]
    assert changed is outcome.startswith("changed")
    assert await audit_actions(db) == (
        [f"domain.{mutation[len('updateDomain') :].lower()}_updated"] if changed else []
    )


async def test_a_malformed_domain_id_is_bad_user_input(api: Api, db: Database, settings: Settings) -> None:
    given = await holding(db)
    client = await signed_in(api, db, settings, given.owner)

    response = await client(UPDATE_SETTINGS, {"input": {"domainId": "%%%", "locked": False}})

    assert response.codes == ["BAD_USER_INPUT"]


async def test_another_types_id_is_not_found(api: Api, db: Database, settings: Settings) -> None:
    given = await holding(db)
    client = await signed_in(api, db, settings, given.owner)

    response = await client(
        UPDATE_SETTINGS, {"input": {"domainId": gid("ClientAccount", given.account.id), "locked": False}}
    )

    assert errors_of(response, "updateDomainSettings") == [(["input", "domainId"], "NOT_FOUND")]


# --- listing ----------------------------------------------------------------------------------


@dataclass
class Agency:
    """An agency user: its own account, a customer granting VIEW_DOMAINS, one granting VIEW_SERVICES
    only, and a stranger's account it is not a member of; each holds domains."""

    user: User
    own: ClientAccount
    viewable: ClientAccount
    hidden: ClientAccount
    foreign: ClientAccount


async def agency(db: Database) -> Agency:
    user = await create_user(db, email="agency@example.com")
    own = await create_account(db, owner=user, name="Agency")
    viewable = await create_account(db, owner=await create_user(db), name="Viewable")
    hidden = await create_account(db, owner=await create_user(db), name="Hidden")
    foreign = await create_account(db, owner=await create_user(db), name="Foreign")
    await add_member(db, account=viewable, user=user, permissions=[Permission.VIEW_DOMAINS])
    await add_member(db, account=hidden, user=user, permissions=[Permission.VIEW_SERVICES])
    today = date.today()
    await create_domain(db, account=own, name="agentur.at", expires_at=today + timedelta(days=10))
    await create_domain(db, account=own, name="agentur.de", expires_at=today + timedelta(days=400))
    await create_domain(db, account=viewable, name="kunde.at", expires_at=today + timedelta(days=30))
    await create_domain(db, account=viewable, name="xn--mller-kva.at", expires_at=today + timedelta(days=30))
    await create_domain(db, account=viewable, name="neu.at", status=DomainStatus.PENDING_REGISTRATION)
    await create_domain(db, account=viewable, name="alt.at", status=DomainStatus.EXPIRED, expires_at=today)
    await create_domain(db, account=hidden, name="versteckt.at", expires_at=today)
    await create_domain(db, account=foreign, name="fremd.at", expires_at=today)
    return Agency(user, own, viewable, hidden, foreign)


ALL_VISIBLE = ["agentur.at", "agentur.de", "kunde.at", "xn--mller-kva.at", "neu.at", "alt.at"]


async def test_viewer_domains_span_the_accounts_granting_view_domains(
    api: Api, db: Database, settings: Settings
) -> None:
    given = await agency(db)
    client = await signed_in(api, db, settings, given.user)

    response = await client(VIEWER_DOMAINS, {"first": 100})

    assert response.errors == []
    assert names(response, "viewer", "domains") == ALL_VISIBLE
    assert response.data["viewer"]["domains"]["totalCount"] == len(ALL_VISIBLE)


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        pytest.param({"permissions": ["VIEW_DOMAINS"]}, ALL_VISIBLE, id="view-domains"),
        pytest.param({"permissions": ["VIEW_SERVICES", "VIEW_INVOICES"]}, [], id="no-view-domains"),
        pytest.param({"accounts": ["viewable"]}, ALL_VISIBLE[2:], id="one-account"),
        pytest.param({"accounts": ["hidden"]}, [], id="account-without-view-domains"),
    ],
)
async def test_a_token_narrows_viewer_domains(
    api: Api, db: Database, settings: Settings, token: dict[str, list[str]], expected: list[str]
) -> None:
    given = await agency(db)
    client = await signed_in(api, db, settings, given.user)
    input_: dict[str, Any] = {"name": "partner"}
    if "permissions" in token:
        input_["permissions"] = token["permissions"]
    if "accounts" in token:
        input_["accountIds"] = [gid("ClientAccount", getattr(given, name).id) for name in token["accounts"]]
    secret = (await client(CREATE_TOKEN, {"input": input_})).payload("createApiToken")["token"]

    response = await api.new().with_token(secret)(VIEWER_DOMAINS, {"first": 100})

    assert response.errors == []
    assert names(response, "viewer", "domains") == expected
    assert response.data["viewer"]["domains"]["totalCount"] == len(expected)


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        pytest.param({"accountIds": ["own"]}, ["agentur.at", "agentur.de"], id="account"),
        pytest.param(
            {"accountIds": ["own", "foreign", "hidden"]}, ["agentur.at", "agentur.de"], id="not-mine"
        ),
        pytest.param({"accountIds": []}, [], id="no-accounts"),
        pytest.param({"status": ["PENDING_REGISTRATION", "EXPIRED"]}, ["neu.at", "alt.at"], id="status"),
        pytest.param(
            {"expiresBefore": 30}, ["agentur.at", "kunde.at", "xn--mller-kva.at", "alt.at"], id="expiry"
        ),
        pytest.param({"expiresBefore": 29}, ["agentur.at", "alt.at"], id="expiry-is-inclusive"),
        pytest.param({"search": "AGENTUR"}, ["agentur.at", "agentur.de"], id="search-ignores-case"),
        pytest.param({"search": ".de"}, ["agentur.de"], id="search-substring"),
        pytest.param({"search": "Müller"}, ["xn--mller-kva.at"], id="search-unicode"),
        pytest.param({"search": "_"}, [], id="underscore-is-literal"),
        pytest.param({"search": "%"}, [], id="percent-is-literal"),
        pytest.param({"search": "  "}, ALL_VISIBLE, id="blank-search"),
        pytest.param(
            {"accountIds": ["viewable"], "status": ["ACTIVE"], "expiresBefore": 30, "search": "kunde"},
            ["kunde.at"],
            id="all-together",
        ),
    ],
)
async def test_viewer_domains_filters(
    api: Api, db: Database, settings: Settings, filter_: dict[str, Any], expected: list[str]
) -> None:
    given = await agency(db)
    client = await signed_in(api, db, settings, given.user)
    sent = dict(filter_)
    if "accountIds" in sent:
        sent["accountIds"] = [gid("ClientAccount", getattr(given, name).id) for name in sent["accountIds"]]
    if "expiresBefore" in sent:
        sent["expiresBefore"] = (date.today() + timedelta(days=sent["expiresBefore"])).isoformat()

    response = await client(VIEWER_DOMAINS, {"first": 100, "filter": sent})

    assert response.errors == []
    assert names(response, "viewer", "domains") == expected
    assert response.data["viewer"]["domains"]["totalCount"] == len(expected)


async def test_an_undecodable_account_id_in_the_filter_is_bad_user_input(
    api: Api, db: Database, settings: Settings
) -> None:
    given = await agency(db)
    client = await signed_in(api, db, settings, given.user)

    response = await client(VIEWER_DOMAINS, {"filter": {"accountIds": ["!!"]}})

    assert response.codes == ["BAD_USER_INPUT"]
    assert response.data == {"viewer": None}


async def test_another_types_id_in_the_filter_matches_nothing(
    api: Api, db: Database, settings: Settings
) -> None:
    given = await agency(db)
    client = await signed_in(api, db, settings, given.user)

    response = await client(VIEWER_DOMAINS, {"filter": {"accountIds": [gid("User", given.user.id)]}})

    assert response.errors == []
    assert names(response, "viewer", "domains") == []


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("owner", ["agentur.at", "agentur.de"]),
        ("viewable", ALL_VISIBLE[2:]),
        ("hidden", None),
    ],
)
async def test_account_domains_need_view_domains(
    api: Api, db: Database, settings: Settings, who: str, expected: list[str] | None
) -> None:
    given = await agency(db)
    client = await signed_in(api, db, settings, given.user)
    account = {"owner": given.own, "viewable": given.viewable, "hidden": given.hidden}[who]

    response = await client(ACCOUNT_DOMAINS, {"id": gid("ClientAccount", account.id), "first": 100})

    domains = response.data["account"]["domains"]
    if expected is None:
        assert domains is None
        assert response.codes == ["FORBIDDEN"]
        assert response.errors[0]["path"] == ["account", "domains"]
        assert response.errors[0]["extensions"]["requiredPermissions"] == ["VIEW_DOMAINS"]
    else:
        assert response.errors == []
        assert names(response, "account", "domains") == expected
        assert domains["totalCount"] == len(expected)
        assert {e["node"]["contacts"]["registrant"]["firstName"] for e in domains["edges"]} == {"Erika"}


async def test_account_domains_filters_apply_within_the_account(
    api: Api, db: Database, settings: Settings
) -> None:
    given = await agency(db)
    client = await signed_in(api, db, settings, given.user)

    response = await client(
        ACCOUNT_DOMAINS,
        {
            "id": gid("ClientAccount", given.viewable.id),
            "filter": {"accountIds": [gid("ClientAccount", given.own.id)], "search": "at"},
        },
    )

    assert response.errors == []
    assert names(response, "account", "domains") == []


async def test_a_foreign_account_shows_no_domains(api: Api, db: Database, settings: Settings) -> None:
    given = await agency(db)
    client = await signed_in(api, db, settings, given.user)

    response = await client(ACCOUNT_DOMAINS, {"id": gid("ClientAccount", given.foreign.id)})

    assert response.data == {"account": None}


async def test_anonymous_callers_have_no_viewer(api: Api, db: Database) -> None:
    await agency(db)

    response = await api.new()(VIEWER_DOMAINS, {})

    assert response.data == {"viewer": None}


# --- pagination -------------------------------------------------------------------------------


async def walk(
    client: Api, query: str, variables: dict[str, Any], *path: str, between: Any = None
) -> list[str]:
    """Every name over pages of `first`, calling `between()` after each page."""
    seen: list[str] = []
    after = None
    while True:
        response = await client(query, {**variables, "after": after})
        assert response.errors == []
        connection = response.data
        for key in path:
            connection = connection[key]
        seen += [edge["node"]["name"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            return seen
        after = connection["pageInfo"]["endCursor"]
        if between is not None:
            await between()


async def test_pages_neither_skip_nor_repeat_while_domains_are_added(
    api: Api, db: Database, settings: Settings
) -> None:
    owner = await create_user(db)
    account = await create_account(db, owner=owner)
    for index in range(7):
        await create_domain(db, account=account, name=f"vorher{index}.at")
    client = await signed_in(api, db, settings, owner)
    added = iter(range(100))

    async def add_one() -> None:
        await create_domain(db, account=account, name=f"nachher{next(added)}.at")

    seen = await walk(client, VIEWER_DOMAINS, {"first": 2}, "viewer", "domains", between=add_one)

    assert len(seen) == len(set(seen)), "a domain was listed twice"
    assert seen[:7] == [f"vorher{index}.at" for index in range(7)]
    # Domains added while paging come after the ones that were there, in the order they came.
    assert seen[7:] == [f"nachher{index}.at" for index in range(len(seen) - 7)]


async def test_account_pages_with_a_filter_are_stable_too(api: Api, db: Database, settings: Settings) -> None:
    owner = await create_user(db)
    account = await create_account(db, owner=owner)
    for index in range(5):
        await create_domain(db, account=account, name=f"a{index}.at")
        await create_domain(db, account=account, name=f"b{index}.de")
    client = await signed_in(api, db, settings, owner)
    added = iter(range(100))

    async def add_two() -> None:
        number = next(added)
        await create_domain(db, account=account, name=f"neu{number}.at")
        await create_domain(db, account=account, name=f"neu{number}.de")

    seen = await walk(
        client,
        ACCOUNT_DOMAINS,
        {"id": gid("ClientAccount", account.id), "first": 2, "filter": {"search": ".at"}},
        "account",
        "domains",
        between=add_two,
    )

    assert seen[:5] == [f"a{index}.at" for index in range(5)]
    assert seen[5:] == [f"neu{index}.at" for index in range(len(seen) - 5)]


# --- batching ---------------------------------------------------------------------------------


async def partner_with(db: Database, settings: Settings, accounts: int) -> str:
    """A partner user holding VIEW_DOMAINS in `accounts` customer accounts, each with a domain
    registered to a contact of its own."""
    partner = await create_user(db, email="partner@example.com")
    for index in range(accounts):
        account = await create_account(db, owner=await create_user(db), name=f"Customer {index:03}")
        await add_member(db, account=account, user=partner, permissions=[Permission.VIEW_DOMAINS])
        await create_domain(
            db, account=account, name=f"customer{index:03}.at", expires_at=date.today() + timedelta(days=20)
        )
    return await session_for(db, settings, partner)


# The partner's query of expiring domains, whatever the number of accounts and domains:
# session lookup, page of domains (holding all of them, it is their count, and each one's registrant
# of its own account), accounts.
EXPIRING_DOMAINS_STATEMENTS = 3


@pytest.mark.parametrize("accounts", [1, 10, 50])
async def test_expiring_domains_cost_the_same_for_1_10_and_50_accounts(
    api: Api, db: Database, settings: Settings, accounts: int
) -> None:
    api.set_session(await partner_with(db, settings, accounts))
    before = (date.today() + timedelta(days=30)).isoformat()

    response, statements = await api.count(EXPIRING_DOMAINS, {"before": before})

    assert response.errors == []
    connection = response.data["viewer"]["domains"]
    assert connection["totalCount"] == accounts
    assert len(connection["edges"]) == accounts
    node = connection["edges"][-1]["node"]
    assert node["name"] == f"customer{accounts - 1:03}.at"
    assert node["account"]["name"] == f"Customer {accounts - 1:03}"
    assert node["contacts"]["registrant"] == {
        "firstName": "Erika",
        "lastName": "Muster",
        "email": "billing@muster.example",
    }
    assert statements == EXPIRING_DOMAINS_STATEMENTS, db.counter.statements


@pytest.mark.parametrize("member_of_the_holder", [True, False])
async def test_a_registrant_of_another_account_comes_through_the_contact_loader(
    api: Api, db: Database, settings: Settings, member_of_the_holder: bool
) -> None:
    # Given a partner's domain whose registrant is a contact of another account
    api.set_session(await partner_with(db, settings, 1))
    holder = await create_account(db, owner=await create_user(db), name="Holder")
    async with db.begin() as session:
        contact = await session.scalar(select(Contact).where(Contact.account_id == holder.id))
        assert contact is not None
        contact.first_name = "Holder's"
        domain = await session.scalar(select(Domain))
        assert domain is not None
        domain.registrant_contact_id = contact.id
    if member_of_the_holder:
        partner = await _user(db, "partner@example.com")
        await add_member(db, account=holder, user=partner, permissions=[Permission.VIEW_DOMAINS])
    before = (date.today() + timedelta(days=30)).isoformat()

    # When the partner lists their expiring domains
    response, statements = await api.count(EXPIRING_DOMAINS, {"before": before})

    # Then the page did not bring that contact along: the contact loader decided, in a statement
    # of its own, and showed it only to a member of its account
    assert statements == EXPIRING_DOMAINS_STATEMENTS + 1, db.counter.statements
    if member_of_the_holder:
        assert response.errors == []
        registrant = response.data["viewer"]["domains"]["edges"][0]["node"]["contacts"]["registrant"]
        assert registrant["firstName"] == "Holder's"
    else:
        assert "Holder's" not in str(response.data)
        assert response.errors


async def _user(db: Database, email: str) -> User:
    async with db.read() as session:
        user = await session.scalar(select(User).where(User.email == email))
    assert user is not None
    return user


async def test_expiring_domains_over_a_partner_token(api: Api, db: Database, settings: Settings) -> None:
    api.set_session(await partner_with(db, settings, 3))
    secret = (
        await api(CREATE_TOKEN, {"input": {"name": "partner", "permissions": ["VIEW_DOMAINS"]}})
    ).payload("createApiToken")["token"]
    partner = api.new().with_token(secret)
    before = (date.today() + timedelta(days=30)).isoformat()

    first = await partner(EXPIRING_DOMAINS, {"before": before, "first": 2})
    rest = await partner(
        EXPIRING_DOMAINS,
        {"before": before, "first": 2, "after": first.data["viewer"]["domains"]["pageInfo"]["endCursor"]},
    )

    assert first.errors == rest.errors == []
    pages = [first.data["viewer"]["domains"], rest.data["viewer"]["domains"]]
    assert [p["totalCount"] for p in pages] == [3, 3]
    assert [p["pageInfo"]["hasNextPage"] for p in pages] == [True, False]
    assert [e["node"]["name"] for p in pages for e in p["edges"]] == [
        "customer000.at",
        "customer001.at",
        "customer002.at",
    ]
