"""Concurrent requests: one invitation is accepted once; one email has one pending invitation."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from models import Invitation, Membership
from models.database import Database
from models.permissions import Permission
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from tests.factories import add_member, create_account, create_user, session_for
from tests.graphql import Api
from tests.test_invitations import ACCEPT, INVITE, _last_token


async def test_ten_concurrent_acceptances_make_one_membership(
    api: Api, db: Database, settings: Settings
) -> None:
    owner = await create_user(db)
    account = await create_account(db, owner=owner)
    api.set_session(await session_for(db, settings, owner))
    await api(
        INVITE,
        {
            "input": {
                "accountId": encode_id("ClientAccount", account.id),
                "email": "a@example.com",
                "permissions": [],
            }
        },
    )
    token = await _last_token(db, "a@example.com")
    agency = await create_user(db, email="a@example.com")
    browsers = []
    for _ in range(10):
        browser = api.new()
        browser.set_session(await session_for(db, settings, agency))
        browsers.append(browser)

    responses = await asyncio.gather(*(b(ACCEPT, {"token": token}) for b in browsers))

    codes = sorted(code for r in responses for code in r.user_error_codes("acceptInvitation"))
    accepted = [r for r in responses if r.payload("acceptInvitation")["membership"]]
    assert len(accepted) == 1
    assert codes == ["INVITATION_NOT_PENDING"] * 9
    async with db.read() as session:
        count = await session.scalar(
            select(func.count()).select_from(Membership).where(Membership.user_id == agency.id)
        )
    assert count == 1


async def test_two_concurrent_invitations_of_one_email_leave_one_pending(
    api: Api, db: Database, settings: Settings
) -> None:
    owner = await create_user(db)
    account = await create_account(db, owner=owner)
    variables = {
        "input": {
            "accountId": encode_id("ClientAccount", account.id),
            "email": "a@example.com",
            "permissions": [],
        }
    }
    browsers = []
    for _ in range(2):
        browser = api.new()
        browser.set_session(await session_for(db, settings, owner))
        browsers.append(browser)

    responses = await asyncio.gather(*(b(INVITE, variables) for b in browsers))

    assert all(r.payload("inviteUser")["userErrors"] == [] for r in responses)
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Invitation)) == 1


async def test_acceptances_racing_the_inviters_removal_each_land_on_one_side(
    api: Api, db: Database, settings: Settings
) -> None:
    """An invitation is accepted before its inviter's removal, or revoked by it: never a membership
    from a revoked invitation, never a deadlock."""
    owner = await create_user(db)
    account = await create_account(db, owner=owner)
    inviter = await create_user(db)
    inviter_membership = await add_member(
        db, account=account, user=inviter, permissions=[Permission.MANAGE_USERS]
    )
    inviting = api.new()
    inviting.set_session(await session_for(db, settings, inviter))
    invitees = []
    for number in range(6):
        email = f"invitee{number}@example.com"
        await inviting(
            INVITE,
            {
                "input": {
                    "accountId": encode_id("ClientAccount", account.id),
                    "email": email,
                    "permissions": [],
                }
            },
        )
        browser = api.new()
        browser.set_session(await session_for(db, settings, await create_user(db, email=email)))
        invitees.append((browser, await _last_token(db, email)))
    remover = api.new()
    remover.set_session(await session_for(db, settings, owner))
    removal = remover(
        "mutation($id: ID!) { removeMember(input: {membershipId: $id}) { userErrors { code } } }",
        {"id": encode_id("Membership", inviter_membership.id)},
    )

    responses = await asyncio.gather(removal, *(b(ACCEPT, {"token": t}) for b, t in invitees))

    assert all(r.errors == [] for r in responses)
    assert responses[0].payload("removeMember")["userErrors"] == []
    async with db.read() as session:
        states = [s.value for s in await session.scalars(select(Invitation.state))]
        members = await session.scalar(
            select(func.count()).select_from(Membership).where(Membership.account_id == account.id)
        )
    assert set(states) <= {"ACCEPTED", "REVOKED"}
    assert members == 1 + states.count("ACCEPTED")
