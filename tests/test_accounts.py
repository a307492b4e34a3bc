"""Client accounts: creating them, reading them, their billing profile and the account switcher."""

from __future__ import annotations

from typing import Any

import pytest

from models import ClientAccount, User
from models.database import Database
from models.permissions import Permission
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from tests.factories import BILLING, add_member, create_account, create_user, session_for
from tests.graphql import Api

CREATE = """
mutation Create($input: CreateClientAccountInput!) {
  createClientAccount(input: $input) {
    account { id name status viewerRole owner { email } }
    userErrors { field message code }
  }
}
"""
UPDATE = """
mutation Update($input: UpdateBillingProfileInput!) {
  updateBillingProfile(input: $input) {
    account { id billingProfile { firstName phone address { countryCode } taxId } }
    userErrors { field message code }
  }
}
"""
ACCOUNT = """
query Account($id: ID!) {
  account(id: $id) { id name viewerRole viewerPermissions owner { email } billingProfile { email } }
}
"""
SWITCHER = """
query Switcher($first: Int, $after: String, $search: String) {
  viewer {
    accounts(first: $first, after: $after, search: $search) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor role permissions node { name } }
    }
  }
}
"""


async def _signed_in(api: Api, db: Database, settings: Settings, email: str = "owner@example.com") -> User:
    user = await create_user(db, email=email)
    api.set_session(await session_for(db, settings, user))
    return user


def gid(account: ClientAccount) -> str:
    return encode_id("ClientAccount", account.id)


async def test_create_client_account_is_owned_by_the_viewer(
    api: Api, db: Database, settings: Settings
) -> None:
    await _signed_in(api, db, settings)

    response = await api(CREATE, {"input": {"name": "Agency own", "billingProfile": BILLING}})

    account = response.payload("createClientAccount")["account"]
    assert account["name"] == "Agency own"
    assert account["status"] == "ACTIVE"
    assert account["viewerRole"] == "OWNER"
    assert account["owner"] == {"email": "owner@example.com"}
    switcher = (await api(SWITCHER)).data["viewer"]["accounts"]
    assert [e["node"]["name"] for e in switcher["edges"]] == ["Agency own"]


async def test_create_client_account_validates_and_creates_nothing(
    api: Api, db: Database, settings: Settings
) -> None:
    await _signed_in(api, db, settings)

    response = await api(CREATE, {"input": {"name": "", "billingProfile": {**BILLING, "phone": "12"}}})

    errors = response.payload("createClientAccount")["userErrors"]
    assert [e["field"] for e in errors] == [["input", "name"], ["input", "billingProfile", "phone"]]
    assert (await api(SWITCHER)).data["viewer"]["accounts"]["totalCount"] == 0


async def test_account_of_a_member_and_of_a_stranger(api: Api, db: Database, settings: Settings) -> None:
    viewer = await _signed_in(api, db, settings)
    mine = await create_account(db, owner=viewer, name="Mine")
    foreign = await create_account(db, owner=await create_user(db), name="Foreign")

    own = (await api(ACCOUNT, {"id": gid(mine)})).data["account"]
    theirs = await api(ACCOUNT, {"id": gid(foreign)})

    assert own["name"] == "Mine"
    assert own["owner"] == {"email": "owner@example.com"}
    assert theirs.data == {"account": None}
    assert theirs.errors == []


async def test_member_without_permission_gets_forbidden_at_the_field(
    api: Api, db: Database, settings: Settings
) -> None:
    viewer = await _signed_in(api, db, settings)
    account = await create_account(db, owner=await create_user(db))
    await add_member(db, account=account, user=viewer, permissions=[Permission.VIEW_SERVICES])

    response = await api(ACCOUNT, {"id": gid(account)})

    data = response.data["account"]
    assert data["viewerRole"] == "USER"
    assert data["viewerPermissions"] == ["VIEW_SERVICES"]
    assert data["billingProfile"] is None
    [error] = response.errors
    assert error["path"] == ["account", "billingProfile"]
    assert error["extensions"] == {
        "code": "FORBIDDEN",
        "requiredPermissions": ["MANAGE_PROFILE", "VIEW_INVOICES"],
    }


@pytest.mark.parametrize("permission", [Permission.MANAGE_PROFILE, Permission.VIEW_INVOICES])
async def test_either_permission_opens_the_billing_profile(
    api: Api, db: Database, settings: Settings, permission: Permission
) -> None:
    viewer = await _signed_in(api, db, settings)
    account = await create_account(db, owner=await create_user(db))
    await add_member(db, account=account, user=viewer, permissions=[permission])

    response = await api(ACCOUNT, {"id": gid(account)})

    assert response.errors == []
    assert response.data["account"]["billingProfile"] == {"email": "billing@muster.example"}


def _update(account: ClientAccount, **billing: Any) -> dict[str, Any]:
    return {"input": {"accountId": gid(account), "billingProfile": {**BILLING, **billing}}}


async def test_update_billing_profile_with_manage_profile(api: Api, db: Database, settings: Settings) -> None:
    viewer = await _signed_in(api, db, settings)
    account = await create_account(db, owner=await create_user(db))
    await add_member(db, account=account, user=viewer, permissions=[Permission.MANAGE_PROFILE])

    response = await api(
        UPDATE, _update(account, firstName="Max", phone="+49.301234567", taxId="de 123456789")
    )

    profile = response.payload("updateBillingProfile")["account"]["billingProfile"]
    assert profile == {
        "firstName": "Max",
        "phone": "+49301234567",
        "address": {"countryCode": "AT"},
        "taxId": "DE123456789",
    }


