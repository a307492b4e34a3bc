"""Members: permissions, leaving, removal and ownership transfer, DESIGN permission rules 1-4."""

from __future__ import annotations

from typing import Any

import pytest

from models import ClientAccount, Membership, User
from models.database import Database
from models.permissions import Permission
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from tests.factories import add_member, create_account, create_user, session_for
from tests.graphql import Api

UPDATE = """
mutation Update($id: ID!, $permissions: [Permission!]!) {
  updateMemberPermissions(input: { membershipId: $id, permissions: $permissions }) {
    membership { id role permissions }
    userErrors { field code }
  }
}
"""
REMOVE = """
mutation Remove($id: ID!) {
  removeMember(input: { membershipId: $id }) { removedMembershipId userErrors { field code } }
}
"""
TRANSFER = """
mutation Transfer($id: ID!) {
  transferAccountOwnership(input: { membershipId: $id }) {
    account { id viewerRole viewerPermissions owner { email } }
    userErrors { field code }
  }
}
"""
MEMBERS = """
query Members($id: ID!) {
  account(id: $id) {
    members(first: 100) { totalCount edges { node { id role permissions user { email } } } }
    auditLog(first: 10) { edges { node { action actor { email } subjectId account { id } } } }
  }
}
"""


class Team:
    def __init__(self, account: ClientAccount, owner: User, memberships: dict[str, Membership]) -> None:
        self.account = account
        self.owner = owner
        self.memberships = memberships

    def gid(self, name: str) -> str:
        return encode_id("Membership", self.memberships[name].id)


async def _team(db: Database) -> Team:
    owner = await create_user(db, email="owner@example.com")
    account = await create_account(db, owner=owner)
    manager = await create_user(db, email="manager@example.com")
    worker = await create_user(db, email="worker@example.com")
    from sqlalchemy import select

    async with db.read() as session:
        owner_membership = await session.scalar(select(Membership).where(Membership.account_id == account.id))
    assert owner_membership is not None
    return Team(
        account,
        owner,
        {
            "owner": owner_membership,
            "manager": await add_member(
                db,
                account=account,
                user=manager,
                permissions=[Permission.MANAGE_USERS, Permission.VIEW_SERVICES],
            ),
            "worker": await add_member(
                db, account=account, user=worker, permissions=[Permission.VIEW_INVOICES]
            ),
        },
    )


async def _as(api: Api, db: Database, settings: Settings, email: str) -> Api:
    from sqlalchemy import select

    async with db.read() as session:
        user = await session.scalar(select(User).where(User.email == email))
    assert user is not None
    client = api.new()
    client.set_session(await session_for(db, settings, user))
    return client


def _codes(response: Any, field: str) -> list[str]:
    return [e["code"] for e in response.payload(field)["userErrors"]]


async def test_manage_users_is_delegable_within_what_one_holds(
    api: Api, db: Database, settings: Settings
) -> None:
    team = await _team(db)
    manager = await _as(api, db, settings, "manager@example.com")

    granted = await manager(
        UPDATE, {"id": team.gid("worker"), "permissions": ["VIEW_SERVICES", "VIEW_INVOICES"]}
    )
    escalated = await manager(UPDATE, {"id": team.gid("worker"), "permissions": ["PLACE_ORDERS"]})
    to_self = await manager(
        UPDATE, {"id": team.gid("manager"), "permissions": ["MANAGE_USERS", "PLACE_ORDERS"]}
    )

    assert granted.payload("updateMemberPermissions")["membership"]["permissions"] == [
        "VIEW_SERVICES",
        "VIEW_INVOICES",
    ]
    assert _codes(escalated, "updateMemberPermissions") == ["PERMISSION_ESCALATION"]
    assert _codes(to_self, "updateMemberPermissions") == ["PERMISSION_ESCALATION"]


@pytest.mark.parametrize("actor", ["owner@example.com", "manager@example.com"])
async def test_nobody_changes_or_removes_the_owner(
    api: Api, db: Database, settings: Settings, actor: str
) -> None:
    team = await _team(db)
    client = await _as(api, db, settings, actor)

    changed = await client(UPDATE, {"id": team.gid("owner"), "permissions": []})
    removed = await client(REMOVE, {"id": team.gid("owner")})

    assert _codes(changed, "updateMemberPermissions") == ["OWNER_REQUIRED"]
    assert _codes(removed, "removeMember") == ["OWNER_REQUIRED"]


