"""API tokens: shown once, stored hashed, narrowed to accounts and permissions at every request."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update

from models import ApiToken, Membership
from models.base import utcnow
from models.database import Database
from models.permissions import Permission
from resolvers.core.credentials import is_well_formed_token
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from tests.factories import BILLING, add_member, create_account, create_user, session_for
from tests.graphql import Api

CREATE = """
mutation CreateApiToken($input: CreateApiTokenInput!) {
  createApiToken(input: $input) {
    token
    apiToken { id name prefix permissions accounts { id } expiresAt lastUsedAt }
    userErrors { field message code }
  }
}
"""
REVOKE = """
mutation Revoke($id: ID!) {
  revokeApiToken(input: { apiTokenId: $id }) { apiToken { id } userErrors { code } }
}
"""
ACCOUNTS = """
{ viewer { accounts { totalCount edges { role permissions node { id name billingProfile { email } } } } } }
"""
TOKENS = "{ viewer { apiTokens { id name prefix lastUsedAt } } }"


async def _agency(api: Api, db: Database, settings: Settings) -> tuple[Api, list[Any]]:
    """An agency user owning one account and holding VIEW_SERVICES in a customer's account."""
    agency = await create_user(db, email="agency@example.com")
    customer = await create_user(db, email="customer@example.com")
    own = await create_account(db, owner=agency, name="Agency")
    theirs = await create_account(db, owner=customer, name="Customer")
    await add_member(db, account=theirs, user=agency, permissions=[Permission.VIEW_SERVICES])
    api.set_session(await session_for(db, settings, agency))
    return api, [own, theirs]


async def _mint(api: Api, **input_: Any) -> dict[str, Any]:
    response = await api(CREATE, {"input": {"name": "partner", **input_}})
    payload: dict[str, Any] = response.payload("createApiToken")
    return payload


async def test_token_is_shown_once_recognisable_and_stored_hashed(
    api: Api, db: Database, settings: Settings
) -> None:
    await _agency(api, db, settings)

    payload = await _mint(api)

    secret = payload["token"]
    assert secret.startswith("ca_")
    assert is_well_formed_token(secret)
    assert payload["apiToken"]["prefix"] == secret[:9]
    assert payload["apiToken"]["accounts"] is None
    assert payload["apiToken"]["permissions"] is None
    listed = (await api(TOKENS)).data["viewer"]["apiTokens"]
    assert [t["prefix"] for t in listed] == [secret[:9]]
    assert secret not in str(listed)
    async with db.read() as session:
        stored = await session.scalar(select(ApiToken.token_hash))
    assert stored is not None
    assert secret.encode() not in stored


async def test_bearer_token_reads_as_its_user_and_records_last_use(
    api: Api, db: Database, settings: Settings
) -> None:
    await _agency(api, db, settings)
    secret = (await _mint(api))["token"]

    partner = api.new().with_token(secret)
    edges = (await partner(ACCOUNTS)).data["viewer"]["accounts"]["edges"]

    assert [(e["node"]["name"], e["role"]) for e in edges] == [
        ("Agency", "OWNER"),
        ("Customer", "USER"),
    ]
    assert (await api(TOKENS)).data["viewer"]["apiTokens"][0]["lastUsedAt"] is not None


async def test_token_narrowed_to_one_account_and_one_permission(
    api: Api, db: Database, settings: Settings
) -> None:
    _, (own, _theirs) = await _agency(api, db, settings)
    own_id = encode_id("ClientAccount", own.id)
    payload = await _mint(api, accountIds=[own_id], permissions=["VIEW_SERVICES"])
    assert payload["apiToken"]["accounts"] == [{"id": own_id}]
    assert payload["apiToken"]["permissions"] == ["VIEW_SERVICES"]

    partner = api.new().with_token(payload["token"])
    response = await partner(ACCOUNTS)

    connection = response.data["viewer"]["accounts"]
    assert connection["totalCount"] == 1
    edge = connection["edges"][0]
    assert edge["role"] == "OWNER"
    assert edge["permissions"] == ["VIEW_SERVICES"]
    # The owner's token without MANAGE_PROFILE or VIEW_INVOICES cannot read billing details.
    assert edge["node"]["billingProfile"] is None
    assert response.codes == ["FORBIDDEN"]
    assert response.errors[0]["extensions"]["requiredPermissions"] == [
        "MANAGE_PROFILE",
        "VIEW_INVOICES",
    ]


async def test_removing_the_membership_removes_the_tokens_reach(
    api: Api, db: Database, settings: Settings
) -> None:
    _, (_own, theirs) = await _agency(api, db, settings)
    secret = (await _mint(api))["token"]
    async with db.begin() as session:
        await session.execute(
            delete(Membership).where(Membership.account_id == theirs.id, Membership.role == "USER")
        )

    edges = (await api.new().with_token(secret)(ACCOUNTS)).data["viewer"]["accounts"]["edges"]

    assert [e["node"]["name"] for e in edges] == ["Agency"]


