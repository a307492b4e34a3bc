"""Upgrading a database that has users and invitations from before email verification: who counts
as verified, and which pending invitations lose their inviter's authority (DESIGN rules 13, 15)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from clientarea.migrate import upgrade
from models.base import UTCDateTime, utcnow, uuid7

TIME = UTCDateTime(timezone=True)
USERS = sa.table(
    "users",
    sa.column("id", sa.Uuid()),
    sa.column("email", sa.String()),
    sa.column("name", sa.String()),
    sa.column("created_at", TIME),
)
RESETS = sa.table(
    "password_reset_tokens",
    sa.column("id", sa.Uuid()),
    sa.column("user_id", sa.Uuid()),
    sa.column("token_hash", sa.LargeBinary()),
    sa.column("expires_at", TIME),
    sa.column("used_at", TIME),
    sa.column("created_at", TIME),
)
ACCOUNTS = sa.table(
    "client_accounts",
    *(sa.column(name, sa.String()) for name in ("name", "status", "billing_country_code", "currency_code")),
    *(sa.column(f"billing_{name}", sa.String()) for name in ("first_name", "last_name", "email", "phone")),
    *(sa.column(f"billing_{name}", sa.String()) for name in ("line1", "city", "postal_code")),
    sa.column("id", sa.Uuid()),
    sa.column("created_at", TIME),
)
MEMBERSHIPS = sa.table(
    "memberships",
    sa.column("id", sa.Uuid()),
    sa.column("user_id", sa.Uuid()),
    sa.column("account_id", sa.Uuid()),
    sa.column("role", sa.String()),
    sa.column("permissions", sa.Integer()),
    sa.column("created_at", TIME),
)
INVITATIONS = sa.table(
    "invitations",
    sa.column("id", sa.Uuid()),
    sa.column("account_id", sa.Uuid()),
    sa.column("email", sa.String()),
    sa.column("permissions", sa.Integer()),
    sa.column("invited_by_id", sa.Uuid()),
    sa.column("token_hash", sa.LargeBinary()),
    sa.column("state", sa.String()),
    sa.column("sent_at", TIME),
    sa.column("expires_at", TIME),
    sa.column("created_at", TIME),
)
MANAGE_USERS = 1 << 1
VIEW_SERVICES = 1 << 3


def _user(connection: sa.Connection, email: str) -> uuid.UUID:
    user_id = uuid7()
    connection.execute(USERS.insert().values(id=user_id, email=email, name=email, created_at=utcnow()))
    return user_id


def _invitation(
    connection: sa.Connection, account_id: uuid.UUID, inviter: uuid.UUID, email: str
) -> uuid.UUID:
    invitation_id = uuid7()
    now = utcnow()
    connection.execute(
        INVITATIONS.insert().values(
            id=invitation_id,
            account_id=account_id,
            email=email,
            permissions=VIEW_SERVICES,
            invited_by_id=inviter,
            token_hash=uuid.uuid4().bytes * 2,
            state="PENDING",
            sent_at=now,
            expires_at=now + timedelta(days=7),
            created_at=now,
        )
    )
    return invitation_id


def _seed(connection: sa.Connection) -> dict[str, Any]:
    now = utcnow()
    reset_user, fresh_user = _user(connection, "reset@example.com"), _user(connection, "fresh@example.com")
    used_at = now - timedelta(days=3)
    for used in (used_at, None):
        connection.execute(
            RESETS.insert().values(
                id=uuid7(),
                user_id=reset_user,
                token_hash=uuid.uuid4().bytes * 2,
                expires_at=now,
                used_at=used,
                created_at=now,
            )
        )
    connection.execute(
        RESETS.insert().values(
            id=uuid7(), user_id=fresh_user, token_hash=uuid.uuid4().bytes * 2, expires_at=now, created_at=now
        )
    )
    account_id = uuid7()
    connection.execute(
        ACCOUNTS.insert().values(
            id=account_id,
            name="Muster GmbH",
            status="ACTIVE",
            billing_country_code="AT",
            currency_code="EUR",
            billing_first_name="Erika",
            billing_last_name="Muster",
            billing_email="billing@muster.example",
            billing_phone="+431234567",
            billing_line1="Stephansplatz 1",
            billing_city="Wien",
            billing_postal_code="1010",
            created_at=now,
        )
    )
    owner, manager, demoted, gone = (
        _user(connection, f"{name}@example.com") for name in ("owner", "manager", "demoted", "gone")
    )
    for user_id, role, mask in (
        (owner, "OWNER", 0),
        (manager, "USER", MANAGE_USERS),
        (demoted, "USER", VIEW_SERVICES),
    ):
        connection.execute(
            MEMBERSHIPS.insert().values(
                id=uuid7(),
                user_id=user_id,
                account_id=account_id,
                role=role,
                permissions=mask,
                created_at=now,
            )
        )
    return {
        "reset_user": reset_user,
        "used_at": used_at,
        "fresh_user": fresh_user,
        "kept": [
            _invitation(connection, account_id, owner, "a@example.com"),
            _invitation(connection, account_id, manager, "b@example.com"),
        ],
        "revoked": [
            _invitation(connection, account_id, demoted, "c@example.com"),
            _invitation(connection, account_id, gone, "d@example.com"),
        ],
    }


def test_upgrade_verifies_reset_users_and_revokes_invitations_without_authority(tmp_path: Path) -> None:
    path = tmp_path / "before.db"
    upgrade(f"sqlite+aiosqlite:///{path}", "0005")
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:
            seeded = _seed(connection)

        upgrade(f"sqlite+aiosqlite:///{path}", "head")

        with engine.connect() as connection:
            users = sa.table("users", sa.column("id", sa.Uuid()), sa.column("email_verified_at", TIME))
            verified = dict(connection.execute(sa.select(users.c.id, users.c.email_verified_at)).all())
            invitations = sa.table("invitations", sa.column("id", sa.Uuid()), sa.column("state", sa.String()))
            states = dict(connection.execute(sa.select(invitations.c.id, invitations.c.state)).all())
            audit = sa.table(
                "audit_events", sa.column("action", sa.String()), sa.column("credential", sa.String())
            )
            events = connection.execute(sa.select(audit.c.action, audit.c.credential)).all()
    finally:
        engine.dispose()

    assert verified.pop(seeded["reset_user"]) == seeded["used_at"]
    assert set(verified.values()) == {None}
    assert [states[i] for i in seeded["kept"]] == ["PENDING", "PENDING"]
    assert [states[i] for i in seeded["revoked"]] == ["REVOKED", "REVOKED"]
    assert [tuple(e) for e in events] == [("invitation.revoked", "system")] * 2