async def test_without_manage_users_one_may_only_leave(api: Api, db: Database, settings: Settings) -> None:
    team = await _team(db)
    worker = await _as(api, db, settings, "worker@example.com")

    change = await worker(UPDATE, {"id": team.gid("manager"), "permissions": []})
    remove = await worker(REMOVE, {"id": team.gid("manager")})
    leave = await worker(REMOVE, {"id": team.gid("worker")})

    assert _codes(change, "updateMemberPermissions") == ["FORBIDDEN"]
    assert _codes(remove, "removeMember") == ["FORBIDDEN"]
    assert leave.payload("removeMember")["removedMembershipId"] == team.gid("worker")
    after = await worker(MEMBERS, {"id": encode_id("ClientAccount", team.account.id)})
    assert after.data == {"account": None}


async def test_manager_removes_a_member(api: Api, db: Database, settings: Settings) -> None:
    team = await _team(db)
    manager = await _as(api, db, settings, "manager@example.com")

    response = await manager(REMOVE, {"id": team.gid("worker")})

    assert response.payload("removeMember")["removedMembershipId"] == team.gid("worker")
    members = (await manager(MEMBERS, {"id": encode_id("ClientAccount", team.account.id)})).data
    emails = [e["node"]["user"]["email"] for e in members["account"]["members"]["edges"]]
    assert sorted(emails) == ["manager@example.com", "owner@example.com"]
    log = members["account"]["auditLog"]["edges"]
    assert log[0]["node"]["action"] == "membership.removed"
    assert log[0]["node"]["actor"] == {"email": "manager@example.com"}
    assert log[0]["node"]["subjectId"] == team.gid("worker")


async def test_ownership_moves_by_the_owner_only(api: Api, db: Database, settings: Settings) -> None:
    team = await _team(db)
    manager = await _as(api, db, settings, "manager@example.com")
    owner = await _as(api, db, settings, "owner@example.com")

    by_manager = await manager(TRANSFER, {"id": team.gid("manager")})
    by_owner = await owner(TRANSFER, {"id": team.gid("worker")})

    assert _codes(by_manager, "transferAccountOwnership") == ["OWNER_REQUIRED"]
    account = by_owner.payload("transferAccountOwnership")["account"]
    assert account["owner"] == {"email": "worker@example.com"}
    assert account["viewerRole"] == "USER"
    assert len(account["viewerPermissions"]) == 12
    new_owner = await _as(api, db, settings, "worker@example.com")
    members = (await new_owner(MEMBERS, {"id": encode_id("ClientAccount", team.account.id)})).data
    roles = {e["node"]["user"]["email"]: e["node"]["role"] for e in members["account"]["members"]["edges"]}
    assert roles == {
        "owner@example.com": "USER",
        "manager@example.com": "USER",
        "worker@example.com": "OWNER",
    }


async def test_members_of_a_foreign_account_are_not_found(api: Api, db: Database, settings: Settings) -> None:
    team = await _team(db)
    stranger = api.new()
    stranger.set_session(await session_for(db, settings, await create_user(db)))

    cases: list[tuple[str, dict[str, Any], str]] = [
        (UPDATE, {"id": team.gid("worker"), "permissions": []}, "updateMemberPermissions"),
        (REMOVE, {"id": team.gid("worker")}, "removeMember"),
        (TRANSFER, {"id": team.gid("worker")}, "transferAccountOwnership"),
    ]
    for query, variables, field in cases:
        response = await stranger(query, variables)
        assert _codes(response, field) == ["NOT_FOUND"]


async def test_members_and_audit_log_need_manage_users(api: Api, db: Database, settings: Settings) -> None:
    team = await _team(db)
    worker = await _as(api, db, settings, "worker@example.com")

    response = await worker(MEMBERS, {"id": encode_id("ClientAccount", team.account.id)})

    assert response.data == {"account": {"members": None, "auditLog": None}}
    assert sorted(e["path"][-1] for e in response.errors) == ["auditLog", "members"]
    assert {e["extensions"]["code"] for e in response.errors} == {"FORBIDDEN"}
