"""Attacks on the identity layer, each played over HTTP as an attacker would: taking an invitation
by registering the invited address, keeping a pre-registered address through its owner's reset,
a restricted token acting outside its restriction, and an invitation outliving its inviter's
authority (DESIGN rules 13-15)."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from models import AuditEvent, Invitation, Membership, OutboxEmail, PasswordResetToken, User
from models.base import utcnow
from models.database import Database
from models.permissions import Permission
from resolvers.core.credentials import digest, hash_password
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from tests.factories import BILLING, add_member, create_account, create_user, session_for
from tests.graphql import Api

PASSWORD = "a long enough passphrase"
SIGN_UP = """
mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) { user { id } account { id } userErrors { code } }
}
"""
INVITE = """
mutation Invite($account: ID!, $email: String!, $permissions: [Permission!]!) {
  inviteUser(input: { accountId: $account, email: $email, permissions: $permissions }) {
    invitation { id } userErrors { code }
  }
}
"""
ACCEPT = """
mutation Accept($id: ID, $token: String) {
  acceptInvitation(input: { invitationId: $id, token: $token }) {
    membership { id permissions account { name viewerRole owner { email } } }
    userErrors { code }
  }
}
"""
SIGN_UP_WITH_INVITATION = """
mutation Join($token: String!) {
  signUpWithInvitation(input: { token: $token, name: "Second Me", password: "a long enough passphrase" }) {
    membership { permissions } userErrors { code }
  }
}
"""
VIEWER = """
{ viewer { user { email } pendingInvitations { id } apiTokens { id }
           accounts { totalCount edges { node { name } permissions } } } }