async def test_a_restricted_token_mints_no_tokens_at_all(api: Api, db: Database, settings: Settings) -> None:
    _, (own, theirs) = await _agency(api, db, settings)
    own_id = encode_id("ClientAccount", own.id)
    narrow = await _mint(api, accountIds=[own_id], permissions=["VIEW_SERVICES"])
    partner = api.new().with_token(narrow["token"])

    wider_permissions = await partner(
        CREATE, {"input": {"name": "x", "permissions": ["VIEW_SERVICES", "MANAGE_USERS"]}}
    )
    other_account = await partner(
        CREATE, {"input": {"name": "x", "accountIds": [encode_id("ClientAccount", theirs.id)]}}
    )
    narrower = await partner(CREATE, {"input": {"name": "child", "accountIds": [own_id]}})

    for response in (wider_permissions, other_account, narrower):
        assert response.user_error_codes("createApiToken") == ["FORBIDDEN"]
        assert response.payload("createApiToken")["token"] is None
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(ApiToken)) == 1


async def test_an_unrestricted_token_mints_none_that_outlives_it(
    api: Api, db: Database, settings: Settings
) -> None:
    await _agency(api, db, settings)
    parent_expiry = utcnow() + timedelta(days=30)
    parent = await _mint(api, expiresAt=parent_expiry.isoformat())
    partner = api.new().with_token(parent["token"])

    longer = await partner(
        CREATE, {"input": {"name": "x", "expiresAt": (parent_expiry + timedelta(days=1)).isoformat()}}
    )
    inherited = await partner(CREATE, {"input": {"name": "child"}})

    assert longer.user_error_codes("createApiToken") == ["PERMISSION_ESCALATION"]
    assert inherited.payload("createApiToken")["apiToken"]["expiresAt"] == parent["apiToken"]["expiresAt"]


async def test_foreign_account_is_not_found_and_nothing_is_created(
    api: Api, db: Database, settings: Settings
) -> None:
    await _agency(api, db, settings)
    stranger = await create_user(db)
    foreign = await create_account(db, owner=stranger)

    response = await api(
        CREATE, {"input": {"name": "x", "accountIds": [encode_id("ClientAccount", foreign.id)]}}
    )

    errors = response.payload("createApiToken")["userErrors"]
    assert [(e["code"], e["field"]) for e in errors] == [("NOT_FOUND", ["input", "accountIds", "0"])]
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(ApiToken)) == 0


async def test_expiry_in_the_past_is_invalid(api: Api, db: Database, settings: Settings) -> None:
    await _agency(api, db, settings)

    response = await api(
        CREATE, {"input": {"name": "x", "expiresAt": (utcnow() - timedelta(days=1)).isoformat()}}
    )

    assert response.user_error_codes("createApiToken") == ["INVALID"]


async def test_revoked_expired_unknown_and_malformed_tokens_are_unauthenticated(
    api: Api, db: Database, settings: Settings
) -> None:
    await _agency(api, db, settings)
    revoked = await _mint(api)
    expired = await _mint(api)
    await api(REVOKE, {"id": revoked["apiToken"]["id"]})
    async with db.begin() as session:
        await session.execute(
            update(ApiToken)
            .where(ApiToken.prefix == expired["apiToken"]["prefix"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    unknown = "ca_" + "A" * 32 + revoked["token"][-6:]

    for secret in (revoked["token"], expired["token"], unknown, "garbage", revoked["token"][:-1] + "x"):
        response = await api.new().with_token(secret)(ACCOUNTS)
        assert response.http.status_code == 401
        assert response.codes == ["UNAUTHENTICATED"]
        assert response.data is None


async def test_revoking_anothers_token_is_not_found(api: Api, db: Database, settings: Settings) -> None:
    await _agency(api, db, settings)
    minted = await _mint(api)
    other = api.new()
    other.set_session(await session_for(db, settings, await create_user(db)))

    response = await other(REVOKE, {"id": minted["apiToken"]["id"]})

    assert response.user_error_codes("revokeApiToken") == ["NOT_FOUND"]
    assert (await api.new().with_token(minted["token"])(ACCOUNTS)).http.status_code == 200


async def test_anonymous_cannot_create_tokens(api: Api) -> None:
    response = await api(CREATE, {"input": {"name": "x"}})

    assert response.codes == ["UNAUTHENTICATED"]


async def test_a_token_restricted_to_some_accounts_cannot_create_accounts(
    api: Api, db: Database, settings: Settings
) -> None:
    _, (own, _theirs) = await _agency(api, db, settings)
    narrow = await _mint(api, accountIds=[encode_id("ClientAccount", own.id)])
    partner = api.new().with_token(narrow["token"])

    response = await partner(
        """mutation($input: CreateClientAccountInput!) {
          createClientAccount(input: $input) { account { id } userErrors { code } }
        }""",
        {"input": {"name": "Sneaky", "billingProfile": BILLING}},
    )

    assert response.user_error_codes("createClientAccount") == ["FORBIDDEN"]


VIEWER_USER = "{ viewer { user { id email name } } }"


async def test_the_viewers_user_comes_with_the_credentials_lookup(
    api: Api, db: Database, settings: Settings
) -> None:
    """The statement that finds the session or token reads the viewer's user row too: showing
    who is signed in costs no statement of its own, by cookie or by token."""
    await _agency(api, db, settings)
    secret = (await _mint(api))["token"]
    partner = api.new().with_token(secret)
    await partner(VIEWER_USER)  # records the token's first use

    by_cookie, cookie_statements = await api.count(VIEWER_USER)
    by_token, token_statements = await partner.count(VIEWER_USER)

    assert by_cookie.data == by_token.data
    assert by_cookie.data["viewer"]["user"]["email"] == "agency@example.com"
    # The session lookup; the token lookup.
    assert (cookie_statements, token_statements) == (1, 1), db.counter.statements
