"""Invitations: an account invites a person by email; they accept, or sign up to accept."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from models import ClientAccount, Invitation, OutboxEmail
from models.base import utcnow
from models.database import Database
from models.permissions import Permission
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from tests.factories import add_member, create_account, create_user, session_for
from tests.graphql import Api

INVITE = """
mutation InviteUser($input: InviteUserInput!) {
  inviteUser(input: $input) {
    invitation { id email permissions status expiresAt }
    userErrors { field message code }
  }
}
"""
PREVIEW = """
query InvitationPreview($token: String!) {
  invitation(token: $token) { accountName inviterName email permissions status expiresAt emailRegistered }
}
"""
ACCEPT = """
mutation AcceptInvitation($token: String, $invitationId: ID) {
  acceptInvitation(input: { token: $token, invitationId: $invitationId }) {
    membership { id role permissions account { id name } }
    userErrors { field message code }
  }
}
"""
SIGN_UP = """
mutation SignUpWithInvitation($input: SignUpWithInvitationInput!) {
  signUpWithInvitation(input: $input) {
    user { id email }
    membership { id role permissions account { id name } }
    userErrors { field message code }
  }
}
"""
REVOKE = """
mutation RevokeInvitation($id: ID!) {
  revokeInvitation(input: { invitationId: $id }) { invitation { id status } userErrors { code } }
}
"""
PENDING = """
{ viewer { pendingInvitations { id email permissions accountName account { id } invitedBy { name } } } }
"""
MEMBERS = """
query AccountMembers($id: ID!) {
  account(id: $id) {
    members(first: 100) { totalCount edges { node { role permissions user { email } invitedBy { name } } } }
    invitations(first: 100, status: PENDING) { totalCount edges { node { email status } } }
  }
}
"""


async def _owner(api: Api, db: Database, settings: Settings) -> ClientAccount:
    owner = await create_user(db, email="client@example.com", name="Client Owner")
    account = await create_account(db, owner=owner, name="Client GmbH")
    api.set_session(await session_for(db, settings, owner))
    return account


def _gid(account: ClientAccount) -> str:
    return encode_id("ClientAccount", account.id)


async def _invite(api: Api, account: ClientAccount, email: str, permissions: list[str]) -> Any:
    return await api(
        INVITE, {"input": {"accountId": _gid(account), "email": email, "permissions": permissions}}
    )


async def _last_token(db: Database, email: str) -> str:
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


async def test_invitation_is_emailed_and_previewed(api: Api, db: Database, settings: Settings) -> None:
    account = await _owner(api, db, settings)

    response = await _invite(api, account, "Agency@Example.com", ["VIEW_SERVICES", "PLACE_ORDERS"])

    invitation = response.payload("inviteUser")["invitation"]
    assert invitation["email"] == "agency@example.com"
    assert invitation["status"] == "PENDING"
    assert invitation["permissions"] == ["VIEW_SERVICES", "PLACE_ORDERS"]
    token = await _last_token(db, "agency@example.com")
    async with db.read() as session:
        mail = await session.scalar(select(OutboxEmail))
        stored = await session.scalar(select(Invitation.token_hash))
    assert mail is not None
    assert mail.subject == "Client Owner lädt Sie zu Client GmbH ein"
    assert f"{settings.public_url}/invitations/accept?token={token}" in mail.html_body
    assert stored is not None
    assert token.encode() not in stored

    preview = (await api.new()(PREVIEW, {"token": token})).data["invitation"]
    assert preview["accountName"] == "Client GmbH"
    assert preview["inviterName"] == "Client Owner"
    assert preview["emailRegistered"] is False
    assert (await api.new()(PREVIEW, {"token": "unknown"})).data == {"invitation": None}


async def test_agency_without_user_signs_up_with_the_invitation(
    api: Api, db: Database, settings: Settings
) -> None:
    account = await _owner(api, db, settings)
    await _invite(api, account, "agency@example.com", ["VIEW_SERVICES"])
    token = await _last_token(db, "agency@example.com")
    agency = api.new()

    response = await agency(
        SIGN_UP, {"input": {"token": token, "name": "Web Agency", "password": "agency passphrase 1"}}
    )

    payload = response.payload("signUpWithInvitation")
    assert payload["user"]["email"] == "agency@example.com"
    assert payload["membership"]["role"] == "USER"
    assert payload["membership"]["permissions"] == ["VIEW_SERVICES"]
    assert payload["membership"]["account"]["name"] == "Client GmbH"
    accounts = (await agency("{ viewer { accounts { edges { role node { name } } } } }")).data
    assert accounts["viewer"]["accounts"]["edges"] == [{"role": "USER", "node": {"name": "Client GmbH"}}]
    again = await api.new()(
        SIGN_UP, {"input": {"token": token, "name": "X", "password": "agency passphrase 1"}}
    )
    assert again.user_error_codes("signUpWithInvitation") == ["INVITATION_NOT_PENDING"]


async def test_existing_user_accepts_by_token_or_from_pending_invitations(
    api: Api, db: Database, settings: Settings
) -> None:
    first = await _owner(api, db, settings)
    second_owner = await create_user(db, name="Other Owner")
    second = await create_account(db, owner=second_owner, name="Second")
    other_owner = api.new()
    other_owner.set_session(await session_for(db, settings, second_owner))
    agency_user = await create_user(db, email="agency@example.com")
    agency = api.new()
    agency.set_session(await session_for(db, settings, agency_user))
    await _invite(api, first, "agency@example.com", ["VIEW_DOMAINS"])
    first_token = await _last_token(db, "agency@example.com")
    await _invite(other_owner, second, "agency@example.com", ["SUPPORT_TICKETS"])

    pending = (await agency(PENDING)).data["viewer"]["pendingInvitations"]
    assert {p["accountName"] for p in pending} == {"Client GmbH", "Second"}
    assert all(p["account"] is None for p in pending)
    by_id = next(p for p in pending if p["accountName"] == "Second")
    accepted_by_id = await agency(ACCEPT, {"invitationId": by_id["id"]})
    accepted_by_token = await agency(ACCEPT, {"token": first_token})

    assert accepted_by_id.payload("acceptInvitation")["membership"]["permissions"] == ["SUPPORT_TICKETS"]
    assert accepted_by_token.payload("acceptInvitation")["membership"]["account"]["name"] == "Client GmbH"
    assert (await agency(PENDING)).data["viewer"]["pendingInvitations"] == []
    edges = (await agency("{ viewer { accounts { totalCount } } }")).data["viewer"]["accounts"]
    assert edges["totalCount"] == 2


async def test_another_signed_in_user_cannot_accept_and_the_invitation_stays_pending(
    api: Api, db: Database, settings: Settings
) -> None:
    account = await _owner(api, db, settings)
    await _invite(api, account, "agency@example.com", [])
    token = await _last_token(db, "agency@example.com")
    mallory = api.new()
    mallory.set_session(await session_for(db, settings, await create_user(db, email="m@example.com")))

    by_token = await mallory(ACCEPT, {"token": token})
    pending = (await api(MEMBERS, {"id": _gid(account)})).data["account"]["invitations"]

    assert by_token.user_error_codes("acceptInvitation") == ["INVITATION_EMAIL_MISMATCH"]
    assert pending["totalCount"] == 1
    invitation_id = (
        await api(
            INVITE.replace("inviteUser", "inviteUser"),
            {"input": {"accountId": _gid(account), "email": "agency@example.com", "permissions": []}},
        )
    ).payload("inviteUser")["invitation"]["id"]
    by_id = await mallory(ACCEPT, {"invitationId": invitation_id})
    assert by_id.user_error_codes("acceptInvitation") == ["NOT_FOUND"]


async def test_expired_invitation_reads_expired_and_cannot_be_accepted(
    api: Api, db: Database, settings: Settings
) -> None:
    account = await _owner(api, db, settings)
    await _invite(api, account, "agency@example.com", [])
    token = await _last_token(db, "agency@example.com")
    async with db.begin() as session:
        await session.execute(update(Invitation).values(expires_at=utcnow() - timedelta(minutes=1)))
    agency = api.new()
    agency.set_session(await session_for(db, settings, await create_user(db, email="agency@example.com")))

    response = await agency(ACCEPT, {"token": token})
    preview = (await api.new()(PREVIEW, {"token": token})).data["invitation"]

    assert response.user_error_codes("acceptInvitation") == ["INVITATION_EXPIRED"]
    assert preview["status"] == "EXPIRED"


async def test_inviting_again_renews_instead_of_duplicating(
    api: Api, db: Database, settings: Settings
) -> None:
    account = await _owner(api, db, settings)
    await _invite(api, account, "agency@example.com", ["VIEW_SERVICES"])
    old_token = await _last_token(db, "agency@example.com")

    renewed = await _invite(api, account, "agency@example.com", ["VIEW_DOMAINS"])

    assert renewed.payload("inviteUser")["invitation"]["permissions"] == ["VIEW_DOMAINS"]
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Invitation)) == 1
        assert await session.scalar(select(func.count()).select_from(OutboxEmail)) == 2
    # The old link is dead; the new one works.
    assert (await api.new()(PREVIEW, {"token": old_token})).data == {"invitation": None}
    new_token = await _last_token(db, "agency@example.com")
    assert (await api.new()(PREVIEW, {"token": new_token})).data["invitation"]["permissions"] == [
        "VIEW_DOMAINS"
    ]


async def test_inviting_a_member_is_already_member(api: Api, db: Database, settings: Settings) -> None:
    account = await _owner(api, db, settings)
    member = await create_user(db, email="member@example.com")
    await add_member(db, account=account, user=member)

    response = await _invite(api, account, "MEMBER@example.com", [])

    assert response.user_error_codes("inviteUser") == ["ALREADY_MEMBER"]


async def test_granting_what_you_do_not_hold_is_escalation(
    api: Api, db: Database, settings: Settings
) -> None:
    account = await create_account(db, owner=await create_user(db))
    manager = await create_user(db)
    await add_member(
        db, account=account, user=manager, permissions=[Permission.MANAGE_USERS, Permission.VIEW_SERVICES]
    )
    api.set_session(await session_for(db, settings, manager))

    allowed = await _invite(api, account, "a@example.com", ["MANAGE_USERS", "VIEW_SERVICES"])
    escalated = await _invite(api, account, "b@example.com", ["VIEW_INVOICES"])

    assert allowed.payload("inviteUser")["userErrors"] == []
    assert escalated.user_error_codes("inviteUser") == ["PERMISSION_ESCALATION"]


async def test_inviting_needs_manage_users_and_a_foreign_account_is_not_found(
    api: Api, db: Database, settings: Settings
) -> None:
    account = await create_account(db, owner=await create_user(db))
    member = await create_user(db)
    await add_member(db, account=account, user=member, permissions=[Permission.VIEW_SERVICES])
    foreign = await create_account(db, owner=await create_user(db))
    api.set_session(await session_for(db, settings, member))

    forbidden = await _invite(api, account, "x@example.com", [])
    missing = await _invite(api, foreign, "x@example.com", [])

    assert forbidden.user_error_codes("inviteUser") == ["FORBIDDEN"]
    assert missing.user_error_codes("inviteUser") == ["NOT_FOUND"]
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxEmail)) == 0


async def test_revoked_invitation_cannot_be_accepted(api: Api, db: Database, settings: Settings) -> None:
    account = await _owner(api, db, settings)
    invitation = (await _invite(api, account, "agency@example.com", [])).payload("inviteUser")["invitation"]
    token = await _last_token(db, "agency@example.com")

    revoked = await api(REVOKE, {"id": invitation["id"]})
    again = await api(REVOKE, {"id": invitation["id"]})
    agency = api.new()
    agency.set_session(await session_for(db, settings, await create_user(db, email="agency@example.com")))
    accepted = await agency(ACCEPT, {"token": token})

    assert revoked.payload("revokeInvitation")["invitation"]["status"] == "REVOKED"
    assert again.user_error_codes("revokeInvitation") == ["INVITATION_NOT_PENDING"]
    assert accepted.user_error_codes("acceptInvitation") == ["INVITATION_NOT_PENDING"]


async def test_invitations_are_rate_limited_per_actor(api: Api, db: Database, settings: Settings) -> None:
    account = await _owner(api, db, settings)
    for index in range(20):
        response = await _invite(api, account, f"p{index}@example.com", [])
        assert response.payload("inviteUser")["userErrors"] == []

    limited = await _invite(api, account, "one-more@example.com", [])

    assert limited.user_error_codes("inviteUser") == ["RATE_LIMITED"]
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxEmail)) == 20
