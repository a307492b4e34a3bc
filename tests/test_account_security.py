"""Accounts that require two-factor sign-in (DESIGN rule 17): only the owner, with two-factor on,
sets it; a member (or their token) without two-factor then holds no permission there."""

from __future__ import annotations

from sqlalchemy import select

from models import AuditEvent, OutboxEmail
from models.accounts import ClientAccount
from models.database import Database
from models.permissions import Permission
from models.users import User
from resolvers.core.credentials import hash_password
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from tests.factories import (
    add_member,
    create_account,
    create_domain,
    create_service,
    create_user,
    enable_two_factor,
    require_two_factor,
    session_for,
)
from tests.graphql import Api

PASSWORD = "a long enough passphrase"
REQUIRE = """
mutation Require($accountId: ID!, $on: Boolean!) {
  updateAccountSecurity(input: { accountId: $accountId, requireTwoFactor: $on }) {
    account { id requireTwoFactor }
    userErrors { field code }
  }
}
"""
ACCOUNTS = """
{
  viewer {
    accounts { edges { twoFactorRequired permissions node { id requireTwoFactor viewerPermissions } } }
  }
}
"""
SERVICES = """
query($id: ID!) {
  account(id: $id) { name services { totalCount } }
  viewer { services { totalCount } domains { totalCount } }
}
"""
NAMESERVERS = """
mutation($id: ID!) {
  updateDomainNameservers(input: { domainId: $id, nameservers: ["ns1.example.com", "ns2.example.com"] }) {
    domain { id }
    userErrors { code }
  }
}
"""
EVERY = list(Permission)


async def _browser(api: Api, db: Database, settings: Settings, user: User) -> Api:
    browser = api.new()
    browser.set_session(await session_for(db, settings, user))
    return browser


async def _owner(db: Database, settings: Settings) -> tuple[User, ClientAccount]:
    owner = await create_user(
        db, email="owner@example.com", password_hash=await hash_password(settings, PASSWORD)
    )
    return owner, await create_account(db, owner=owner, name="Muster GmbH")


async def test_the_owner_must_have_two_factor_to_require_it(
    api: Api, db: Database, settings: Settings
) -> None:
    owner, account = await _owner(db, settings)
    browser = await _browser(api, db, settings, owner)
    variables = {"accountId": encode_id("ClientAccount", account.id), "on": True}

    refused = await browser(REQUIRE, variables)
    await enable_two_factor(db, settings, owner)
    allowed = await browser(REQUIRE, variables)

    assert refused.payload("updateAccountSecurity") == {
        "account": None,
        "userErrors": [{"field": ["input", "requireTwoFactor"], "code": "TWO_FACTOR_REQUIRED"}],
    }
    assert allowed.payload("updateAccountSecurity") == {
        "account": {"id": variables["accountId"], "requireTwoFactor": True},
        "userErrors": [],
    }
    async with db.read() as session:
        actions = list(
            await session.scalars(select(AuditEvent.action).where(AuditEvent.account_id == account.id))
        )
    assert actions == ["account.two_factor_required"]


async def test_only_the_owner_in_a_browser_sets_it(api: Api, db: Database, settings: Settings) -> None:
    owner, account = await _owner(db, settings)
    await enable_two_factor(db, settings, owner)
    member = await create_user(db)
    await enable_two_factor(db, settings, member)
    await add_member(db, account=account, user=member, permissions=EVERY)
    stranger = await create_user(db)
    await create_account(db, owner=stranger)
    owner_browser = await _browser(api, db, settings, owner)
    minted = await owner_browser('mutation { createApiToken(input: {name: "ci"}) { token } }')
    variables = {"accountId": encode_id("ClientAccount", account.id), "on": True}

    by_member = await (await _browser(api, db, settings, member))(REQUIRE, variables)
    by_token = await api.with_token(minted.payload("createApiToken")["token"])(REQUIRE, variables)
    by_stranger = await (await _browser(api, db, settings, stranger))(REQUIRE, variables)

    assert by_member.user_error_codes("updateAccountSecurity") == ["FORBIDDEN"]
    assert by_token.user_error_codes("updateAccountSecurity") == ["FORBIDDEN"]
    assert by_stranger.user_error_codes("updateAccountSecurity") == ["NOT_FOUND"]
    async with db.read() as session:
        assert (await session.get_one(ClientAccount, account.id)).require_two_factor is False