"""
MINT = """
mutation Mint($input: CreateApiTokenInput!) {
  createApiToken(input: $input) { token apiToken { id } userErrors { code } }
}
"""
REVOKE = """
mutation Revoke($id: ID!) {
  revokeApiToken(input: { apiTokenId: $id }) { apiToken { id } userErrors { code } }
}
"""
RESET = """
mutation Reset($token: String!) {
  resetPassword(input: { token: $token, password: "the owner's own passphrase" }) {
    user { email } userErrors { code }
  }
}
"""
REMOVE = """
mutation Remove($id: ID!) {
  removeMember(input: { membershipId: $id }) { removedMembershipId userErrors { code } }
}
"""
UPDATE_PERMISSIONS = """
mutation Update($id: ID!, $permissions: [Permission!]!) {
  updateMemberPermissions(input: { membershipId: $id, permissions: $permissions }) {
    membership { permissions } userErrors { code }
  }
}
"""
CREATE_ACCOUNT = """
mutation Create($input: CreateClientAccountInput!) {
  createClientAccount(input: $input) { account { id } userErrors { code } }
}
"""
ON_BEHALF = """
mutation OnBehalf($input: CreateClientAccountOnBehalfInput!) {
  createClientAccountOnBehalf(input: $input) { account { id } userErrors { code } }
}
"""
VERIFIED = "{ viewer { emailVerified } }"
NODE = "query($id: ID!) { node(id: $id) { id } }"
REQUEST_VERIFICATION = "mutation { requestEmailVerification { ok userErrors { code } } }"


async def _sign_up(api: Api, email: str, account: str) -> tuple[Api, dict[str, Any]]:
    browser = api.new()
    response = await browser(
        SIGN_UP,
        {
            "input": {
                "email": email,
                "name": account + " owner",
                "password": PASSWORD,
                "accountName": account,
                "billingProfile": BILLING,
            }
        },
    )
    payload = response.payload("signUp")
    assert payload["userErrors"] == []
    return browser, payload


async def _link(db: Database, to: str, path: str) -> str:
    """The token of the newest emailed `path?token=…` link to `to`, read as its recipient would."""
    async with db.read() as session:
        bodies = list(
            await session.scalars(
                select(OutboxEmail.text_body)
                .where(OutboxEmail.to_address == to)
                .order_by(OutboxEmail.id.desc())
            )
        )
    for body in bodies:
        match = re.search(re.escape(path) + r"\?token=([A-Za-z0-9_-]+)", body)
        if match:
            return match.group(1)
    raise AssertionError(f"no {path} link mailed to {to}")


async def _reset_link(db: Database, email: str) -> str:
    """The secret of a password-reset link mailed to `email`. Issued directly: how and when
    requestPasswordReset issues one is not what these attacks are about, using it is."""
    secret = secrets.token_urlsafe(32)
    async with db.begin() as session:
        user_id = await session.scalar(select(User.id).where(User.email == email))
        assert user_id is not None
        session.add(
            PasswordResetToken(
                user_id=user_id, token_hash=digest(secret), expires_at=utcnow() + timedelta(hours=1)
            )
        )
    return secret


async def _members_of(db: Database, account_id: Any) -> int:
    async with db.read() as session:
        return (
            await session.scalar(
                select(func.count()).select_from(Membership).where(Membership.account_id == account_id)
            )
            or 0
        )


# --- 1. taking an invitation by registering the invited address ------------------------------


async def test_registering_the_invited_address_does_not_reach_the_invitation(api: Api, db: Database) -> None:
    owner, signed_up = await _sign_up(api, "owner@muster.example", "Muster GmbH")
    account_id = signed_up["account"]["id"]
    invited = await owner(
        INVITE, {"account": account_id, "email": "bob@example.com", "permissions": ["VIEW_INVOICES"]}
    )
    invitation_id = invited.payload("inviteUser")["invitation"]["id"]

    # Someone who never reads bob's mail registers his address.
    attacker, _ = await _sign_up(api, "bob@example.com", "Not Bob Ltd")
    seen = (await attacker(VIEWER)).data["viewer"]
    accepted = await attacker(ACCEPT, {"id": invitation_id})
    looked_up = await attacker(NODE, {"id": invitation_id})

    assert seen["pendingInvitations"] == []
    assert looked_up.data == {"node": None}
    assert accepted.payload("acceptInvitation")["membership"] is None
    assert accepted.user_error_codes("acceptInvitation") == ["EMAIL_NOT_VERIFIED"]
    accounts = (await attacker(VIEWER)).data["viewer"]["accounts"]
    assert [e["node"]["name"] for e in accounts["edges"]] == ["Not Bob Ltd"]
    assert (await attacker(VERIFIED)).data["viewer"]["emailVerified"] is False


async def test_the_invited_address_proven_by_its_link_sees_and_accepts(api: Api, db: Database) -> None:
    owner, signed_up = await _sign_up(api, "owner@muster.example", "Muster GmbH")
    bob, _ = await _sign_up(api, "bob@example.com", "Bob's Own")
    await owner(
        INVITE,
        {"account": signed_up["account"]["id"], "email": "bob@example.com", "permissions": ["VIEW_INVOICES"]},
    )
    assert (await bob(VIEWER)).data["viewer"]["pendingInvitations"] == []

    verified = await api.new()(
        "mutation($t: String!) { verifyEmail(input: {token: $t}) { user { email } userErrors { code } } }",
        {"t": await _link(db, "bob@example.com", "/email/verify")},
    )
    pending = (await bob(VIEWER)).data["viewer"]["pendingInvitations"]
    accepted = await bob(ACCEPT, {"id": pending[0]["id"]})

    assert verified.payload("verifyEmail") == {"user": {"email": "bob@example.com"}, "userErrors": []}
    assert accepted.payload("acceptInvitation")["membership"]["permissions"] == ["VIEW_INVOICES"]


# --- 2. a pre-registered address survives its owner's password reset ------------------------


async def test_the_owners_reset_ends_everything_the_squatter_held(api: Api, db: Database) -> None:
    squatter, _ = await _sign_up(api, "victim@example.com", "Squatter's Shell")
    minted = await squatter(MINT, {"input": {"name": "all accounts, forever"}})

    # The owner of the mailbox cannot sign up, so they reset the password from the emailed link.
    owner = api.new()
    reset = await owner(RESET, {"token": await _reset_link(db, "victim@example.com")})

    assert minted.payload("createApiToken")["token"] is None
    assert minted.user_error_codes("createApiToken") == ["EMAIL_NOT_VERIFIED"]
    assert reset.payload("resetPassword") == {"user": {"email": "victim@example.com"}, "userErrors": []}
    assert (await squatter(VIEWER)).data["viewer"] is None
    assert (await owner(VERIFIED)).data["viewer"]["emailVerified"] is True


async def test_a_reset_ends_every_api_token_and_session_audited(
    api: Api, db: Database, settings: Settings
) -> None:
    user = await create_user(
        db, email="erika@muster.example", password_hash=await hash_password(settings, PASSWORD)
    )
    await create_account(db, owner=user)
    browser, other_browser = api.new(), api.new()
    browser.set_session(await session_for(db, settings, user))
    other_browser.set_session(await session_for(db, settings, user))
    wide = (await browser(MINT, {"input": {"name": "wide"}})).payload("createApiToken")
    narrow = (await browser(MINT, {"input": {"name": "narrow", "permissions": ["VIEW_SERVICES"]}})).payload(
        "createApiToken"
    )
    assert (await api.new().with_token(wide["token"])(VIEWER)).http.status_code == 200

    reset = await api.new()(
        RESET, {"token": await _reset_link(db, "erika@muster.example")}, x_request_id="password-reset-1"
    )

    assert reset.payload("resetPassword")["userErrors"] == []
    for secret in (wide["token"], narrow["token"]):
        refused = await api.new().with_token(secret)(VIEWER)
        assert refused.http.status_code == 401
        assert refused.codes == ["UNAUTHENTICATED"]
    assert (await browser(VIEWER)).data["viewer"] is None
    assert (await other_browser(VIEWER)).data["viewer"] is None
    async with db.read() as session:
        actions = list(
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.request_id == "password-reset-1")
            )
        )
    assert actions.count("api_token.revoked") == 2
    assert "user.sessions_ended" in actions


# --- 6. a restricted token acting outside its restriction -----------------------------------


async def _restricted_token(api: Api, db: Database, settings: Settings) -> dict[str, Any]:
    """An agency user verified, with its own account, membership in a customer's account, a wide
    token, a token restricted to the own account and VIEW_SERVICES, and an invitation (link and
    ID) into a third account."""
    agency = await create_user(
        db, email="agency@example.com", password_hash=await hash_password(settings, PASSWORD)
    )
    own = await create_account(db, owner=agency, name="Agency")
    customer_owner = await create_user(db, email="customer@example.com")
    customer = await create_account(db, owner=customer_owner, name="Customer")
    membership = await add_member(db, account=customer, user=agency, permissions=[Permission.VIEW_SERVICES])
    browser = api.new()
    browser.set_session(await session_for(db, settings, agency))
    wide = (await browser(MINT, {"input": {"name": "wide"}})).payload("createApiToken")
    narrow = (
        await browser(
            MINT,
            {
                "input": {
                    "name": "narrow",
                    "accountIds": [encode_id("ClientAccount", own.id)],
                    "permissions": ["VIEW_SERVICES"],
                }
            },
        )
    ).payload("createApiToken")
    inviter = await create_user(db, email="third@example.com")
    third = await create_account(db, owner=inviter, name="Third Party AG")
    inviting = api.new()
    inviting.set_session(await session_for(db, settings, inviter))
    invitation_id = (
        await inviting(
            INVITE,
            {
                "account": encode_id("ClientAccount", third.id),
                "email": "agency@example.com",
                "permissions": ["MANAGE_USERS"],
            },
        )
    ).payload("inviteUser")["invitation"]["id"]
    return {
        "token": api.new().with_token(narrow["token"]),
        "narrow": narrow,
        "wide": wide,
        "membership": encode_id("Membership", membership.id),
        "invitation": invitation_id,
        "invitation_link": await _link(db, "agency@example.com", "/invitations/accept"),
        "third": third,
    }


async def test_a_restricted_token_cannot_join_other_accounts(
    api: Api, db: Database, settings: Settings
) -> None:
    world = await _restricted_token(api, db, settings)
    token: Api = world["token"]

    by_id = await token(ACCEPT, {"id": world["invitation"]})
    by_link = await token(ACCEPT, {"token": world["invitation_link"]})
    seen = (await token(VIEWER)).data["viewer"]

    for response in (by_id, by_link):
        assert response.errors == []
        assert response.user_error_codes("acceptInvitation") == ["FORBIDDEN"]
        assert response.payload("acceptInvitation")["membership"] is None
        assert "Third Party AG" not in response.http.text
    assert seen["pendingInvitations"] == []
    assert await _members_of(db, world["third"].id) == 1


async def test_a_restricted_token_creates_no_accounts_and_registers_nobody(
    api: Api, db: Database, settings: Settings
) -> None:
    world = await _restricted_token(api, db, settings)
    token: Api = world["token"]

    own = await token(CREATE_ACCOUNT, {"input": {"name": "Sneaky", "billingProfile": BILLING}})
    on_behalf = await token(
        ON_BEHALF,
        {
            "input": {
                "owner": {"email": "stranger@example.com", "name": "Stranger"},
                "name": "Stranger KG",
                "billingProfile": BILLING,
                "permissions": ["VIEW_SERVICES"],
                "powerOfAttorney": True,
            }
        },
    )

    assert own.user_error_codes("createClientAccount") == ["FORBIDDEN"]
    assert on_behalf.user_error_codes("createClientAccountOnBehalf") == ["FORBIDDEN"]
    async with db.read() as session:
        assert await session.scalar(select(User.id).where(User.email == "stranger@example.com")) is None
        mailed = await session.scalar(
            select(func.count())
            .select_from(OutboxEmail)
            .where(OutboxEmail.to_address == "stranger@example.com")
        )
    assert mailed == 0


async def test_a_restricted_token_cannot_leave_or_touch_other_tokens(
    api: Api, db: Database, settings: Settings
) -> None:
    world = await _restricted_token(api, db, settings)
    token: Api = world["token"]

    leave = await token(REMOVE, {"id": world["membership"]})
    listed = (await token(VIEWER)).data["viewer"]["apiTokens"]
    revoke_wide = await token(REVOKE, {"id": world["wide"]["apiToken"]["id"]})
    verification = await token(REQUEST_VERIFICATION)
    wide_node = await token(NODE, {"id": world["wide"]["apiToken"]["id"]})
    own_node = await token(NODE, {"id": world["narrow"]["apiToken"]["id"]})

    assert leave.user_error_codes("removeMember") == ["FORBIDDEN"]
    assert listed == [{"id": world["narrow"]["apiToken"]["id"]}]
    assert revoke_wide.user_error_codes("revokeApiToken") == ["FORBIDDEN"]
    assert verification.user_error_codes("requestEmailVerification") == ["FORBIDDEN"]
    assert wide_node.data == {"node": None}
    assert own_node.data == {"node": {"id": world["narrow"]["apiToken"]["id"]}}
    assert (await api.new().with_token(world["wide"]["token"])(VIEWER)).http.status_code == 200
    customer = (await api.new().with_token(world["wide"]["token"])(VIEWER)).data["viewer"]["accounts"]
    assert customer["totalCount"] == 2
    revoke_itself = await token(REVOKE, {"id": world["narrow"]["apiToken"]["id"]})
    assert revoke_itself.payload("revokeApiToken")["userErrors"] == []
    assert (await token(VIEWER)).http.status_code == 401


# --- 7. invitations outliving their inviter's authority -------------------------------------


async def _team(api: Api, db: Database, settings: Settings) -> dict[str, Any]:
    """An owner's account with a member holding MANAGE_USERS, VIEW_SERVICES and PLACE_ORDERS."""
    owner = await create_user(db, email="owner@muster.example")
    account = await create_account(db, owner=owner, name="Muster GmbH")
    member = await create_user(db, email="mallory@example.com")
    membership = await add_member(
        db,
        account=account,
        user=member,
        permissions=[Permission.MANAGE_USERS, Permission.VIEW_SERVICES, Permission.PLACE_ORDERS],
    )
    owner_browser, member_browser = api.new(), api.new()
    owner_browser.set_session(await session_for(db, settings, owner))
    member_browser.set_session(await session_for(db, settings, member))
    return {
        "account": account,
        "account_id": encode_id("ClientAccount", account.id),
        "owner": owner_browser,
        "member": member_browser,
        "membership": encode_id("Membership", membership.id),
    }


