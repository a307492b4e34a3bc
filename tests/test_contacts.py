"""Contacts: creating, changing and deleting them, who may, the primary contact, and domains using them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

import resolvers.contacts
from models import ClientAccount, Contact, Domain, DomainStatus, Product, ProductType, User
from models.base import uuid7
from models.database import Database
from models.permissions import Permission
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from tests.factories import BILLING, add_member, create_account, create_contact, create_user, session_for
from tests.graphql import Api

# As the dashboard sends them: contract/operations/contacts.graphql.
CREATE_CONTACT = """
mutation CreateContact($input: CreateContactInput!) {
  createContact(input: $input) {
    contact { id firstName lastName companyName email phone address { line1 city postalCode countryCode } }
    userErrors { field message code }
  }
}
"""
DELETE_CONTACT = """
mutation DeleteContact($id: ID!) {
  deleteContact(input: { contactId: $id }) {
    deletedContactId
    userErrors { field message code }
  }
}
"""
UPDATE_CONTACT = """
mutation UpdateContact($input: UpdateContactInput!) {
  updateContact(input: $input) {
    contact {
      id firstName lastName companyName email phone createdAt updatedAt
      address { line1 line2 city state postalCode countryCode }
      account { id }
    }
    userErrors { field message code }
  }
}
"""
UPDATE_BILLING_PROFILE = """
mutation UpdateBillingProfile($input: UpdateBillingProfileInput!) {
  updateBillingProfile(input: $input) { userErrors { field code } }
}
"""
CONTACTS = """
query Contacts($id: ID!, $first: Int, $after: String) {
  account(id: $id) {
    contacts(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage endCursor }
      edges { cursor node { id firstName lastName email phone } }
    }
    primaryContact { id firstName lastName companyName email phone address { line1 city countryCode } }
  }
}
"""
AUDIT_LOG = """
query AuditLog($id: ID!) {
  account(id: $id) { auditLog(first: 10) { edges { node { action subjectId actor { email } } } } }
}
"""
NODE = "query Node($id: ID!) { node(id: $id) { id } }"
CONTACTS_AND_PRIMARY = """
query ContactsAndPrimary($id: ID!) {
  account(id: $id) { contacts(first: 50) { edges { node { id } } } primaryContact { id } }
}
"""
PRIMARY_CONTACTS_OF_EVERY_ACCOUNT = """
query PrimaryContacts {
  viewer { accounts(first: 100) { edges { node { id primaryContact { id email } } } } }
}
"""

CONTACT: dict[str, Any] = {
    "firstName": "Max",
    "lastName": "Kunde",
    "companyName": "Kunde KG",
    "email": "Max@Kunde.Example",
    "phone": "+43.664123456",
    "address": {"line1": "Hauptplatz 1", "city": "Graz", "postalCode": "8010", "countryCode": "at"},
}
CONTACT_PERMISSIONS = ["MANAGE_CONTACTS", "MANAGE_DOMAINS", "PLACE_ORDERS"]
OTHER_THAN_MANAGE_CONTACTS = [p for p in Permission if p is not Permission.MANAGE_CONTACTS]


def _gid(kind: str, pk: uuid.UUID) -> str:
    return encode_id(kind, pk)


async def _signed_in(api: Api, db: Database, settings: Settings, user: User) -> Api:
    client = api.new()
    client.set_session(await session_for(db, settings, user))
    return client


async def _owned_account(api: Api, db: Database, settings: Settings) -> tuple[Api, ClientAccount]:
    owner = await create_user(db, email="owner@example.com")
    account = await create_account(db, owner=owner)
    return await _signed_in(api, db, settings, owner), account


async def _member(
    api: Api, db: Database, settings: Settings, account: ClientAccount, permissions: list[Permission]
) -> Api:
    user = await create_user(db)
    await add_member(db, account=account, user=user, permissions=permissions)
    return await _signed_in(api, db, settings, user)


async def _primary(db: Database, account: ClientAccount) -> Contact:
    async with db.read() as session:
        contact = await session.scalar(
            select(Contact).where(Contact.account_id == account.id, Contact.is_primary.is_(True))
        )
    assert contact is not None
    return contact


async def _stored(db: Database, account: ClientAccount) -> list[tuple[uuid.UUID, str, str]]:
    async with db.read() as session:
        rows = await session.scalars(
            select(Contact).where(Contact.account_id == account.id).order_by(Contact.id)
        )
        return [(row.id, row.first_name, row.email) for row in rows]


async def _domain_naming(db: Database, account: ClientAccount, contact: Contact, role: str) -> None:
    """A domain of the account with `contact` in `role` and the primary contact in the other roles."""
    primary = await _primary(db, account)
    roles = {f"{name}_contact_id": primary.id for name in ("registrant", "admin", "tech", "billing")}
    roles[f"{role}_contact_id"] = contact.id
    async with db.begin() as session:
        product = Product(
            key="domain-example", name=".example", type=ProductType.DOMAIN, tld="example", position=0
        )
        session.add(product)
        await session.flush()
        session.add(
            Domain(
                account_id=account.id,
                product_id=product.id,
                name="kunde.example",
                status=DomainStatus.ACTIVE,
                period_years=1,
                nameservers=["ns1.provider.example"],
                **roles,
            )
        )


def _create(account: ClientAccount, contact: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"input": {"accountId": _gid("ClientAccount", account.id), "contact": contact or CONTACT}}


def _update(contact_id: str, contact: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"input": {"contactId": contact_id, "contact": contact or CONTACT}}


def _errors(response: Any, field: str) -> list[tuple[list[str] | None, str]]:
    return [(e["field"], e["code"]) for e in response.payload(field)["userErrors"]]


async def _audit_log(client: Api, account: ClientAccount) -> list[dict[str, Any]]:
    response = await client(AUDIT_LOG, {"id": _gid("ClientAccount", account.id)})
    return [edge["node"] for edge in response.data["account"]["auditLog"]["edges"]]


# Happy paths


async def test_create_contact_normalises_it_and_records_the_change(
    api: Api, db: Database, settings: Settings
) -> None:
    owner, account = await _owned_account(api, db, settings)

    response = await owner(CREATE_CONTACT, _create(account))

    payload = response.payload("createContact")
    assert payload["userErrors"] == []
    contact = payload["contact"]
    assert contact == {
        "id": contact["id"],
        "firstName": "Max",
        "lastName": "Kunde",
        "companyName": "Kunde KG",
        "email": "max@kunde.example",
        "phone": "+43664123456",
        "address": {"line1": "Hauptplatz 1", "city": "Graz", "postalCode": "8010", "countryCode": "AT"},
    }
    assert (await _audit_log(owner, account))[0] == {
        "action": "contact.created",
        "subjectId": contact["id"],
        "actor": {"email": "owner@example.com"},
    }


async def test_update_contact_replaces_its_details(api: Api, db: Database, settings: Settings) -> None:
    owner, account = await _owned_account(api, db, settings)
    contact = await create_contact(db, account=account)
    changed = {
        "firstName": " Berta ",
        "lastName": "Neu",
        "email": "berta@neu.example",
        "phone": "+49 30 1234567",
        "address": {
            "line1": "Unter den Linden 1",
            "line2": "3. Stock",
            "city": "Berlin",
            "state": "Berlin",
            "postalCode": "10117",
            "countryCode": "DE",
        },
    }

    response = await owner(UPDATE_CONTACT, _update(_gid("Contact", contact.id), changed))

    payload = response.payload("updateContact")
    assert payload["userErrors"] == []
    updated = payload["contact"]
    assert updated["id"] == _gid("Contact", contact.id)
    assert updated["account"] == {"id": _gid("ClientAccount", account.id)}
    assert (updated["firstName"], updated["lastName"], updated["companyName"]) == ("Berta", "Neu", None)
    assert (updated["email"], updated["phone"]) == ("berta@neu.example", "+49301234567")
    assert updated["address"] == {
        "line1": "Unter den Linden 1",
        "line2": "3. Stock",
        "city": "Berlin",
        "state": "Berlin",
        "postalCode": "10117",
        "countryCode": "DE",
    }
    assert datetime.fromisoformat(updated["updatedAt"]) > datetime.fromisoformat(updated["createdAt"])
    assert (contact.id, "Berta", "berta@neu.example") in await _stored(db, account)
    event = (await _audit_log(owner, account))[0]
    assert (event["action"], event["subjectId"]) == ("contact.updated", _gid("Contact", contact.id))


async def test_delete_contact_removes_it(api: Api, db: Database, settings: Settings) -> None:
    owner, account = await _owned_account(api, db, settings)
    contact = await create_contact(db, account=account)
    contact_id = _gid("Contact", contact.id)

    response = await owner(DELETE_CONTACT, {"id": contact_id})

    assert response.payload("deleteContact") == {"deletedContactId": contact_id, "userErrors": []}
    assert (await owner(NODE, {"id": contact_id})).data == {"node": None}
    assert [row[0] for row in await _stored(db, account)] == [(await _primary(db, account)).id]
    event = (await _audit_log(owner, account))[0]
    assert (event["action"], event["subjectId"]) == ("contact.deleted", contact_id)


async def test_contacts_list_the_primary_contact_first_then_by_creation(
    api: Api, db: Database, settings: Settings
) -> None:
    owner, account = await _owned_account(api, db, settings)
    for name in ("Erster", "Zweiter", "Dritter"):
        await create_contact(db, account=account, first_name=name)
    account_id = _gid("ClientAccount", account.id)

    first_page = await owner(CONTACTS, {"id": account_id, "first": 2})
    connection = first_page.data["account"]["contacts"]
    second_page = await owner(
        CONTACTS, {"id": account_id, "first": 2, "after": connection["pageInfo"]["endCursor"]}
    )

    assert first_page.errors == []
    assert connection["totalCount"] == 4
    assert [e["node"]["firstName"] for e in connection["edges"]] == ["Erika", "Erster"]
    assert connection["edges"][0]["node"]["id"] == first_page.data["account"]["primaryContact"]["id"]
    assert connection["pageInfo"]["hasNextPage"] is True
    rest = second_page.data["account"]["contacts"]
    assert [e["node"]["firstName"] for e in rest["edges"]] == ["Zweiter", "Dritter"]
    assert rest["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "endCursor": rest["edges"][-1]["cursor"],
    }


# Validation


async def test_every_problem_of_the_input_is_reported_at_once(
    api: Api, db: Database, settings: Settings
) -> None:
    owner, account = await _owned_account(api, db, settings)
    contact = {
        "firstName": "   ",
        "lastName": "x" * 101,
        "companyName": "c" * 201,
        "email": "not-an-email",
        "phone": "0664 123456",
        "address": {"line1": "", "city": "Graz\u0001", "postalCode": " ", "countryCode": "XX"},
    }

    created = await owner(CREATE_CONTACT, _create(account, contact))
    existing = await create_contact(db, account=account)
    updated = await owner(UPDATE_CONTACT, _update(_gid("Contact", existing.id), contact))

    expected = [
        (["input", "contact", "firstName"], "INVALID"),
        (["input", "contact", "lastName"], "INVALID"),
        (["input", "contact", "companyName"], "INVALID"),
        (["input", "contact", "email"], "INVALID"),
        (["input", "contact", "phone"], "INVALID"),
        (["input", "contact", "address", "line1"], "INVALID"),
        (["input", "contact", "address", "city"], "INVALID"),
        (["input", "contact", "address", "postalCode"], "INVALID"),
        (["input", "contact", "address", "countryCode"], "INVALID"),
    ]
    assert _errors(created, "createContact") == expected
    assert created.payload("createContact")["contact"] is None
    assert _errors(updated, "updateContact") == expected
    assert updated.payload("updateContact")["contact"] is None
    assert sorted(row[1] for row in await _stored(db, account)) == ["Erika", "Max"]


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("+43.664123456", "+43664123456"),
        ("+43664123456", "+43664123456"),
        (" +43 664 123456 ", "+43664123456"),
    ],
)
async def test_phones_in_e164_or_epp_form_are_stored_in_e164(
    api: Api, db: Database, settings: Settings, sent: str, stored: str
) -> None:
    owner, account = await _owned_account(api, db, settings)

    response = await owner(CREATE_CONTACT, _create(account, {**CONTACT, "phone": sent}))

    assert response.payload("createContact")["contact"]["phone"] == stored


@pytest.mark.parametrize("phone", ["0664123456", "+43.66.4123", "+43abc", "+1", "+43.664123456789012345"])
async def test_a_phone_in_neither_form_is_invalid(
    api: Api, db: Database, settings: Settings, phone: str
) -> None:
    owner, account = await _owned_account(api, db, settings)

    response = await owner(CREATE_CONTACT, _create(account, {**CONTACT, "phone": phone}))

    assert _errors(response, "createContact") == [(["input", "contact", "phone"], "INVALID")]


# Who may


@pytest.mark.parametrize(
    ("permissions", "expected"),
    [
        pytest.param([Permission.MANAGE_CONTACTS], [], id="manage-contacts"),
        pytest.param(OTHER_THAN_MANAGE_CONTACTS, ["FORBIDDEN"], id="every-other-permission"),
        pytest.param([], ["FORBIDDEN"], id="no-permission"),
    ],
)
async def test_changing_contacts_needs_manage_contacts(
    api: Api, db: Database, settings: Settings, permissions: list[Permission], expected: list[str]
) -> None:
    _, account = await _owned_account(api, db, settings)
    to_update = await create_contact(db, account=account, first_name="Bleibt")
    to_delete = await create_contact(db, account=account, first_name="Geht")
    before = await _stored(db, account)
    member = await _member(api, db, settings, account, permissions)

    created = await member(CREATE_CONTACT, _create(account))
    updated = await member(UPDATE_CONTACT, _update(_gid("Contact", to_update.id)))
    deleted = await member(DELETE_CONTACT, {"id": _gid("Contact", to_delete.id)})

    assert [e["code"] for e in created.payload("createContact")["userErrors"]] == expected
    assert [e["code"] for e in updated.payload("updateContact")["userErrors"]] == expected
    assert [e["code"] for e in deleted.payload("deleteContact")["userErrors"]] == expected
    if expected:
        assert created.payload("createContact")["contact"] is None
        assert updated.payload("updateContact")["contact"] is None
        assert deleted.payload("deleteContact")["deletedContactId"] is None
        assert await _stored(db, account) == before
    else:
        assert created.payload("createContact")["contact"]["firstName"] == "Max"
        assert updated.payload("updateContact")["contact"]["firstName"] == "Max"
        assert deleted.payload("deleteContact")["deletedContactId"] == _gid("Contact", to_delete.id)


async def test_contacts_of_a_foreign_account_are_not_found(
    api: Api, db: Database, settings: Settings
) -> None:
    _, account = await _owned_account(api, db, settings)
    contact = await create_contact(db, account=account)
    before = await _stored(db, account)
    stranger = await create_user(db)
    await create_account(db, owner=stranger)
    client = await _signed_in(api, db, settings, stranger)

    created = await client(CREATE_CONTACT, _create(account))
    updated = await client(UPDATE_CONTACT, _update(_gid("Contact", contact.id)))
    deleted = await client(DELETE_CONTACT, {"id": _gid("Contact", contact.id)})

    assert _errors(created, "createContact") == [(["input", "accountId"], "NOT_FOUND")]
    assert _errors(updated, "updateContact") == [(["input", "contactId"], "NOT_FOUND")]
    assert _errors(deleted, "deleteContact") == [(["input", "contactId"], "NOT_FOUND")]
    assert await _stored(db, account) == before


async def test_anonymous_callers_are_unauthenticated(api: Api, db: Database, settings: Settings) -> None:
    _, account = await _owned_account(api, db, settings)
    contact = await create_contact(db, account=account)
    before = await _stored(db, account)

    responses = [
        await api(CREATE_CONTACT, _create(account)),
        await api(UPDATE_CONTACT, _update(_gid("Contact", contact.id))),
        await api(DELETE_CONTACT, {"id": _gid("Contact", contact.id)}),
    ]

    for response in responses:
        assert response.data is None
        assert response.codes == ["UNAUTHENTICATED"]
    assert await _stored(db, account) == before


@pytest.mark.parametrize(
    "permissions",
    [[Permission.MANAGE_CONTACTS], [Permission.MANAGE_DOMAINS], [Permission.PLACE_ORDERS]],
    ids=lambda permissions: permissions[0].value,
)
async def test_contacts_are_listed_for_contacts_domains_or_orders(
    api: Api, db: Database, settings: Settings, permissions: list[Permission]
) -> None:
    _, account = await _owned_account(api, db, settings)
    await create_contact(db, account=account)
    member = await _member(api, db, settings, account, permissions)

    response = await member(CONTACTS, {"id": _gid("ClientAccount", account.id)})

    assert response.errors == []
    assert response.data["account"]["contacts"]["totalCount"] == 2
    assert response.data["account"]["primaryContact"]["firstName"] == "Erika"


async def test_contacts_are_forbidden_without_those_permissions(
    api: Api, db: Database, settings: Settings
) -> None:
    _, account = await _owned_account(api, db, settings)
    others = [p for p in Permission if p.value not in CONTACT_PERMISSIONS]
    member = await _member(api, db, settings, account, others)

    response = await member(CONTACTS, {"id": _gid("ClientAccount", account.id)})

    assert response.data == {"account": {"contacts": None, "primaryContact": None}}
    assert sorted(e["path"][-1] for e in response.errors) == ["contacts", "primaryContact"]
    for error in response.errors:
        assert error["extensions"] == {"code": "FORBIDDEN", "requiredPermissions": CONTACT_PERMISSIONS}


# Global IDs


@pytest.mark.parametrize("operation", ["create", "update", "delete"])
async def test_an_undecodable_id_is_bad_user_input(
    api: Api, db: Database, settings: Settings, operation: str
) -> None:
    owner, account = await _owned_account(api, db, settings)
    before = await _stored(db, account)
    calls = {
        "create": (CREATE_CONTACT, {"input": {"accountId": "not an id", "contact": CONTACT}}),
        "update": (UPDATE_CONTACT, _update("not an id")),
        "delete": (DELETE_CONTACT, {"id": "not an id"}),
    }

    response = await owner(*calls[operation])

    assert response.data is None
    assert response.codes == ["BAD_USER_INPUT"]
    assert await _stored(db, account) == before


@pytest.mark.parametrize("kind", ["missing", "another-type"])
async def test_a_well_formed_id_of_no_contact_is_not_found(
    api: Api, db: Database, settings: Settings, kind: str
) -> None:
    owner, account = await _owned_account(api, db, settings)
    contact_id = _gid("Contact", uuid7()) if kind == "missing" else _gid("ClientAccount", account.id)
    primary_id = _gid("Contact", (await _primary(db, account)).id)
    account_id = _gid("ClientAccount", uuid7()) if kind == "missing" else primary_id

    created = await owner(CREATE_CONTACT, {"input": {"accountId": account_id, "contact": CONTACT}})
    updated = await owner(UPDATE_CONTACT, _update(contact_id))
    deleted = await owner(DELETE_CONTACT, {"id": contact_id})

    assert _errors(created, "createContact") == [(["input", "accountId"], "NOT_FOUND")]
    assert _errors(updated, "updateContact") == [(["input", "contactId"], "NOT_FOUND")]
    assert _errors(deleted, "deleteContact") == [(["input", "contactId"], "NOT_FOUND")]


# The primary contact


async def test_the_primary_contact_follows_the_billing_profile(
    api: Api, db: Database, settings: Settings
) -> None:
    owner, account = await _owned_account(api, db, settings)
    billing = {
        **BILLING,
        "firstName": "Renate",
        "companyName": "Renate GmbH",
        "email": "Renate@Example.com",
        "phone": "+43.316987654",
        "address": {"line1": "Sackstraße 5", "city": "Graz", "postalCode": "8010", "countryCode": "AT"},
    }

    updated = await owner(
        UPDATE_BILLING_PROFILE,
        {"input": {"accountId": _gid("ClientAccount", account.id), "billingProfile": billing}},
    )
    response = await owner(CONTACTS, {"id": _gid("ClientAccount", account.id)})

    assert updated.payload("updateBillingProfile")["userErrors"] == []
    assert response.data["account"]["primaryContact"] == {
        "id": _gid("Contact", (await _primary(db, account)).id),
        "firstName": "Renate",
        "lastName": "Muster",
        "companyName": "Renate GmbH",
        "email": "renate@example.com",
        "phone": "+43316987654",
        "address": {"line1": "Sackstraße 5", "city": "Graz", "countryCode": "AT"},
    }


async def test_the_primary_contact_cannot_be_changed_or_deleted_directly(
    api: Api, db: Database, settings: Settings
) -> None:
    owner, account = await _owned_account(api, db, settings)
    primary_id = _gid("Contact", (await _primary(db, account)).id)
    before = await _stored(db, account)

    updated = await owner(UPDATE_CONTACT, _update(primary_id))
    deleted = await owner(DELETE_CONTACT, {"id": primary_id})

    for response, field in ((updated, "updateContact"), (deleted, "deleteContact")):
        errors = response.payload(field)["userErrors"]
        assert [(e["field"], e["code"]) for e in errors] == [(["input", "contactId"], "INVALID")]
        assert "updateBillingProfile" in errors[0]["message"]
    assert await _stored(db, account) == before


# Domains using a contact


@pytest.mark.parametrize("role", ["registrant", "admin", "tech", "billing"])
async def test_a_contact_a_domain_uses_cannot_be_deleted(
    api: Api, db: Database, settings: Settings, role: str
) -> None:
    owner, account = await _owned_account(api, db, settings)
    contact = await create_contact(db, account=account)
    await _domain_naming(db, account, contact, role)

    response = await owner(DELETE_CONTACT, {"id": _gid("Contact", contact.id)})

    assert response.payload("deleteContact")["deletedContactId"] is None
    assert _errors(response, "deleteContact") == [(["input", "contactId"], "CONTACT_IN_USE")]
    assert contact.id in [row[0] for row in await _stored(db, account)]


async def test_the_foreign_key_refuses_what_the_check_did_not_see(
    api: Api, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner, account = await _owned_account(api, db, settings)
    contact = await create_contact(db, account=account)
    await _domain_naming(db, account, contact, "registrant")

    # As if the domain had named the contact just after the check looked.
    async def nothing_found(*_args: object) -> None:
        return None

    monkeypatch.setattr(resolvers.contacts, "domain_using", nothing_found)

    response = await owner(DELETE_CONTACT, {"id": _gid("Contact", contact.id)})

    assert _errors(response, "deleteContact") == [(["input", "contactId"], "CONTACT_IN_USE")]
    assert contact.id in [row[0] for row in await _stored(db, account)]
    assert [e["action"] for e in await _audit_log(owner, account)] == []


# Statement counts


@pytest.mark.parametrize("contacts", [1, 30])
async def test_contacts_and_primary_contact_cost_the_same_for_1_and_30_contacts(
    api: Api, db: Database, settings: Settings, contacts: int
) -> None:
    owner, account = await _owned_account(api, db, settings)
    for index in range(contacts - 1):
        await create_contact(db, account=account, first_name=f"Kontakt {index}")

    response, statements = await owner.count(CONTACTS_AND_PRIMARY, {"id": _gid("ClientAccount", account.id)})

    assert response.errors == []
    assert len(response.data["account"]["contacts"]["edges"]) == contacts
    # session lookup, viewer's access with the account, the page of contacts, the primary contact
    assert statements == 4, db.counter.statements


@pytest.mark.parametrize("accounts", [1, 10])
async def test_every_accounts_primary_contact_is_read_with_one_statement(
    api: Api, db: Database, settings: Settings, accounts: int
) -> None:
    agency = await create_user(db)
    for _ in range(accounts):
        await create_account(db, owner=agency)
    client = await _signed_in(api, db, settings, agency)

    response, statements = await client.count(PRIMARY_CONTACTS_OF_EVERY_ACCOUNT)

    assert response.errors == []
    edges = response.data["viewer"]["accounts"]["edges"]
    assert len(edges) == accounts
    assert all(e["node"]["primaryContact"]["email"] == "billing@muster.example" for e in edges)
    # session lookup, the page of accounts with memberships, the primary contacts of all of them
    assert statements == 3, db.counter.statements