async def test_update_billing_profile_without_permission_is_forbidden_and_changes_nothing(
    api: Api, db: Database, settings: Settings
) -> None:
    viewer = await _signed_in(api, db, settings)
    owner = await create_user(db)
    account = await create_account(db, owner=owner)
    await add_member(db, account=account, user=viewer, permissions=[Permission.VIEW_INVOICES])

    response = await api(UPDATE, _update(account, firstName="Mallory"))

    assert response.user_error_codes("updateBillingProfile") == ["FORBIDDEN"]
    owner_api = api.new()
    owner_api.set_session(await session_for(db, settings, owner))
    profile = (await owner_api(ACCOUNT, {"id": gid(account)})).data["account"]["billingProfile"]
    assert profile == {"email": "billing@muster.example"}


async def test_update_billing_profile_of_a_foreign_account_is_not_found(
    api: Api, db: Database, settings: Settings
) -> None:
    await _signed_in(api, db, settings)
    foreign = await create_account(db, owner=await create_user(db))

    response = await api(UPDATE, _update(foreign))

    errors = response.payload("updateBillingProfile")["userErrors"]
    assert [(e["code"], e["field"]) for e in errors] == [("NOT_FOUND", ["input", "accountId"])]


async def test_undecodable_account_id_is_bad_user_input(api: Api, db: Database, settings: Settings) -> None:
    await _signed_in(api, db, settings)

    mutation = await api(UPDATE, {"input": {"accountId": "%%%", "billingProfile": BILLING}})
    query = await api(ACCOUNT, {"id": "not-an-id"})

    assert mutation.codes == ["BAD_USER_INPUT"]
    assert query.codes == ["BAD_USER_INPUT"]
    assert query.data == {"account": None}


async def test_account_switcher_pages_by_name_without_skips_or_repeats(
    api: Api, db: Database, settings: Settings
) -> None:
    viewer = await _signed_in(api, db, settings)
    for name in ["Delta", "Alpha", "Echo", "Bravo", "Charlie"]:
        await create_account(db, owner=viewer, name=name)

    first = (await api(SWITCHER, {"first": 2})).data["viewer"]["accounts"]
    # A new account sorting before the cursor must not shift the next page.
    await create_account(db, owner=viewer, name="Aardvark")
    second = (await api(SWITCHER, {"first": 2, "after": first["pageInfo"]["endCursor"]})).data
    rest = second["viewer"]["accounts"]
    third = (await api(SWITCHER, {"first": 2, "after": rest["pageInfo"]["endCursor"]})).data

    assert [e["node"]["name"] for e in first["edges"]] == ["Alpha", "Bravo"]
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["hasPreviousPage"] is False
    assert first["totalCount"] == 5
    assert [e["node"]["name"] for e in rest["edges"]] == ["Charlie", "Delta"]
    assert rest["pageInfo"]["hasPreviousPage"] is True
    last = third["viewer"]["accounts"]
    assert [e["node"]["name"] for e in last["edges"]] == ["Echo"]
    assert last["pageInfo"]["hasNextPage"] is False


async def test_account_switcher_search_and_roles(api: Api, db: Database, settings: Settings) -> None:
    viewer = await _signed_in(api, db, settings)
    await create_account(db, owner=viewer, name="Agency 100% Web")
    customer = await create_account(db, owner=await create_user(db), name="Bäckerei Web_Shop")
    await add_member(db, account=customer, user=viewer, permissions=[Permission.PLACE_ORDERS])

    web = (await api(SWITCHER, {"search": "WEB"})).data["viewer"]["accounts"]
    percent = (await api(SWITCHER, {"search": "100%"})).data["viewer"]["accounts"]
    underscore = (await api(SWITCHER, {"search": "b_s"})).data["viewer"]["accounts"]

    assert [(e["node"]["name"], e["role"]) for e in web["edges"]] == [
        ("Agency 100% Web", "OWNER"),
        ("Bäckerei Web_Shop", "USER"),
    ]
    assert web["edges"][1]["permissions"] == ["PLACE_ORDERS"]
    assert len(web["edges"][0]["permissions"]) == 12
    assert [e["node"]["name"] for e in percent["edges"]] == ["Agency 100% Web"]
    assert [e["node"]["name"] for e in underscore["edges"]] == ["Bäckerei Web_Shop"]


@pytest.mark.parametrize(
    "variables",
    [{"first": 101}, {"first": -1}, {"after": "bm90LWEtY3Vyc29y"}, {"after": "!!!"}],
)
async def test_bad_page_arguments_are_bad_user_input(
    api: Api, db: Database, settings: Settings, variables: dict[str, Any]
) -> None:
    await _signed_in(api, db, settings)

    response = await api(SWITCHER, variables)

    assert response.codes == ["BAD_USER_INPUT"]
    assert "Traceback" not in str(response.body)


async def test_a_second_owner_is_refused_by_the_database(db: Database) -> None:
    from sqlalchemy.exc import IntegrityError

    from models import Membership, MembershipRole

    account = await create_account(db, owner=await create_user(db))
    intruder = await create_user(db)

    with pytest.raises(IntegrityError):
        async with db.begin() as session:
            session.add(Membership(user_id=intruder.id, account_id=account.id, role=MembershipRole.OWNER))