async def test_members_without_two_factor_are_told_when_it_becomes_required(
    api: Api, db: Database, settings: Settings
) -> None:
    owner, account = await _owner(db, settings)
    await enable_two_factor(db, settings, owner)
    without = await create_user(db, email="without@example.com")
    with_it = await create_user(db, email="with@example.com")
    await enable_two_factor(db, settings, with_it)
    for user in (without, with_it):
        await add_member(db, account=account, user=user, permissions=EVERY)
    browser = await _browser(api, db, settings, owner)

    await browser(REQUIRE, {"accountId": encode_id("ClientAccount", account.id), "on": True})

    async with db.read() as session:
        emailed = list(
            await session.scalars(
                select(OutboxEmail.to_address).where(OutboxEmail.template == "two_factor_required")
            )
        )
    assert emailed == ["without@example.com"]


async def test_a_member_without_two_factor_holds_nothing_there_until_they_turn_it_on(
    api: Api, db: Database, settings: Settings
) -> None:
    owner, account = await _owner(db, settings)
    await enable_two_factor(db, settings, owner)
    await create_service(db, account=account)
    domain = await create_domain(db, account=account, name="muster.at")
    member = await create_user(db)
    await add_member(db, account=account, user=member, permissions=EVERY)
    # Elsewhere the member keeps what they have.
    own = await create_account(db, owner=member, name="Own GmbH")
    await create_service(db, account=own)
    await require_two_factor(db, account)
    browser = await _browser(api, db, settings, member)
    minted = await browser('mutation { createApiToken(input: {name: "ci"}) { token } }')
    token = api.with_token(minted.payload("createApiToken")["token"])
    account_id = encode_id("ClientAccount", account.id)
    domain_id = encode_id("Domain", domain.id)

    for client in (browser, token):
        edges = (await client(ACCOUNTS)).data["viewer"]["accounts"]["edges"]
        required = next(e for e in edges if e["node"]["id"] == account_id)
        assert required == {
            "twoFactorRequired": True,
            "permissions": [],
            "node": {"id": account_id, "requireTwoFactor": True, "viewerPermissions": []},
        }
        assert all(not e["twoFactorRequired"] for e in edges if e["node"]["id"] != account_id)
        seen = await client(SERVICES, {"id": account_id})
        assert seen.data["account"] == {"name": "Muster GmbH", "services": None}
        assert [(e["path"], e["extensions"]["code"]) for e in seen.errors] == [
            (["account", "services"], "FORBIDDEN")
        ]
        assert seen.data["viewer"] == {"services": {"totalCount": 1}, "domains": {"totalCount": 0}}
        changed = await client(NAMESERVERS, {"id": domain_id})
        assert changed.user_error_codes("updateDomainNameservers") == ["TWO_FACTOR_REQUIRED"]

    await enable_two_factor(db, settings, member)

    edges = (await browser(ACCOUNTS)).data["viewer"]["accounts"]["edges"]
    assert next(e for e in edges if e["node"]["id"] == account_id)["twoFactorRequired"] is False
    seen = await token(SERVICES, {"id": account_id})
    assert seen.errors == []
    assert seen.data["viewer"]["services"]["totalCount"] == 2
    assert (await token(NAMESERVERS, {"id": domain_id})).user_error_codes("updateDomainNameservers") == []


async def test_a_member_without_two_factor_may_still_leave(
    api: Api, db: Database, settings: Settings
) -> None:
    _, account = await _owner(db, settings)
    member = await create_user(db)
    membership = await add_member(db, account=account, user=member, permissions=EVERY)
    await require_two_factor(db, account)
    browser = await _browser(api, db, settings, member)

    response = await browser(
        "mutation($id: ID!) { removeMember(input: {membershipId: $id}) { userErrors { code } } }",
        {"id": encode_id("Membership", membership.id)},
    )

    assert response.user_error_codes("removeMember") == []


async def test_an_owner_without_two_factor_where_it_is_required_holds_nothing_either(
    api: Api, db: Database, settings: Settings
) -> None:
    # As after an ownership transfer to a member who never turned it on.
    owner, account = await _owner(db, settings)
    member = await add_member(db, account=account, user=await create_user(db), permissions=EVERY)
    await require_two_factor(db, account)
    browser = await _browser(api, db, settings, owner)
    account_id = encode_id("ClientAccount", account.id)

    transfer = await browser(
        "mutation($id: ID!) { transferAccountOwnership(input: {membershipId: $id}) { userErrors { code } } }",
        {"id": encode_id("Membership", member.id)},
    )
    turn_off = await browser(REQUIRE, {"accountId": account_id, "on": False})

    assert transfer.user_error_codes("transferAccountOwnership") == ["TWO_FACTOR_REQUIRED"]
    assert turn_off.user_error_codes("updateAccountSecurity") == ["TWO_FACTOR_REQUIRED"]
    await enable_two_factor(db, settings, owner)
    turned_off = await browser(REQUIRE, {"accountId": account_id, "on": False})
    assert turned_off.payload("updateAccountSecurity")["account"] == {
        "id": account_id,
        "requireTwoFactor": False,
    }
