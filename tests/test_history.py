"""People in an account's history: a former member appears by name only (no email) everywhere they
are referenced, exactly as `node` treats them (DESIGN rule 10); a current member appears in full."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update

from models import ClientAccount, User
from models.audit import AuditEvent
from models.base import utcnow
from models.database import Database
from models.hosting import CancellationType, Service
from models.invitations import Invitation, InvitationState
from models.permissions import ALL_PERMISSIONS, to_mask
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from tests.factories import (
    add_member,
    create_account,
    create_invoice,
    create_service,
    create_ticket,
    create_user,
    session_for,
)
from tests.graphql import Api

HISTORY = """
query History($id: ID!) {
  account(id: $id) {
    members(first: 10) { edges { node { user { email } invitedBy { id name email } } } }
    invitations(first: 10) { edges { node { invitedBy { id name email } } } }
    auditLog(first: 10) { edges { node { action actor { id name email } } } }
    services(first: 10) { edges { node { cancellationRequest { requestedBy { id name email } } } } }
    orders(first: 10) { edges { node { placedBy { id name email } } } }
    tickets(first: 10) { edges { node {
      openedBy { id name email }
      messages { author { id name email } }
    } } }
  }
}
"""
NODE = "query($id: ID!) { node(id: $id) { id ... on User { email } } }"
REMOVE = "mutation($i: RemoveMemberInput!) { removeMember(input: $i) { userErrors { code } } }"


class History:
    def __init__(self, owner: User, former: User, invitee: User, account: ClientAccount) -> None:
        self.owner, self.former, self.invitee, self.account = owner, former, invitee, account


async def _history(db: Database) -> History:
    """A member who invited someone, opened a ticket, asked to cancel a service, placed an order and
    left audit events behind."""
    owner = await create_user(db, email="owner@example.com", name="Olga Owner")
    former = await create_user(db, email="former@example.com", name="Fritz Former")
    invitee = await create_user(db, email="invitee@example.com", name="Ida Invitee")
    account = await create_account(db, owner=owner, name="Shop")
    await add_member(db, account=account, user=former, permissions=ALL_PERMISSIONS)
    await add_member(db, account=account, user=invitee, invited_by=former)
    await create_ticket(db, account=account, opened_by=former)
    await create_invoice(db, account=account, placed_by=former)
    service = await create_service(db, account=account)
    async with db.begin() as session:
        await session.execute(
            update(Service)
            .where(Service.id == service.id)
            .values(
                cancellation_type=CancellationType.END_OF_BILLING_PERIOD,
                cancellation_reason="Moving on",
                cancellation_requested_by_id=former.id,
                cancellation_requested_at=utcnow(),
            )
        )
        session.add(
            AuditEvent(
                action="contact.updated", actor_id=former.id, credential="session", account_id=account.id
            )
        )
        session.add(
            Invitation(
                account_id=account.id,
                email="later@example.com",
                permissions=to_mask([]),
                invited_by_id=former.id,
                token_hash=b"x" * 32,
                state=InvitationState.PENDING,
                sent_at=utcnow(),
                expires_at=utcnow() + timedelta(days=7),
            )
        )
    return History(owner, former, invitee, account)


def _people(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every reference to the former member in the history, wherever it appears."""
    account = data["account"]
    found = [e["node"]["invitedBy"] for e in account["members"]["edges"] if e["node"]["invitedBy"]]
    found += [e["node"]["invitedBy"] for e in account["invitations"]["edges"]]
    found += [
        e["node"]["actor"] for e in account["auditLog"]["edges"] if e["node"]["action"] == "contact.updated"
    ]
    found += [e["node"]["cancellationRequest"]["requestedBy"] for e in account["services"]["edges"]]
    found += [e["node"]["placedBy"] for e in account["orders"]["edges"]]
    for edge in account["tickets"]["edges"]:
        found.append(edge["node"]["openedBy"])
        found += [m["author"] for m in edge["node"]["messages"]]
    return found


async def test_a_current_member_appears_in_full(api: Api, db: Database, settings: Settings) -> None:
    history = await _history(db)
    api.set_session(await session_for(db, settings, history.owner))

    response = await api(HISTORY, {"id": encode_id("ClientAccount", history.account.id)})

    people = _people(response.data)
    assert not response.errors
    assert len(people) == 7
    assert all(p == {**p, "name": "Fritz Former", "email": "former@example.com"} for p in people), people


async def test_a_former_member_appears_by_name_only_everywhere(
    api: Api, db: Database, settings: Settings
) -> None:
    history = await _history(db)
    api.set_session(await session_for(db, settings, history.owner))
    membership = await _membership_id(api, history)
    assert (await api(REMOVE, {"i": {"membershipId": membership}})).user_error_codes("removeMember") == []
    former_id = encode_id("User", history.former.id)

    response = await api(HISTORY, {"id": encode_id("ClientAccount", history.account.id)})
    node = await api(NODE, {"id": former_id})

    people = _people(response.data)
    assert not response.errors
    assert len(people) == 7
    assert all(p == {"id": former_id, "name": "Fritz Former", "email": ""} for p in people), people
    assert node.data["node"] is None


async def test_someone_still_sharing_another_account_appears_in_full(
    api: Api, db: Database, settings: Settings
) -> None:
    history = await _history(db)
    elsewhere = await create_account(db, owner=history.owner, name="Elsewhere")
    await add_member(db, account=elsewhere, user=history.former)
    api.set_session(await session_for(db, settings, history.owner))
    membership = await _membership_id(api, history)
    await api(REMOVE, {"i": {"membershipId": membership}})

    response = await api(HISTORY, {"id": encode_id("ClientAccount", history.account.id)})
    node = await api(NODE, {"id": encode_id("User", history.former.id)})

    assert {p["email"] for p in _people(response.data)} == {"former@example.com"}
    assert node.data["node"]["email"] == "former@example.com"


async def _membership_id(api: Api, history: History) -> str:
    response = await api(
        "query($id: ID!) { account(id: $id) { members(first: 10) { edges { node { id user { id } } } } } }",
        {"id": encode_id("ClientAccount", history.account.id)},
    )
    former = encode_id("User", history.former.id)
    edges: list[dict[str, Any]] = response.data["account"]["members"]["edges"]
    return next(str(e["node"]["id"]) for e in edges if e["node"]["user"]["id"] == former)