async def test_a_removed_member_does_not_come_back_through_their_own_invitation(
    api: Api, db: Database, settings: Settings
) -> None:
    team = await _team(api, db, settings)
    await team["member"](
        INVITE,
        {
            "account": team["account_id"],
            "email": "mallory.second@example.com",
            "permissions": ["MANAGE_USERS"],
        },
    )
    link = await _link(db, "mallory.second@example.com", "/invitations/accept")

    removed = await team["owner"](REMOVE, {"id": team["membership"]}, x_request_id="remove-1")
    back = await api.new()(SIGN_UP_WITH_INVITATION, {"token": link})

    assert removed.payload("removeMember")["userErrors"] == []
    assert back.user_error_codes("signUpWithInvitation") == ["INVITATION_NOT_PENDING"]
    assert await _members_of(db, team["account"].id) == 1
    async with db.read() as session:
        actions = list(
            await session.scalars(select(AuditEvent.action).where(AuditEvent.request_id == "remove-1"))
        )
    assert sorted(actions) == ["invitation.revoked", "membership.removed"]


async def test_taking_manage_users_revokes_the_members_invitations(
    api: Api, db: Database, settings: Settings
) -> None:
    team = await _team(api, db, settings)
    await team["member"](
        INVITE,
        {"account": team["account_id"], "email": "friend@example.com", "permissions": ["VIEW_SERVICES"]},
    )
    link = await _link(db, "friend@example.com", "/invitations/accept")

    await team["owner"](UPDATE_PERMISSIONS, {"id": team["membership"], "permissions": ["VIEW_SERVICES"]})
    joined = await api.new()(SIGN_UP_WITH_INVITATION, {"token": link})

    assert joined.user_error_codes("signUpWithInvitation") == ["INVITATION_NOT_PENDING"]
    async with db.read() as session:
        states = list(await session.scalars(select(Invitation.state)))
    assert [s.value for s in states] == ["REVOKED"]


async def test_an_invitation_grants_at_most_what_its_inviter_still_holds(
    api: Api, db: Database, settings: Settings
) -> None:
    team = await _team(api, db, settings)
    await team["member"](
        INVITE,
        {
            "account": team["account_id"],
            "email": "friend@example.com",
            "permissions": ["VIEW_SERVICES", "PLACE_ORDERS"],
        },
    )
    link = await _link(db, "friend@example.com", "/invitations/accept")

    # The member keeps MANAGE_USERS (their invitation stands) but loses PLACE_ORDERS.
    await team["owner"](
        UPDATE_PERMISSIONS, {"id": team["membership"], "permissions": ["MANAGE_USERS", "VIEW_SERVICES"]}
    )
    joined = await api.new()(SIGN_UP_WITH_INVITATION, {"token": link})

    assert joined.payload("signUpWithInvitation") == {
        "membership": {"permissions": ["VIEW_SERVICES"]},
        "userErrors": [],
    }
